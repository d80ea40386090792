//! A real S3 server for tests: moto's standalone server (PyPI `moto[server]`) on a free
//! loopback port. With authentication on, it checks AWS Signature V4 and IAM like S3 does: an
//! IAM user is made through its first unauthenticated calls, and only that user's keys work.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::orthanc::free_port;
use super::real_part_available;

pub struct Moto {
    child: Child,
    pub port: u16,
    /// The IAM user's keys, when authentication is on.
    pub keys: Option<(String, String)>,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn available() -> bool {
    let moto = Command::new("python3")
        .args(["-c", "import moto.server, boto3, flask"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    real_part_available(
        "moto's S3 server and boto3 (pip install 'moto[server]')",
        moto,
    )
}

/// Runs a Python snippet with boto3 against `endpoint`; its standard output.
pub fn boto3(endpoint: &str, keys: (&str, &str), script: &str) -> String {
    let program = format!(
        "import boto3, sys\n\
         def client(service):\n    return boto3.client(service, endpoint_url='{endpoint}', region_name='us-east-1', aws_access_key_id='{}', aws_secret_access_key='{}')\n\
         {script}\n",
        keys.0, keys.1
    );
    let out = Command::new("python3")
        .args(["-c", &program])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "boto3: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

impl Moto {
    /// moto on a free port; with `auth`, only the keys of the IAM user it makes work.
    pub fn start(dir: &Path, auth: bool) -> Moto {
        let port = free_port();
        let log = std::fs::File::create(dir.join(format!("moto-{port}.log"))).unwrap();
        let mut cmd = Command::new("python3");
        cmd.args([
            "-m",
            "moto.server",
            "-H",
            "127.0.0.1",
            "-p",
            &port.to_string(),
        ])
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log));
        if auth {
            // The first three calls (make a user, its key, its policy) need no signature.
            cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", "3");
        }
        let child = cmd.spawn().unwrap();
        let mut moto = Moto {
            child,
            port,
            keys: None,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "moto did not listen on {port}");
            std::thread::sleep(Duration::from_millis(100));
        }
        if auth {
            // The first calls need no signature (INITIAL_NO_AUTH_ACTION_COUNT).
            moto.keys = Some(moto.user(("unused", "unused"), "korthbox", "\"*\""));
        }
        moto
    }

    /// An IAM user allowed `actions` (a JSON string or list) on every resource, made with
    /// `keys`: its access key id and secret.
    pub fn user(&self, keys: (&str, &str), name: &str, actions: &str) -> (String, String) {
        let policy = format!(
            "{{\"Version\": \"2012-10-17\", \"Statement\": [{{\"Effect\": \"Allow\", \"Action\": {actions}, \"Resource\": \"*\"}}]}}"
        );
        let out = boto3(
            &self.endpoint(),
            keys,
            &format!(
                "iam = client('iam')\n\
                 iam.create_user(UserName='{name}')\n\
                 key = iam.create_access_key(UserName='{name}')['AccessKey']\n\
                 iam.put_user_policy(UserName='{name}', PolicyName='p', PolicyDocument='{policy}')\n\
                 print(key['AccessKeyId'], key['SecretAccessKey'])"
            ),
        );
        let mut words = out.split_whitespace();
        (
            words.next().unwrap().to_string(),
            words.next().unwrap().to_string(),
        )
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The object keys of `bucket`, listed with boto3 (not with korthbox's client).
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        let (id, secret) = self.keys.clone().unwrap_or(("x".into(), "y".into()));
        let out = boto3(
            &self.endpoint(),
            (&id, &secret),
            &format!(
                "for o in client('s3').list_objects_v2(Bucket='{bucket}').get('Contents', []):\n    print(o['Key'])"
            ),
        );
        out.lines().map(String::from).collect()
    }

    /// Puts an object with boto3.
    pub fn put(&self, bucket: &str, key: &str, body: &str) {
        let (id, secret) = self.keys.clone().unwrap_or(("x".into(), "y".into()));
        boto3(
            &self.endpoint(),
            (&id, &secret),
            &format!("client('s3').put_object(Bucket='{bucket}', Key='{key}', Body=b'{body}')"),
        );
    }
}

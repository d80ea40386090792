//! korthbox's S3 client against a real S3 server (moto, with Signature V4 and IAM checks on):
//! the bucket is made once and found the second time, objects others put are listed, and
//! wrong credentials are refused with an error that says so.

mod support;

use std::time::Duration;

use korthbox::host::s3::{Made, S3};
use support::Sandbox;
use support::s3::{Moto, available};

fn client(moto: &Moto, bucket: &str, keys: (&str, &str)) -> S3 {
    S3::new(
        &moto.endpoint(),
        bucket,
        keys.0,
        keys.1,
        Duration::from_secs(20),
    )
    .unwrap()
}

#[test]
fn the_bucket_is_made_once_and_its_objects_are_listed() {
    if !available() {
        return;
    }
    let sandbox = Sandbox::new();
    let moto = Moto::start(&sandbox.path(""), true);
    let (id, secret) = moto.keys.clone().unwrap();
    let s3 = client(&moto, "orthanc", (&id, &secret));
    let runtime = tokio::runtime::Runtime::new().unwrap();
    assert_eq!(runtime.block_on(s3.ensure_bucket()), Ok(Made::Created));
    assert_eq!(runtime.block_on(s3.ensure_bucket()), Ok(Made::Existed));
    assert_eq!(runtime.block_on(s3.keys()), Ok(vec![]));
    // Objects named as Orthanc's S3 plugin names them, put by another client.
    moto.put(
        "orthanc",
        "4b02b7e7-c21d-4afd-974c-2b7d850e7fe5.dcm",
        "DICM",
    );
    moto.put(
        "orthanc",
        "fa890880-002e-48d0-a7a8-49f8e1fcc90f.dcm",
        "DICM",
    );
    let mut keys = runtime.block_on(s3.keys()).unwrap();
    keys.sort();
    assert_eq!(keys, moto.keys("orthanc"));
    assert_eq!(keys.len(), 2);
}

#[test]
fn wrong_credentials_are_refused_with_a_clear_error() {
    if !available() {
        return;
    }
    let sandbox = Sandbox::new();
    let moto = Moto::start(&sandbox.path(""), true);
    let (id, _) = moto.keys.clone().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let wrong_secret = client(&moto, "orthanc", (&id, "not-the-secret"));
    let err = runtime.block_on(wrong_secret.ensure_bucket()).unwrap_err();
    assert!(
        err.contains("answered SignatureDoesNotMatch (the access key or secret key is wrong"),
        "{err}"
    );
    let unknown = client(&moto, "orthanc", ("AKIANOTAKEY000000000", "x"));
    let err = runtime.block_on(unknown.keys()).unwrap_err();
    assert!(
        err.starts_with(&format!(
            "listing bucket orthanc at {} answered InvalidAccessKeyId",
            moto.endpoint()
        )),
        "{err}"
    );
    // Nothing was made with the wrong keys.
    let (id, secret) = moto.keys.clone().unwrap();
    let right = client(&moto, "orthanc", (&id, &secret));
    assert_eq!(runtime.block_on(right.ensure_bucket()), Ok(Made::Created));
}

#[test]
fn a_server_that_is_not_there_is_named() {
    let s3 = S3::new(
        "http://127.0.0.1:9",
        "orthanc",
        "a",
        "b",
        Duration::from_secs(5),
    )
    .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let err = runtime.block_on(s3.ensure_bucket()).unwrap_err();
    assert!(err.starts_with("GET http://127.0.0.1:9/orthanc/?"), "{err}");
    assert!(
        err.contains("nothing is listening there (connection refused)"),
        "{err}"
    );
}

// Issue 25: a bucket of any S3 service (`--s3-bucket`) is checked as Orthanc will use it before
// Orthanc is given it — there, and an object put, read back and deleted — and each failure says
// which: a missing bucket, wrong keys, keys that may read but not write.
#[test]
fn a_bucket_is_checked_as_orthanc_will_use_it() {
    if !available() {
        return;
    }
    let sandbox = Sandbox::new();
    let moto = Moto::start(&sandbox.path(""), true);
    let (id, secret) = moto.keys.clone().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let admin = client(&moto, "team-dicom", (&id, &secret));
    assert_eq!(runtime.block_on(admin.ensure_bucket()), Ok(Made::Created));
    assert_eq!(runtime.block_on(admin.check()), Ok(()));
    assert_eq!(
        runtime.block_on(admin.keys()),
        Ok(vec![]),
        "the test object is gone"
    );

    let missing = client(&moto, "nobody-made-this", (&id, &secret));
    let err = runtime.block_on(missing.check()).unwrap_err();
    assert_eq!(
        err,
        format!(
            "bucket nobody-made-this does not exist at {}",
            moto.endpoint()
        )
    );
    let wrong = client(&moto, "team-dicom", (&id, "not-the-secret"));
    let err = runtime.block_on(wrong.check()).unwrap_err();
    assert!(err.contains("SignatureDoesNotMatch"), "{err}");

    // A user that may list and read, not write.
    let reader = moto.user(
        (&id, &secret),
        "reader",
        "[\"s3:ListBucket\", \"s3:GetObject\"]",
    );
    let reader = (reader.0.as_str(), reader.1.as_str());
    let reader = client(&moto, "team-dicom", reader);
    let err = runtime.block_on(reader.check()).unwrap_err();
    assert!(
        err.starts_with("putting a test object into bucket team-dicom at")
            && err.contains("AccessDenied"),
        "{err}"
    );
}

// Issue 25: the proof's storage step on the user's own bucket: the keys are found through what
// Orthanc runs with (its Deployment's AWS_ACCESS_KEY_ID names the Secret, read from the test
// API server), and an object named as the S3 plugin names an attachment is found in moto's bucket.
#[test]
fn the_storage_step_finds_an_attachment_in_the_own_bucket_with_orthancs_keys() {
    if !available() {
        return;
    }
    use korthbox::evaluate::proof::storage::Backend;
    use serde_json::json;
    let sandbox = Sandbox::new();
    let moto = Moto::start(&sandbox.path(""), true);
    let (id, secret) = moto.keys.clone().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let admin = client(&moto, "team-dicom", (&id, &secret));
    runtime.block_on(admin.ensure_bucket()).unwrap();
    let uuid = "4b02b7e7-c21d-4afd-974c-2b7d850e7fe5";
    moto.put("team-dicom", &format!("{uuid}.dcm"), "DICM");

    let api = support::kube_api::FakeApi::kind();
    let kubeconfig = api.kubeconfig(&sandbox.path("home/.kube/config"), "kind-korthbox");
    let b64 = |t: &str| support::http::base64(t.as_bytes());
    api.put(
        "/api/v1/namespaces/korthbox/secrets/team-s3",
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "team-s3", "namespace": "korthbox"},
               "data": {"AWS_ACCESS_KEY_ID": b64(&id), "AWS_SECRET_ACCESS_KEY": b64(&secret)}}),
    );
    api.put(
        "/apis/apps/v1/namespaces/korthbox/deployments/orthanc",
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "orthanc", "namespace": "korthbox"},
               "spec": {"selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}},
                 "spec": {"containers": [{"name": "orthanc", "image": "x", "env": [
                   {"name": "AWS_ACCESS_KEY_ID", "valueFrom": {"secretKeyRef": {"name": "team-s3", "key": "AWS_ACCESS_KEY_ID"}}}]}]}}}}),
    );
    let env = korthbox::base::env::Env::from_vars([(
        "KUBECONFIG".to_string(),
        kubeconfig.into_os_string(),
    )]);
    let section =
        json!({"BucketName": "team-dicom", "Region": "us-east-1", "Endpoint": moto.endpoint()});
    let found = runtime.block_on(async {
        let client = korthbox::kube::cluster::client(&env, "kind-korthbox")
            .await
            .unwrap();
        let s3 = korthbox::kube::minio::own_bucket(
            &client,
            "korthbox",
            &section,
            Duration::from_secs(10),
        )
        .await
        .unwrap();
        let backend = Backend::Bucket { s3, _tunnel: None };
        assert_eq!(backend.describe(), "S3 bucket team-dicom");
        backend.find(&[uuid.to_string()]).await.unwrap()
    });
    assert_eq!(found, [format!("object {uuid}.dcm")]);
}

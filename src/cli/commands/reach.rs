//! Which Orthanc a command talks to: the sandbox's, through tunnels, or with `--url` and
//! `--dicom` any other, its password from the environment or a prompt — never a flag.

use std::io::IsTerminal;
use std::time::Duration;

use super::args::wanted;
use crate::base::env::KORTHBOX_ORTHANC_PASSWORD as PASSWORD_VAR;
use crate::base::error::{Error, Result};
use crate::cli::grammar::OrthancArgs;
use crate::evaluate::dicom::Peer;
use crate::evaluate::orthanc::sandbox::Reached;
use crate::evaluate::orthanc::{DICOMWEB_ROOT, Endpoints};
use crate::sandbox::{Context, access};

/// An Orthanc reached: its endpoints, and for the sandbox's the tunnels they go through.
pub enum Reach {
    Any(Endpoints),
    Sandbox(Box<Reached>),
}

impl Reach {
    pub fn orthanc(&self) -> &Endpoints {
        match self {
            Reach::Any(e) => e,
            Reach::Sandbox(r) => &r.orthanc,
        }
    }

    /// Where Orthanc is, for people: the URL given, or the sandbox's name.
    pub fn describe(&self, args: &OrthancArgs) -> String {
        match self {
            Reach::Any(e) => e.url.clone(),
            Reach::Sandbox(_) => format!("sandbox {}", args.target.name),
        }
    }
}

/// The Orthanc `args` name; each exchange may take `timeout`. `dicom_for` names the command
/// when it speaks DICOM: with `--url` it then needs `--dicom`; upload and export use the REST
/// API alone and do not ask for it.
pub async fn reach(
    args: &OrthancArgs,
    ctx: &Context,
    timeout: Duration,
    dicom_for: Option<&str>,
) -> Result<Reach> {
    match (&args.url, &args.dicom) {
        (Some(url), Some(dicom)) => Ok(Reach::Any(any(args, ctx, url, dicom, timeout).await?)),
        (Some(_), None) if let Some(command) = dicom_for => Err(Error::usage(format!(
            "`korthbox {command} --url` needs Orthanc's DICOM address too: {command} speaks DICOM to it"
        ))
        .hint(format!(
            "add --dicom HOST:PORT, e.g. `korthbox {command} --url http://127.0.0.1:8042 --dicom 127.0.0.1:4242`"
        ))),
        // No DICOM used: the peer is never called.
        (Some(url), None) => Ok(Reach::Any(any(args, ctx, url, "", timeout).await?)),
        _ => {
            let target = wanted(&args.target);
            let reached = access::reach(ctx, &target, &args.ns.namespace, timeout).await?;
            Ok(Reach::Sandbox(Box::new(reached)))
        }
    }
}

async fn any(
    args: &OrthancArgs,
    ctx: &Context,
    url: &str,
    dicom: &str,
    timeout: Duration,
) -> Result<Endpoints> {
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(Error::usage(format!(
            "--url {} is not an http:// or https:// URL",
            crate::base::error::redact(url)
        ))
        .hint("give Orthanc's base URL, e.g. --url http://127.0.0.1:8042"));
    }
    // `http://user:password@host`: the login, unless --user or the variable say otherwise;
    // the URL is kept (and ever shown) without it.
    let (url, login) = split_login(url);
    let url = url.as_str();
    let user = (args.user.clone())
        .or_else(|| login.as_ref().map(|(u, _)| u.clone()))
        .unwrap_or_else(|| "admin".into());
    let password = match (ctx.env.var_set(PASSWORD_VAR), login) {
        (None, Some((_, Some(given)))) => Some(given),
        _ => password(ctx, &user, url).await?,
    };
    Ok(Endpoints {
        url: url.to_string(),
        user,
        password,
        dicomweb: args
            .dicomweb_root
            .clone()
            .unwrap_or_else(|| DICOMWEB_ROOT.into()),
        dicom: Peer {
            address: dicom.to_string(),
            called: args.aet.clone().unwrap_or_else(|| "ORTHANC".into()),
            timeout,
        },
        timeout,
    })
}

/// `url` without its user-info, and the user and password it carried (percent-decoded).
fn split_login(url: &str) -> (String, Option<(String, Option<String>)>) {
    let Some((scheme, rest)) = url.split_once("://") else {
        return (url.to_string(), None);
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return (url.to_string(), None);
    };
    let (user, password) = match rest[..at].split_once(':') {
        Some((u, p)) => (decode(u), Some(decode(p))),
        None => (decode(&rest[..at]), None),
    };
    (
        format!("{scheme}://{}", &rest[at + 1..]),
        Some((user, password)),
    )
}

/// Percent-decoding of a URL's user-info.
fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// From the environment (empty: no authentication), or asked on a terminal, never a flag.
async fn password(ctx: &Context, user: &str, url: &str) -> Result<Option<String>> {
    if let Some(value) = ctx.env.var_set(PASSWORD_VAR) {
        return Ok((!value.is_empty()).then(|| value.to_string()));
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(Error::usage(format!("no password for {user} at {url}"))
            .hint(format!("set {PASSWORD_VAR} (empty when Orthanc has no authentication); korthbox asks only on a terminal")));
    }
    let prompt = format!("Password for {user} at {url}: ");
    let read = tokio::task::spawn_blocking(move || {
        let term = console::Term::stderr();
        term.write_str(&prompt)?;
        term.read_secure_line()
    });
    match read.await {
        Ok(Ok(p)) => Ok((!p.is_empty()).then_some(p)),
        Ok(Err(e)) => Err(Error::failure("could not read the password").because(e)),
        Err(e) => Err(Error::failure("could not read the password").because(e)),
    }
}

/// For a command that applies the stack with `--postgres-url` and no
/// `KORTHBOX_POSTGRES_PASSWORD`: on a terminal, the password asked for (not echoed) and put
/// into the environment the library reads; elsewhere the environment as it is (the library then
/// says which variable to set).
pub async fn postgres_password(
    cli: &crate::cli::grammar::Cli,
    env: crate::base::env::Env,
) -> Result<crate::base::env::Env> {
    use crate::cli::grammar::{Command, Lazy, StackCommand};
    let var = crate::base::env::KORTHBOX_POSTGRES_PASSWORD;
    let pg = match &cli.command {
        Command::Up(Lazy(a)) | Command::Start(Lazy(a)) => a.stack.postgres_url.as_ref(),
        Command::Reset(Lazy(a)) => a.up.stack.postgres_url.as_ref(),
        Command::Stack(StackCommand::Apply(Lazy(a))) => a.stack.postgres_url.as_ref(),
        _ => None,
    };
    let Some(pg) = pg else { return Ok(env) };
    if env.var(var).is_some() || !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal()
    {
        return Ok(env);
    }
    let prompt = format!("Password for {} at {}:{}: ", pg.user, pg.host, pg.port);
    let read = tokio::task::spawn_blocking(move || {
        let term = console::Term::stderr();
        term.write_str(&prompt)?;
        term.read_secure_line()
    });
    match read.await {
        Ok(Ok(p)) if !p.is_empty() => Ok(env.with_var(var, p)),
        Ok(Ok(_)) => Err(Error::usage(format!("no password given for {}", pg.user))),
        Ok(Err(e)) => Err(Error::failure("could not read the password").because(e)),
        Err(e) => Err(Error::failure("could not read the password").because(e)),
    }
}

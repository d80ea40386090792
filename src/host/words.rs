//! Network failures in words: what a refused, timed-out or untrusted connection means, from
//! the bottom of a client library's chain of errors (hyper, bollard, kube) rather than its
//! wrappers. A leaf: engines, HTTP and proxies all say their failures through it.

/// What a failed connection means, in words.
pub fn io(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "nothing is listening there (connection refused)".into(),
        NotFound => "no socket there".into(),
        PermissionDenied => {
            "permission denied (for an engine's socket: is your user in its group?)".into()
        }
        TimedOut => "the connection timed out".into(),
        HostUnreachable | NetworkUnreachable => "the host cannot be reached".into(),
        ConnectionReset | ConnectionAborted | BrokenPipe => {
            "the other side closed the connection".into()
        }
        _ => format!("could not connect: {e}"),
    }
}

/// What went wrong talking to a server, in words: the connection failure at the bottom of the
/// client's chain (refused, timed out, no route), or the error's own message.
pub fn words(e: &(dyn std::error::Error + 'static)) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(cause) = source {
        if let Some(io_error) = cause.downcast_ref::<std::io::Error>() {
            // A TLS failure surfaces as an io error that carries rustls's words.
            if io_error.to_string().contains("certificate") {
                return format!("the server's certificate is not trusted here ({io_error})");
            }
            return io(io_error);
        }
        source = cause.source();
    }
    crate::base::error::one_line(e).replace("client error (Connect): ", "")
}

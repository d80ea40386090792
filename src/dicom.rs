//! Just enough DICOM Upper Layer to ask "are you there?": associate for the Verification SOP
//! class, send C-ECHO-RQ, read C-ECHO-RSP, release. Works over any byte stream (a TCP socket,
//! a Kubernetes port-forward).

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

const APPLICATION_CONTEXT: &str = "1.2.840.10008.3.1.1.1";
const VERIFICATION: &str = "1.2.840.10008.1.1";
const IMPLICIT_VR_LITTLE_ENDIAN: &str = "1.2.840.10008.1.2";
/// korthbox's implementation class UID (under the UUID-derived root 2.25).
const IMPLEMENTATION_CLASS: &str = "2.25.305828167214931234517716240926712093571";
const MAX_PDU: u32 = 16384;

/// The calling AE title korthbox uses.
pub const CALLING_AET: &str = "KORTHBOX-PROOF";

fn ae(title: &str) -> [u8; 16] {
    let mut out = [b' '; 16];
    for (slot, byte) in out.iter_mut().zip(title.bytes()) {
        *slot = byte;
    }
    out
}

fn item(kind: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![kind, 0];
    out.extend_from_slice(&(content.len() as u16).to_be_bytes());
    out.extend_from_slice(content);
    out
}

fn pdu(kind: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![kind, 0];
    out.extend_from_slice(&(content.len() as u32).to_be_bytes());
    out.extend_from_slice(content);
    out
}

fn associate_rq(called: &str) -> Vec<u8> {
    let mut body = Vec::new();
    body.extend_from_slice(&1u16.to_be_bytes());
    body.extend_from_slice(&[0, 0]);
    body.extend_from_slice(&ae(called));
    body.extend_from_slice(&ae(CALLING_AET));
    body.extend_from_slice(&[0; 32]);
    body.extend(item(0x10, APPLICATION_CONTEXT.as_bytes()));
    let mut context = vec![1, 0, 0, 0];
    context.extend(item(0x30, VERIFICATION.as_bytes()));
    context.extend(item(0x40, IMPLICIT_VR_LITTLE_ENDIAN.as_bytes()));
    body.extend(item(0x20, &context));
    let mut user = item(0x51, &MAX_PDU.to_be_bytes());
    user.extend(item(0x52, IMPLEMENTATION_CLASS.as_bytes()));
    body.extend(item(0x50, &user));
    pdu(0x01, &body)
}

fn element(group: u16, elem: u16, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&group.to_le_bytes());
    out.extend_from_slice(&elem.to_le_bytes());
    out.extend_from_slice(&(value.len() as u32).to_le_bytes());
    out.extend_from_slice(value);
    out
}

fn echo_rq() -> Vec<u8> {
    let mut uid = VERIFICATION.as_bytes().to_vec();
    if uid.len() % 2 == 1 {
        uid.push(0);
    }
    let mut rest = element(0x0000, 0x0002, &uid);
    rest.extend(element(0x0000, 0x0100, &0x0030u16.to_le_bytes()));
    rest.extend(element(0x0000, 0x0110, &1u16.to_le_bytes()));
    rest.extend(element(0x0000, 0x0800, &0x0101u16.to_le_bytes()));
    let mut command = element(0x0000, 0x0000, &(rest.len() as u32).to_le_bytes());
    command.extend(rest);
    // One PDV: presentation context 1, a command, the last fragment.
    let mut pdv = ((command.len() + 2) as u32).to_be_bytes().to_vec();
    pdv.extend_from_slice(&[1, 0x03]);
    pdv.extend(command);
    pdu(0x04, &pdv)
}

async fn read_pdu<S: AsyncRead + Unpin>(stream: &mut S) -> Result<(u8, Vec<u8>), String> {
    let mut header = [0u8; 6];
    stream
        .read_exact(&mut header)
        .await
        .map_err(|e| format!("the connection ended before a DICOM answer: {e}"))?;
    let len = u32::from_be_bytes([header[2], header[3], header[4], header[5]]) as usize;
    if len > 1 << 20 {
        return Err(format!("a {len}-byte PDU is not a DICOM answer"));
    }
    let mut body = vec![0u8; len];
    stream
        .read_exact(&mut body)
        .await
        .map_err(|e| format!("the DICOM answer was cut short: {e}"))?;
    Ok((header[0], body))
}

fn rejection(body: &[u8]) -> String {
    let (result, source, reason) = (body.get(1), body.get(2), body.get(3));
    let why = match (source, reason) {
        (Some(1), Some(3)) => "calling AE title not recognized",
        (Some(1), Some(7)) => "called AE title not recognized",
        (Some(1), Some(2)) => "application context not supported",
        _ => "no reason given",
    };
    format!(
        "the association was rejected ({}: {why})",
        if result == Some(&1) {
            "permanent"
        } else {
            "transient"
        }
    )
}

/// The result of the presentation context item (0x21) of an A-ASSOCIATE-AC: 0 = acceptance.
fn presentation_result(body: &[u8]) -> Option<u8> {
    // Version, reserved, two AE titles and 32 reserved bytes come before the items.
    let mut at = 68;
    while at + 4 <= body.len() {
        let len = u16::from_be_bytes([body[at + 2], body[at + 3]]) as usize;
        if body[at] == 0x21 {
            return body.get(at + 6).copied();
        }
        at += 4 + len;
    }
    None
}

/// The Status of the C-ECHO-RSP in a P-DATA-TF body.
fn echo_status(body: &[u8]) -> Result<u16, String> {
    // PDV: length(4) context(1) control(1) then the command set.
    let command = body.get(6..).ok_or("an empty P-DATA answer")?;
    let mut at = 0;
    while at + 8 <= command.len() {
        let group = u16::from_le_bytes([command[at], command[at + 1]]);
        let elem = u16::from_le_bytes([command[at + 2], command[at + 3]]);
        let len = u32::from_le_bytes([
            command[at + 4],
            command[at + 5],
            command[at + 6],
            command[at + 7],
        ]) as usize;
        let value = command
            .get(at + 8..at + 8 + len)
            .ok_or("a truncated command element")?;
        if (group, elem) == (0x0000, 0x0900) && len == 2 {
            return Ok(u16::from_le_bytes([value[0], value[1]]));
        }
        at += 8 + len;
    }
    Err("the answer has no Status".into())
}

/// Sends a C-ECHO to `called_aet` over `stream`; Ok when the peer answers with Success.
pub async fn echo<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    called_aet: &str,
) -> Result<(), String> {
    let io = |e: std::io::Error| format!("could not send: {e}");
    stream
        .write_all(&associate_rq(called_aet))
        .await
        .map_err(io)?;
    match read_pdu(stream).await? {
        (0x02, body) => {
            if presentation_result(&body) != Some(0) {
                return Err("the peer does not accept the Verification SOP class".into());
            }
        }
        (0x03, body) => return Err(rejection(&body)),
        (0x07, _) => return Err("the peer aborted the association".into()),
        (kind, _) => {
            return Err(format!(
                "unexpected PDU type {kind:#04x} in answer to A-ASSOCIATE-RQ"
            ));
        }
    }
    stream.write_all(&echo_rq()).await.map_err(io)?;
    let status = match read_pdu(stream).await? {
        (0x04, body) => echo_status(&body)?,
        (0x07, _) => return Err("the peer aborted the association during the C-ECHO".into()),
        (kind, _) => {
            return Err(format!(
                "unexpected PDU type {kind:#04x} in answer to C-ECHO-RQ"
            ));
        }
    };
    stream.write_all(&pdu(0x05, &[0; 4])).await.map_err(io)?;
    // A missing A-RELEASE-RP is not worth failing an echo that succeeded.
    let _ = read_pdu(stream).await;
    if status == 0 {
        Ok(())
    } else {
        Err(format!("C-ECHO answered with status {status:#06x}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_echo_request_has_a_consistent_group_length() {
        let p = echo_rq();
        // PDU header 6, PDV header 6, then (0000,0000) UL with the length of the rest.
        let command = &p[12..];
        let group_length =
            u32::from_le_bytes([command[8], command[9], command[10], command[11]]) as usize;
        assert_eq!(group_length, command.len() - 12);
        assert_eq!(
            echo_status(&p[6..]).unwrap_err(),
            "the answer has no Status"
        );
    }

    #[test]
    fn ae_titles_are_space_padded() {
        assert_eq!(&ae("KORTHBOX"), b"KORTHBOX        ");
    }
}

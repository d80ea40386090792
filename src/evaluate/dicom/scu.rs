//! A DICOM service-class user on dicom-ul: C-ECHO, C-STORE and C-FIND (Study Root, STUDY
//! level), each on its own association with the presentation contexts it needs, released
//! when done — or, for the proof, all three on one association ([`Peer::checks`]). Errors are
//! sentences that say what the peer did.

use std::time::Duration;

use dicom_core::{DataElement, PrimitiveValue, VR, dicom_value};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;
use dicom_transfer_syntax_registry::entries::IMPLICIT_VR_LITTLE_ENDIAN;
use dicom_ul::association::client::AsyncClientAssociation;
use dicom_ul::pdu::{PDataValue, PDataValueType};
use dicom_ul::{ClientAssociationOptions, Pdu};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use super::identity::CALLING_AET;
use super::instance::Synthetic;
use crate::base::error::one_line;

/// Transfer syntaxes korthbox offers, the one it prefers first.
const OFFERED: [&str; 2] = [
    uids::EXPLICIT_VR_LITTLE_ENDIAN,
    uids::IMPLICIT_VR_LITTLE_ENDIAN,
];

/// C-ECHO-RQ, C-STORE-RQ, C-FIND-RQ (PS3.7 E.1).
const C_STORE_RQ: u16 = 0x0001;
const C_FIND_RQ: u16 = 0x0020;
const C_ECHO_RQ: u16 = 0x0030;
/// CommandDataSetType: no data set follows.
const NO_DATA_SET: u16 = 0x0101;
const HAS_DATA_SET: u16 = 0x0000;

/// Where the peer is, who it is, and how long each exchange may take.
#[derive(Debug, Clone)]
pub struct Peer {
    /// host:port
    pub address: String,
    pub called: String,
    pub timeout: Duration,
}

/// What a C-STORE did.
#[derive(Debug, Clone)]
pub struct Stored {
    pub transfer_syntax: String,
    pub bytes: usize,
}

/// The status of a DIMSE response, named.
fn status_name(status: u16) -> String {
    let name = match status {
        0x0000 => "Success",
        0xFF00 | 0xFF01 => "Pending",
        0xFE00 => "Cancel",
        0x0122 => "SOP class not supported",
        0x0124 => "refused: not authorized",
        0x0211 => "unrecognized operation",
        0xA700..=0xA7FF => "refused: out of resources",
        0xA900..=0xA9FF => "error: data set does not match SOP class",
        0xC000..=0xCFFF => "error: cannot understand",
        0xB000 | 0xB007 | 0xB006 => "warning",
        _ => "failure",
    };
    format!("0x{status:04X} ({name})")
}

struct Association {
    inner: AsyncClientAssociation<TcpStream>,
    peer: String,
}

impl Peer {
    fn describe(&self) -> String {
        format!("{} at {}", self.called, self.address)
    }

    async fn associate(&self, abstract_syntax: &str) -> Result<Association, String> {
        self.associate_for(&[abstract_syntax]).await
    }

    /// An association proposing each of `abstract_syntaxes` in the transfer syntaxes korthbox
    /// offers.
    async fn associate_for(&self, abstract_syntaxes: &[&str]) -> Result<Association, String> {
        let abstract_syntax = abstract_syntaxes.join(", ");
        let mut options = ClientAssociationOptions::new()
            .calling_ae_title(CALLING_AET)
            .called_ae_title(self.called.as_str());
        for syntax in abstract_syntaxes {
            options = options.with_presentation_context(*syntax, OFFERED.to_vec());
        }
        let options = options
            .max_pdu_length(65536)
            .connection_timeout(self.timeout)
            .read_timeout(self.timeout)
            .write_timeout(self.timeout);
        let inner = options
            .establish_async(self.address.as_str())
            .await
            .map_err(|e| match &e {
                dicom_ul::association::Error::Rejected { association_rj, .. } => format!(
                    "{} rejected the association: {}",
                    self.describe(),
                    association_rj.source
                ),
                dicom_ul::association::Error::NoAcceptedPresentationContexts { .. } => format!(
                    "{} accepted none of the presentation contexts offered ({abstract_syntax} in {})",
                    self.describe(),
                    OFFERED.join(" or ")
                ),
                _ => format!("could not associate with {}: {}", self.describe(), one_line(&e)),
            })?;
        let mut inner = inner;
        // Each message is written in pieces (command, then data set); without this, Nagle's
        // algorithm and the peer's delayed acknowledgement add 40 ms to every exchange.
        let _ = inner.inner_stream().set_nodelay(true);
        Ok(Association {
            inner,
            peer: self.describe(),
        })
    }

    /// C-ECHO: the peer answers Success.
    pub async fn echo(&self) -> Result<(), String> {
        let mut a = self.associate(uids::VERIFICATION).await?;
        let echoed = a.echo(1).await;
        a.release().await;
        echoed
    }

    /// C-STORE of `instance` in the transfer syntax the peer accepted.
    pub async fn store(&self, instance: &Synthetic) -> Result<Stored, String> {
        let class = uids::SECONDARY_CAPTURE_IMAGE_STORAGE;
        let mut session = self.session(&[class]).await?;
        let stored = session.store(instance.object()).await;
        session.release().await;
        stored
    }

    /// One association for C-ECHO, C-STORE of Secondary Capture and C-FIND at STUDY level, one
    /// after the other: the proof's DICOM steps without an association set up for each.
    pub async fn checks(&self) -> Result<Session, String> {
        self.session(&[
            uids::VERIFICATION,
            uids::SECONDARY_CAPTURE_IMAGE_STORAGE,
            uids::STUDY_ROOT_QUERY_RETRIEVE_INFORMATION_MODEL_FIND,
        ])
        .await
    }

    /// An association for storing instances of `classes`, one after the other.
    pub async fn session(&self, classes: &[&str]) -> Result<Session, String> {
        let association = self.associate_for(classes).await?;
        Ok(Session {
            association,
            next_id: 1,
        })
    }

    /// C-FIND at STUDY level for one Study Instance UID: the Study Instance UIDs that matched.
    pub async fn find_study(&self, study_uid: &str) -> Result<Vec<String>, String> {
        let found = self.find_studies(study_uid).await?;
        Ok(found.into_iter().map(|(uid, _)| uid).collect())
    }

    /// How many instances study `study_uid` has, if the peer has it (C-FIND at STUDY level,
    /// Number of Study Related Instances).
    pub async fn study_instances(&self, study_uid: &str) -> Result<Option<u64>, String> {
        let found = self.find_studies(study_uid).await?;
        Ok(found
            .into_iter()
            .find(|(uid, _)| uid == study_uid)
            .map(|(_, count)| count.unwrap_or(0)))
    }

    /// The studies matching `study_uid`, with their instance counts when the peer gives them.
    async fn find_studies(&self, study_uid: &str) -> Result<Vec<(String, Option<u64>)>, String> {
        let class = uids::STUDY_ROOT_QUERY_RETRIEVE_INFORMATION_MODEL_FIND;
        let mut a = self.associate(class).await?;
        let found = a.find_studies(study_uid, 1).await;
        a.release().await;
        found
    }
}

/// One association that stores instance after instance (C-STORE), each in the transfer
/// syntax accepted for its SOP class.
pub struct Session {
    association: Association,
    next_id: u16,
}

impl Session {
    /// C-STORE of `object`, whose SOP Class and SOP Instance UIDs it carries.
    pub async fn store(&mut self, object: &InMemDicomObject) -> Result<Stored, String> {
        let text = |tag| {
            object
                .element(tag)
                .ok()
                .and_then(|e| e.to_str().ok())
                .map(|s| s.trim_end_matches(['\0', ' ']).to_string())
                .ok_or_else(|| "the instance has no SOP Class or SOP Instance UID".to_string())
        };
        let (class, sop) = (text(tags::SOP_CLASS_UID)?, text(tags::SOP_INSTANCE_UID)?);
        let a = &mut self.association;
        let (pc, ts) = a.context_for(&class)?;
        let data = encode(object, &ts)?;
        let id = self.next();
        let a = &mut self.association;
        let command = command(&[
            (tags::AFFECTED_SOP_CLASS_UID, uid_value(&class)),
            (tags::COMMAND_FIELD, short(C_STORE_RQ)),
            (tags::MESSAGE_ID, short(id)),
            (tags::PRIORITY, short(0)),
            (tags::COMMAND_DATA_SET_TYPE, short(HAS_DATA_SET)),
            (tags::AFFECTED_SOP_INSTANCE_UID, uid_value(&sop)),
        ]);
        a.send_command(pc, &command).await?;
        a.send_data(pc, &data).await?;
        let (response, _) = a.receive_message().await?;
        match status_of(&response)? {
            0x0000 | 0xB000 | 0xB007 | 0xB006 => Ok(Stored {
                transfer_syntax: ts,
                bytes: data.len(),
            }),
            other => Err(format!(
                "C-STORE of {sop} answered {}{}",
                status_name(other),
                error_comment(&response)
            )),
        }
    }

    /// The next message id.
    fn next(&mut self) -> u16 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1).max(1);
        id
    }

    /// C-ECHO on this association (which must propose Verification).
    pub async fn echo(&mut self) -> Result<(), String> {
        let id = self.next();
        self.association.echo(id).await
    }

    /// C-FIND at STUDY level on this association (which must propose Study Root Find): the
    /// Study Instance UIDs that matched `study_uid`.
    pub async fn find_study(&mut self, study_uid: &str) -> Result<Vec<String>, String> {
        let id = self.next();
        let found = self.association.find_studies(study_uid, id).await?;
        Ok(found.into_iter().map(|(uid, _)| uid).collect())
    }

    /// A-RELEASE.
    pub async fn release(self) {
        self.association.release().await;
    }
}

impl Association {
    /// C-ECHO as message `id`: the peer answers Success.
    async fn echo(&mut self, id: u16) -> Result<(), String> {
        let pc = self.context_for(uids::VERIFICATION)?.0;
        let command = command(&[
            (tags::AFFECTED_SOP_CLASS_UID, uid_value(uids::VERIFICATION)),
            (tags::COMMAND_FIELD, short(C_ECHO_RQ)),
            (tags::MESSAGE_ID, short(id)),
            (tags::COMMAND_DATA_SET_TYPE, short(NO_DATA_SET)),
        ]);
        self.send_command(pc, &command).await?;
        let (response, _) = self.receive_message().await?;
        match status_of(&response)? {
            0x0000 => Ok(()),
            other => Err(format!("C-ECHO answered {}", status_name(other))),
        }
    }

    /// C-FIND at STUDY level for `study_uid` as message `id`: the studies that matched, with
    /// their instance counts when the peer gives them.
    async fn find_studies(
        &mut self,
        study_uid: &str,
        id: u16,
    ) -> Result<Vec<(String, Option<u64>)>, String> {
        let class = uids::STUDY_ROOT_QUERY_RETRIEVE_INFORMATION_MODEL_FIND;
        let a = self;
        let (pc, ts) = a.context_for(class)?;
        let identifier = InMemDicomObject::from_element_iter([
            DataElement::new(
                tags::QUERY_RETRIEVE_LEVEL,
                VR::CS,
                PrimitiveValue::from("STUDY"),
            ),
            DataElement::new(
                tags::STUDY_INSTANCE_UID,
                VR::UI,
                PrimitiveValue::from(study_uid),
            ),
            DataElement::new(tags::PATIENT_ID, VR::LO, PrimitiveValue::Empty),
            DataElement::new(tags::STUDY_DESCRIPTION, VR::LO, PrimitiveValue::Empty),
            DataElement::new(
                tags::NUMBER_OF_STUDY_RELATED_INSTANCES,
                VR::IS,
                PrimitiveValue::Empty,
            ),
        ]);
        let data = encode(&identifier, &ts)?;
        let command = command(&[
            (tags::AFFECTED_SOP_CLASS_UID, uid_value(class)),
            (tags::COMMAND_FIELD, short(C_FIND_RQ)),
            (tags::MESSAGE_ID, short(id)),
            (tags::PRIORITY, short(0)),
            (tags::COMMAND_DATA_SET_TYPE, short(HAS_DATA_SET)),
        ]);
        a.send_command(pc, &command).await?;
        a.send_data(pc, &data).await?;
        let mut found = Vec::new();
        loop {
            let (response, identifier) = a.receive_message().await?;
            match status_of(&response)? {
                0xFF00 | 0xFF01 => {
                    let identifier = match identifier {
                        Some(bytes) => decode(&bytes, &ts)?,
                        None => {
                            return Err("a pending C-FIND response carried no identifier".into());
                        }
                    };
                    let text = |tag| {
                        identifier
                            .element(tag)
                            .ok()
                            .and_then(|e| e.to_str().ok())
                            .map(|s| s.trim_matches(['\0', ' ']).to_string())
                    };
                    let uid = text(tags::STUDY_INSTANCE_UID).unwrap_or_default();
                    let count =
                        text(tags::NUMBER_OF_STUDY_RELATED_INSTANCES).and_then(|n| n.parse().ok());
                    found.push((uid, count));
                }
                0x0000 => break,
                other => {
                    return Err(format!(
                        "C-FIND answered {}{}",
                        status_name(other),
                        error_comment(&response)
                    ));
                }
            }
        }
        Ok(found)
    }

    /// The accepted presentation context for SOP class `class`: its id and transfer syntax.
    fn context_for(&self, class: &str) -> Result<(u8, String), String> {
        self.inner
            .presentation_contexts()
            .iter()
            .find(|pc| pc.abstract_syntax.trim_end_matches('\0') == class)
            .map(|pc| (pc.id, pc.transfer_syntax.trim_end_matches('\0').to_string()))
            .ok_or_else(|| format!("{} accepted no presentation context for {class}", self.peer))
    }

    async fn send_command(&mut self, pc: u8, command: &InMemDicomObject) -> Result<(), String> {
        let mut data = Vec::new();
        command
            .write_dataset_with_ts(&mut data, &IMPLICIT_VR_LITTLE_ENDIAN.erased())
            .map_err(|e| format!("could not encode the command: {e}"))?;
        let pdu = Pdu::PData {
            data: vec![PDataValue {
                presentation_context_id: pc,
                value_type: PDataValueType::Command,
                is_last: true,
                data,
            }],
        };
        self.inner
            .send(&pdu)
            .await
            .map_err(|e| format!("could not send to {}: {}", self.peer, one_line(&e)))
    }

    async fn send_data(&mut self, pc: u8, data: &[u8]) -> Result<(), String> {
        let mut writer = self.inner.send_pdata(pc);
        let sent = async {
            writer.write_all(data).await?;
            writer.finish().await
        };
        sent.await
            .map_err(|e| format!("could not send the data set to {}: {e}", self.peer))
    }

    /// One DIMSE message: its command, and its data set's bytes when it has one.
    async fn receive_message(&mut self) -> Result<(InMemDicomObject, Option<Vec<u8>>), String> {
        let (mut command, mut data) = (Vec::new(), Vec::new());
        let (mut command_done, mut data_done) = (false, false);
        loop {
            let pdu = self
                .inner
                .receive()
                .await
                .map_err(|e| format!("no answer from {}: {}", self.peer, one_line(&e)))?;
            let values = match pdu {
                Pdu::PData { data } => data,
                Pdu::AbortRQ { source } => {
                    return Err(format!(
                        "{} aborted the association ({source:?})",
                        self.peer
                    ));
                }
                other => {
                    return Err(format!(
                        "{} sent {other:?} instead of a response",
                        self.peer
                    ));
                }
            };
            for v in values {
                match v.value_type {
                    PDataValueType::Command => {
                        command.extend_from_slice(&v.data);
                        command_done |= v.is_last;
                    }
                    PDataValueType::Data => {
                        data.extend_from_slice(&v.data);
                        data_done |= v.is_last;
                    }
                }
            }
            if command_done {
                let object = decode(&command, uids::IMPLICIT_VR_LITTLE_ENDIAN)?;
                let has_data = object
                    .element(tags::COMMAND_DATA_SET_TYPE)
                    .ok()
                    .and_then(|e| e.to_int::<u16>().ok())
                    .is_some_and(|t| t != NO_DATA_SET);
                if !has_data {
                    return Ok((object, None));
                }
                if data_done {
                    return Ok((object, Some(data)));
                }
            }
        }
    }

    /// A-RELEASE; a peer that drops the connection instead has still answered.
    async fn release(self) {
        let _ = self.inner.release().await;
    }
}

fn short(value: u16) -> PrimitiveValue {
    dicom_value!(U16, [value])
}

fn uid_value(uid: &str) -> PrimitiveValue {
    PrimitiveValue::from(uid)
}

/// A command set, its group length computed.
fn command(elements: &[(dicom_core::Tag, PrimitiveValue)]) -> InMemDicomObject {
    InMemDicomObject::command_from_element_iter(elements.iter().map(|(tag, value)| {
        let vr = match value {
            PrimitiveValue::U16(_) => VR::US,
            _ => VR::UI,
        };
        DataElement::new(*tag, vr, value.clone())
    }))
}

fn encode(object: &InMemDicomObject, ts: &str) -> Result<Vec<u8>, String> {
    use dicom_transfer_syntax_registry::{TransferSyntaxIndex, TransferSyntaxRegistry};
    let syntax = TransferSyntaxRegistry
        .get(ts)
        .ok_or_else(|| format!("transfer syntax {ts} is unknown to korthbox"))?;
    let mut out = Vec::new();
    object
        .write_dataset_with_ts(&mut out, syntax)
        .map_err(|e| format!("could not encode the identifier: {e}"))?;
    Ok(out)
}

fn decode(bytes: &[u8], ts: &str) -> Result<InMemDicomObject, String> {
    use dicom_transfer_syntax_registry::{TransferSyntaxIndex, TransferSyntaxRegistry};
    let syntax = TransferSyntaxRegistry
        .get(ts)
        .ok_or_else(|| format!("transfer syntax {ts} is unknown to korthbox"))?;
    InMemDicomObject::read_dataset_with_ts(bytes, syntax)
        .map_err(|e| format!("could not decode the peer's message: {e}"))
}

fn status_of(response: &InMemDicomObject) -> Result<u16, String> {
    response
        .element(tags::STATUS)
        .ok()
        .and_then(|e| e.to_int::<u16>().ok())
        .ok_or_else(|| "the response has no status".to_string())
}

fn error_comment(response: &InMemDicomObject) -> String {
    response
        .element(tags::ERROR_COMMENT)
        .ok()
        .and_then(|e| e.to_str().ok())
        .map(|c| format!(": {}", c.trim()))
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_named() {
        assert_eq!(status_name(0), "0x0000 (Success)");
        assert_eq!(status_name(0xA801), "0xA801 (failure)");
        assert_eq!(status_name(0xC123), "0xC123 (error: cannot understand)");
    }

    #[test]
    fn a_command_carries_its_group_length() {
        let c = command(&[(tags::COMMAND_FIELD, short(C_ECHO_RQ))]);
        let length = c.element(tags::COMMAND_GROUP_LENGTH).unwrap();
        // (0000,0100) US: 8 bytes of header and 2 of value, in implicit VR.
        assert_eq!(length.to_int::<u32>().unwrap(), 10);
    }
}

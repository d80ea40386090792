//! The synthetic instances the proof stores: a Secondary Capture image with real pixel data
//! (a 64×64 8-bit pattern), fresh UIDs under korthbox's root, and a patient that is obviously
//! not a person. Encoded by dicom-object, in whatever transfer syntax the peer accepted.

use dicom_core::{DataElement, PrimitiveValue, VR, dicom_value};
use dicom_dictionary_std::{tags, uids};
use dicom_object::{FileDicomObject, FileMetaTableBuilder, InMemDicomObject};
use dicom_transfer_syntax_registry::TransferSyntaxIndex;
use dicom_transfer_syntax_registry::TransferSyntaxRegistry;

use super::identity::{IMPLEMENTATION_VERSION, UID_ROOT};

pub const ROWS: u16 = 64;
pub const COLUMNS: u16 = 64;
pub const PATIENT_NAME: &str = "KORTHBOX^SYNTHETIC";
pub const STUDY_DESCRIPTION: &str = "korthbox proof (synthetic, safe to delete)";

/// One synthetic instance and what identifies it.
#[derive(Debug, Clone)]
pub struct Synthetic {
    pub patient_id: String,
    pub study_uid: String,
    pub series_uid: String,
    pub sop_uid: String,
    pub number: u16,
    pub pixels: Vec<u8>,
    object: InMemDicomObject,
}

/// What the identifying attributes and pixels of a DICOM file are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub sop_class: String,
    pub study_uid: String,
    pub series_uid: String,
    pub sop_uid: String,
    pub pixels: Vec<u8>,
}

/// A fresh UID: the root, `kind`, and a random 16-digit number (no leading zero).
fn uid(kind: u8) -> std::io::Result<String> {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    let n = u64::from_le_bytes(bytes) % 9_000_000_000_000_000 + 1_000_000_000_000_000;
    Ok(format!("{UID_ROOT}.{kind}.{n}"))
}

/// A pattern no two instances share: diagonal bands shifted by the instance number.
fn pattern(number: u16) -> Vec<u8> {
    let mut pixels = Vec::with_capacity(usize::from(ROWS) * usize::from(COLUMNS));
    for y in 0..ROWS {
        for x in 0..COLUMNS {
            pixels.push(((x * 4) ^ (y * 4)).wrapping_add(number * 37) as u8);
        }
    }
    pixels
}

fn now() -> (String, String) {
    let now = jiff::Zoned::now();
    (
        now.strftime("%Y%m%d").to_string(),
        now.strftime("%H%M%S").to_string(),
    )
}

impl Synthetic {
    /// The first instance of a new study, of a new synthetic patient.
    pub fn new() -> std::io::Result<Synthetic> {
        let study = uid(1)?;
        let patient = format!("KORTHBOX-{}", &study[study.len() - 8..]);
        Self::build(patient, study, uid(2)?, 1)
    }

    /// Another instance of the same study and series.
    pub fn next(&self) -> std::io::Result<Synthetic> {
        Self::build(
            self.patient_id.clone(),
            self.study_uid.clone(),
            self.series_uid.clone(),
            self.number + 1,
        )
    }

    fn build(
        patient_id: String,
        study_uid: String,
        series_uid: String,
        number: u16,
    ) -> std::io::Result<Synthetic> {
        let sop_uid = uid(3)?;
        let pixels = pattern(number);
        let (date, time) = now();
        let text = |tag, vr, value: &str| DataElement::new(tag, vr, PrimitiveValue::from(value));
        let short = |tag, value: u16| DataElement::new(tag, VR::US, dicom_value!(U16, [value]));
        let object = InMemDicomObject::from_element_iter([
            text(
                tags::SOP_CLASS_UID,
                VR::UI,
                uids::SECONDARY_CAPTURE_IMAGE_STORAGE,
            ),
            text(tags::SOP_INSTANCE_UID, VR::UI, &sop_uid),
            text(tags::STUDY_DATE, VR::DA, &date),
            text(tags::STUDY_TIME, VR::TM, &time),
            text(tags::ACCESSION_NUMBER, VR::SH, ""),
            text(tags::MODALITY, VR::CS, "OT"),
            text(tags::CONVERSION_TYPE, VR::CS, "SYN"),
            text(tags::REFERRING_PHYSICIAN_NAME, VR::PN, ""),
            text(tags::STUDY_DESCRIPTION, VR::LO, STUDY_DESCRIPTION),
            text(tags::SERIES_DESCRIPTION, VR::LO, "synthetic pattern"),
            text(tags::PATIENT_NAME, VR::PN, PATIENT_NAME),
            text(tags::PATIENT_ID, VR::LO, &patient_id),
            text(tags::PATIENT_BIRTH_DATE, VR::DA, ""),
            text(tags::PATIENT_SEX, VR::CS, "O"),
            text(tags::STUDY_INSTANCE_UID, VR::UI, &study_uid),
            text(tags::SERIES_INSTANCE_UID, VR::UI, &series_uid),
            text(tags::STUDY_ID, VR::SH, "KORTHBOX"),
            text(tags::SERIES_NUMBER, VR::IS, "1"),
            text(tags::INSTANCE_NUMBER, VR::IS, &number.to_string()),
            text(tags::PATIENT_ORIENTATION, VR::CS, ""),
            short(tags::SAMPLES_PER_PIXEL, 1),
            text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
            short(tags::ROWS, ROWS),
            short(tags::COLUMNS, COLUMNS),
            short(tags::BITS_ALLOCATED, 8),
            short(tags::BITS_STORED, 8),
            short(tags::HIGH_BIT, 7),
            short(tags::PIXEL_REPRESENTATION, 0),
            DataElement::new(
                tags::PIXEL_DATA,
                VR::OB,
                PrimitiveValue::from(pixels.clone()),
            ),
        ]);
        Ok(Synthetic {
            patient_id,
            study_uid,
            series_uid,
            sop_uid,
            number,
            pixels,
            object,
        })
    }

    /// The instance as a data set.
    pub fn object(&self) -> &InMemDicomObject {
        &self.object
    }

    /// The data set alone, encoded in transfer syntax `ts` (as C-STORE sends it).
    pub fn dataset(&self, ts: &str) -> Result<Vec<u8>, String> {
        let syntax = TransferSyntaxRegistry
            .get(ts)
            .ok_or_else(|| format!("transfer syntax {ts} is unknown to korthbox"))?;
        let mut out = Vec::new();
        self.object
            .write_dataset_with_ts(&mut out, syntax)
            .map_err(|e| format!("could not encode the instance in {ts}: {e}"))?;
        Ok(out)
    }

    /// The instance as a DICOM file (Part 10: preamble, meta group, Explicit VR Little Endian),
    /// as STOW-RS sends it.
    pub fn file(&self) -> Result<Vec<u8>, String> {
        part10(self.object.clone())
    }
}

/// `object` as a DICOM file (Part 10: preamble, a meta group naming korthbox as the
/// implementation, Explicit VR Little Endian): what STOW-RS, `upload` and `--output-dir` use.
pub fn part10(object: InMemDicomObject) -> Result<Vec<u8>, String> {
    let meta = FileMetaTableBuilder::new()
        .transfer_syntax(uids::EXPLICIT_VR_LITTLE_ENDIAN)
        .implementation_class_uid(UID_ROOT)
        .implementation_version_name(IMPLEMENTATION_VERSION);
    let file: FileDicomObject<InMemDicomObject> = object
        .with_meta(meta)
        .map_err(|e| format!("could not make the file meta group: {e}"))?;
    let mut out = Vec::new();
    file.write_all(&mut out)
        .map_err(|e| format!("could not encode the DICOM file: {e}"))?;
    Ok(out)
}

/// Reads the identifying attributes and pixels of a DICOM file (with or without preamble).
pub fn read(file: &[u8]) -> Result<Received, String> {
    let object = FileDicomObject::<InMemDicomObject>::from_reader(file)
        .map_err(|e| format!("not a DICOM file: {e}"))?;
    let string = |tag, name: &str| -> Result<String, String> {
        let element = object
            .element(tag)
            .map_err(|_| format!("the file has no {name}"))?;
        let value = element
            .to_str()
            .map_err(|e| format!("its {name} is not text: {e}"))?;
        Ok(value.trim_end_matches(['\0', ' ']).to_string())
    };
    let pixels = object
        .element(tags::PIXEL_DATA)
        .map_err(|_| "the file has no pixel data".to_string())?
        .to_bytes()
        .map_err(|e| format!("its pixel data is not bytes: {e}"))?
        .into_owned();
    Ok(Received {
        sop_class: string(tags::SOP_CLASS_UID, "SOP Class UID")?,
        study_uid: string(tags::STUDY_INSTANCE_UID, "Study Instance UID")?,
        series_uid: string(tags::SERIES_INSTANCE_UID, "Series Instance UID")?,
        sop_uid: string(tags::SOP_INSTANCE_UID, "SOP Instance UID")?,
        pixels,
    })
}

impl Received {
    /// What differs from what was sent; empty when nothing does.
    pub fn differences(&self, sent: &Synthetic) -> Vec<String> {
        let mut out = Vec::new();
        for (name, got, want) in [
            (
                "SOP Class UID",
                self.sop_class.as_str(),
                uids::SECONDARY_CAPTURE_IMAGE_STORAGE,
            ),
            ("Study Instance UID", &self.study_uid, &sent.study_uid),
            ("Series Instance UID", &self.series_uid, &sent.series_uid),
            ("SOP Instance UID", &self.sop_uid, &sent.sop_uid),
        ] {
            if got != want {
                out.push(format!("{name} is {got}, not {want}"));
            }
        }
        // An odd-length value is padded to even length; the pattern is 4096 bytes, even.
        if self.pixels != sent.pixels {
            out.push(format!(
                "the pixel data differs ({} bytes came back, {} were sent)",
                self.pixels.len(),
                sent.pixels.len()
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uids_are_fresh_valid_and_under_the_root() {
        let a = Synthetic::new().unwrap();
        let b = a.next().unwrap();
        for u in [&a.study_uid, &a.series_uid, &a.sop_uid, &b.sop_uid] {
            assert!(u.starts_with(UID_ROOT) && u.len() <= 64, "{u}");
            assert!(
                u.split('.')
                    .all(|c| !c.is_empty() && (c == "0" || !c.starts_with('0'))),
                "{u}"
            );
        }
        assert_ne!(a.sop_uid, b.sop_uid);
        assert_eq!((a.study_uid.as_str(), b.number), (b.study_uid.as_str(), 2));
        assert_ne!(a.pixels, b.pixels);
    }

    #[test]
    fn the_file_reads_back_as_what_was_made() {
        let made = Synthetic::new().unwrap();
        let file = made.file().unwrap();
        assert_eq!(&file[128..132], b"DICM");
        let back = read(&file).unwrap();
        assert!(back.differences(&made).is_empty(), "{back:?}");
        let other = made.next().unwrap();
        assert_eq!(back.differences(&other).len(), 2);
    }
}

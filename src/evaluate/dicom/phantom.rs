//! korthbox's sample studies: deterministic synthetic images of a simple phantom, so that a
//! fresh sandbox has something to look at. Each study has a CT-like series (40 axial slices of
//! a water cylinder in air, with bone rods and a contrast sphere that grows and shrinks along
//! the axis) and an MR-like series (24 slices of nested ellipses). The UIDs depend only on the
//! study, series and slice numbers, under korthbox's root, so sending them again adds nothing.

use dicom_core::{DataElement, PrimitiveValue, VR, dicom_value};
use dicom_dictionary_std::{tags, uids};
use dicom_object::InMemDicomObject;

use super::identity::UID_ROOT;

pub const SIZE: u16 = 256;
/// How many studies `samples` (and `up --samples`) send unless told otherwise.
pub const DEFAULT_STUDIES: u32 = 3;
pub const CT_SLICES: u32 = 40;
pub const MR_SLICES: u32 = 24;
/// Patients the studies go to, in turn.
pub const PATIENTS: [(&str, &str); 3] = [
    ("KORTHBOX^PHANTOM^ALPHA", "KB-PHANTOM-1"),
    ("KORTHBOX^PHANTOM^BRAVO", "KB-PHANTOM-2"),
    ("KORTHBOX^PHANTOM^CHARLIE", "KB-PHANTOM-3"),
];
const SLICE_MM: f64 = 5.0;

/// Which series an instance belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Series {
    Ct,
    Mr,
}

impl Series {
    fn number(self) -> u32 {
        match self {
            Series::Ct => 1,
            Series::Mr => 2,
        }
    }

    pub fn class(self) -> &'static str {
        match self {
            Series::Ct => uids::CT_IMAGE_STORAGE,
            Series::Mr => uids::MR_IMAGE_STORAGE,
        }
    }

    pub fn slices(self) -> u32 {
        match self {
            Series::Ct => CT_SLICES,
            Series::Mr => MR_SLICES,
        }
    }
}

/// One sample instance: study `study` (from 1), series, slice (from 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub study: u32,
    pub series: Series,
    pub slice: u32,
}

/// The Study Instance UID of sample study `study`.
pub fn study_uid(study: u32) -> String {
    format!("{UID_ROOT}.5.{study}")
}

/// How many instances each study has.
pub const fn per_study() -> u32 {
    CT_SLICES + MR_SLICES
}

/// Every instance of studies 1..=`studies`, study by study.
pub fn all(studies: u32) -> Vec<Sample> {
    let mut out = Vec::new();
    for study in 1..=studies {
        for series in [Series::Ct, Series::Mr] {
            for slice in 1..=series.slices() {
                out.push(Sample {
                    study,
                    series,
                    slice,
                });
            }
        }
    }
    out
}

/// Deterministic noise in -1.0..1.0 for a voxel.
fn noise(x: u32, y: u32, z: u32) -> f64 {
    let mut h = u64::from(x)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(u64::from(y).wrapping_mul(0xC2B2_AE3D_27D4_EB4F))
        .wrapping_add(u64::from(z).wrapping_mul(0x1656_67B1_9E37_79F9));
    h ^= h >> 31;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    h ^= h >> 29;
    (h % 2001) as f64 / 1000.0 - 1.0
}

impl Sample {
    pub fn study_uid(&self) -> String {
        study_uid(self.study)
    }

    pub fn series_uid(&self) -> String {
        format!("{}.{}", self.study_uid(), self.series.number())
    }

    pub fn sop_uid(&self) -> String {
        format!("{}.{}", self.series_uid(), self.slice)
    }

    /// Position along the axis, in mm.
    fn z(&self) -> f64 {
        (f64::from(self.slice) - 1.0) * SLICE_MM
    }

    /// Stored CT values (HU + 1024): air, a water cylinder, three bone rods and a contrast
    /// sphere centred on the middle slice.
    fn ct_pixels(&self) -> Vec<u16> {
        let c = f64::from(SIZE) / 2.0;
        let middle = f64::from(CT_SLICES - 1) * SLICE_MM / 2.0;
        let sphere = (60.0f64.powi(2) - (self.z() - middle).powi(2))
            .max(0.0)
            .sqrt();
        let rods = [(c - 50.0, c - 40.0), (c + 55.0, c - 20.0), (c, c + 65.0)];
        let mut out = Vec::with_capacity(usize::from(SIZE) * usize::from(SIZE));
        for y in 0..u32::from(SIZE) {
            for x in 0..u32::from(SIZE) {
                let (fx, fy) = (f64::from(x) + 0.5, f64::from(y) + 0.5);
                let r = ((fx - c).powi(2) + (fy - c).powi(2)).sqrt();
                let mut hu = if r <= 110.0 { 0.0 } else { -1000.0 };
                if rods.iter().any(|(rx, ry)| (fx - rx).hypot(fy - ry) <= 9.0) {
                    hu = 900.0;
                }
                if (fx - c).hypot(fy - (c + 10.0)) <= sphere {
                    hu = 250.0;
                }
                let noisy = hu + 12.0 * noise(x, y, self.slice);
                out.push((noisy + 1024.0).clamp(0.0, 4095.0) as u16);
            }
        }
        out
    }

    /// MR values: nested ellipses of different signal, the inner ones fading along the axis.
    fn mr_pixels(&self) -> Vec<u16> {
        let c = f64::from(SIZE) / 2.0;
        let fade = 1.0 - (f64::from(self.slice) - f64::from(MR_SLICES) / 2.0).abs() / 24.0;
        let mut out = Vec::with_capacity(usize::from(SIZE) * usize::from(SIZE));
        for y in 0..u32::from(SIZE) {
            for x in 0..u32::from(SIZE) {
                let (fx, fy) = (f64::from(x) + 0.5 - c, f64::from(y) + 0.5 - c);
                let inside = |a: f64, b: f64| (fx / a).powi(2) + (fy / b).powi(2) <= 1.0;
                let mut v = 0.0;
                if inside(100.0, 120.0) {
                    v = 600.0;
                }
                if inside(70.0, 90.0) {
                    v = 1400.0 * fade;
                }
                if inside(25.0, 35.0) {
                    v = 2600.0 * fade;
                }
                let noisy = v + 20.0 * noise(x, y, 1000 + self.slice);
                out.push(noisy.clamp(0.0, 4095.0) as u16);
            }
        }
        out
    }

    /// The instance as a data set.
    pub fn object(&self) -> InMemDicomObject {
        let (patient_name, patient_id) = PATIENTS[((self.study - 1) % 3) as usize];
        let text = |tag, vr, value: &str| DataElement::new(tag, vr, PrimitiveValue::from(value));
        let short = |tag, value: u16| DataElement::new(tag, VR::US, dicom_value!(U16, [value]));
        let z = self.z();
        let (modality, description, pixels) = match self.series {
            Series::Ct => ("CT", "CT phantom (synthetic)", self.ct_pixels()),
            Series::Mr => ("MR", "MR phantom (synthetic)", self.mr_pixels()),
        };
        let bytes: Vec<u8> = pixels.iter().flat_map(|p| p.to_le_bytes()).collect();
        let mut object = InMemDicomObject::from_element_iter([
            text(tags::SPECIFIC_CHARACTER_SET, VR::CS, "ISO_IR 100"),
            text(tags::IMAGE_TYPE, VR::CS, "ORIGINAL\\PRIMARY\\AXIAL"),
            text(tags::SOP_CLASS_UID, VR::UI, self.series.class()),
            text(tags::SOP_INSTANCE_UID, VR::UI, &self.sop_uid()),
            text(tags::STUDY_DATE, VR::DA, "20260101"),
            text(tags::SERIES_DATE, VR::DA, "20260101"),
            text(tags::STUDY_TIME, VR::TM, "120000"),
            text(
                tags::ACCESSION_NUMBER,
                VR::SH,
                &format!("KBS{}", self.study),
            ),
            text(tags::MODALITY, VR::CS, modality),
            text(tags::MANUFACTURER, VR::LO, "korthbox"),
            text(tags::REFERRING_PHYSICIAN_NAME, VR::PN, ""),
            text(
                tags::STUDY_DESCRIPTION,
                VR::LO,
                &format!("korthbox sample {} (synthetic phantom)", self.study),
            ),
            text(tags::SERIES_DESCRIPTION, VR::LO, description),
            text(tags::PATIENT_NAME, VR::PN, patient_name),
            text(tags::PATIENT_ID, VR::LO, patient_id),
            text(tags::PATIENT_BIRTH_DATE, VR::DA, ""),
            text(tags::PATIENT_SEX, VR::CS, "O"),
            text(tags::BODY_PART_EXAMINED, VR::CS, "PHANTOM"),
            text(tags::SLICE_THICKNESS, VR::DS, "5"),
            text(tags::STUDY_INSTANCE_UID, VR::UI, &self.study_uid()),
            text(tags::SERIES_INSTANCE_UID, VR::UI, &self.series_uid()),
            text(tags::STUDY_ID, VR::SH, &format!("KB{}", self.study)),
            text(
                tags::SERIES_NUMBER,
                VR::IS,
                &self.series.number().to_string(),
            ),
            text(tags::INSTANCE_NUMBER, VR::IS, &self.slice.to_string()),
            text(
                tags::IMAGE_POSITION_PATIENT,
                VR::DS,
                &format!("-128\\-128\\{z}"),
            ),
            text(tags::IMAGE_ORIENTATION_PATIENT, VR::DS, "1\\0\\0\\0\\1\\0"),
            text(
                tags::FRAME_OF_REFERENCE_UID,
                VR::UI,
                &format!("{}.0", self.series_uid()),
            ),
            text(tags::POSITION_REFERENCE_INDICATOR, VR::LO, ""),
            text(tags::SLICE_LOCATION, VR::DS, &format!("{z}")),
            short(tags::SAMPLES_PER_PIXEL, 1),
            text(tags::PHOTOMETRIC_INTERPRETATION, VR::CS, "MONOCHROME2"),
            short(tags::ROWS, SIZE),
            short(tags::COLUMNS, SIZE),
            text(tags::PIXEL_SPACING, VR::DS, "1\\1"),
            short(tags::BITS_ALLOCATED, 16),
            short(tags::BITS_STORED, 12),
            short(tags::HIGH_BIT, 11),
            short(tags::PIXEL_REPRESENTATION, 0),
            DataElement::new(tags::PIXEL_DATA, VR::OW, PrimitiveValue::from(bytes)),
        ]);
        for e in self.modality_elements() {
            object.put(e);
        }
        object
    }

    /// What the CT or MR series adds: rescale and window, or the MR acquisition.
    fn modality_elements(&self) -> Vec<DataElement<InMemDicomObject>> {
        let text = |tag, vr, value: &str| DataElement::new(tag, vr, PrimitiveValue::from(value));
        match self.series {
            Series::Ct => vec![
                text(tags::KVP, VR::DS, "120"),
                text(tags::WINDOW_CENTER, VR::DS, "40"),
                text(tags::WINDOW_WIDTH, VR::DS, "400"),
                text(tags::RESCALE_INTERCEPT, VR::DS, "-1024"),
                text(tags::RESCALE_SLOPE, VR::DS, "1"),
                text(tags::RESCALE_TYPE, VR::LO, "HU"),
            ],
            Series::Mr => vec![
                text(tags::SCANNING_SEQUENCE, VR::CS, "SE"),
                text(tags::SEQUENCE_VARIANT, VR::CS, "NONE"),
                text(tags::SCAN_OPTIONS, VR::CS, ""),
                text(tags::MR_ACQUISITION_TYPE, VR::CS, "2D"),
                text(tags::REPETITION_TIME, VR::DS, "500"),
                text(tags::ECHO_TIME, VR::DS, "20"),
                text(tags::ECHO_TRAIN_LENGTH, VR::IS, "1"),
                text(tags::MAGNETIC_FIELD_STRENGTH, VR::DS, "1.5"),
                text(tags::WINDOW_CENTER, VR::DS, "1300"),
                text(tags::WINDOW_WIDTH, VR::DS, "2600"),
            ],
        }
    }

    /// The instance as a DICOM file (Explicit VR Little Endian).
    pub fn file(&self) -> Result<Vec<u8>, String> {
        super::instance::part10(self.object())
    }

    /// Where `--output-dir` puts the file: `<study>/<series>/<slice>.dcm`.
    pub fn file_name(&self) -> String {
        let series = match self.series {
            Series::Ct => "ct",
            Series::Mr => "mr",
        };
        format!("study-{}/{series}/{:03}.dcm", self.study, self.slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_deterministic_and_distinct() {
        let all = all(2);
        assert_eq!(all.len() as u32, 2 * per_study());
        let a = all[0].object();
        let b = all[0].object();
        assert_eq!(
            a.element(tags::PIXEL_DATA).unwrap().to_bytes().unwrap(),
            b.element(tags::PIXEL_DATA).unwrap().to_bytes().unwrap()
        );
        let uids: std::collections::BTreeSet<String> = all.iter().map(Sample::sop_uid).collect();
        assert_eq!(uids.len(), all.len());
        assert!(
            uids.iter()
                .all(|u| u.len() <= 64 && u.starts_with(UID_ROOT))
        );
        // The contrast sphere makes the middle CT slice differ from the first.
        let first = all[0].ct_pixels();
        let middle = all[(CT_SLICES / 2) as usize].ct_pixels();
        assert_ne!(first, middle);
        let water = first[usize::from(SIZE) * 128 + 128];
        assert!((1000..1050).contains(&water), "{water}");
    }
}

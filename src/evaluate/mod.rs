//! Orthanc and DICOM, for proving and evaluating a sandbox or any Orthanc: the Orthanc client
//! (`orthanc`), DICOM on dicom-rs (`dicom`), the proof (`proof`), the synthetic studies
//! (`samples`), the user's own files (`upload`) and getting them back (`export`).

pub mod dicom;
pub mod export;
pub mod orthanc;
pub mod proof;
pub mod samples;
pub mod upload;

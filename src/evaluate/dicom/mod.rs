//! DICOM as korthbox speaks it, on dicom-rs: the synthetic instances the proof stores
//! (`instance`), and the service-class user that echoes, stores and finds (`scu`).

mod identity;
pub mod instance;
pub mod phantom;
pub mod scu;

pub use identity::{CALLING_AET, IMPLEMENTATION_VERSION, UID_ROOT};
pub use instance::{Received, Synthetic};
pub use scu::Peer;

//! Who korthbox is in DICOM: its UID root, its calling AE title, its implementation version.

/// korthbox's UID root (a UUID-derived OID under 2.25, RFC 4122 / ISO/IEC 9834-8). Every UID
/// korthbox makes is this root, a kind digit and a 16-digit number, at most 63 characters; the
/// root alone is korthbox's implementation class UID.
pub const UID_ROOT: &str = "2.25.305828167214931234517716240926712093571";

/// The calling AE title korthbox uses.
pub const CALLING_AET: &str = "KORTHBOX-PROOF";

/// The implementation version name korthbox writes into the files it makes (16 characters at most).
pub const IMPLEMENTATION_VERSION: &str = concat!("KORTHBOX_", env!("CARGO_PKG_VERSION"));

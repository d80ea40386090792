//! What every layer shares: the sandbox's spec, the environment variables korthbox reads, the
//! one error type, how library code reports, the template language and the pins.

pub mod env;
pub mod error;
pub mod pins;
pub mod report;
pub mod spec;
pub mod template;

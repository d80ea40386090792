//! The command line: its grammar (clap types, `grammar`), what the user typed before clap reads
//! it (`argv`), `korthbox.toml` (`config`), what each command does (`commands`) and everything
//! that knows about terminals (`ui`).

pub mod argv;
pub mod commands;
pub mod config;
pub mod grammar;
pub mod ui;

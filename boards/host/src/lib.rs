//! `mote-boards`: the host side of running mote blobs on microcontrollers.
//!
//! - [`Board`] reads a board folder (`boards/<name>/board.toml` beside its `memory.x`);
//! - [`firmware::build`] builds `firmware/` for a board with cargo (its own incremental build is
//!   the cache);
//! - [`partition::write`] lays out a model partition (header, blob, int8 input rows);
//! - [`qemu::run`] runs firmware and partition under `qemu-system-arm` and [`log::decode`]
//!   turns the defmt frames it printed into text with the ELF's table;
//! - [`device::run_rows`] does all of that and returns the outputs the device computed, and
//!   [`bench::bench`] the instruction counts, flash and RAM behind `mote bench`;
//! - [`rec`] encodes a recommender blob's rows (item histories) and decodes its outputs;
//! - [`flash::flash`] writes a blob to a real board with probe-rs and runs it (`mote flash`).
#![deny(missing_docs)]

pub mod bench;
mod board;
pub mod device;
pub mod elf;
mod error;
pub mod firmware;
pub mod flash;
pub mod log;
pub mod partition;
pub mod qemu;
pub mod rec;

pub use bench::{bench, footprint, BenchReport, Footprint};
pub use board::{Board, ProbeConfig, QemuConfig};
pub use device::{run_rows, DeviceRun};
pub use error::BoardError;
pub use flash::flash;

use std::path::PathBuf;

/// The root of the mote repository: `$MOTE_ROOT` if set, else the checkout this crate was
/// built from (where `firmware/` and `boards/` are).
pub fn repo_root() -> PathBuf {
    match std::env::var_os("MOTE_ROOT") {
        Some(root) => PathBuf::from(root),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join(".."),
    }
}

/// The board folders' parent, `boards/`.
pub fn boards_dir() -> PathBuf {
    repo_root().join("boards")
}

/// True when `program --version` runs and succeeds: the tool is installed.
fn tool_available(program: &str) -> bool {
    std::process::Command::new(program)
        .arg("--version")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

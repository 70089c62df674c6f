//! Builds `firmware/` for a board with cargo.
//!
//! `firmware/` is a workspace: `mote-firmware` (cortex-m-rt, every Cortex-M board), the
//! ESP32-C3's own entry `mote-firmware-esp32c3` (esp-hal; a board names its package in
//! `board.toml`'s `firmware`), and applications such as the sensor example
//! `mote-sensor-nrf52840` ([`build_app`]). Each package's binary has the package's name.
//!
//! Each board, and each set of firmware features, gets its own target directory
//! (`firmware/target/<board>` or `firmware/target/<board>-layer-timing`), so boards that share a
//! target triple but not CPU flags (qemu-m33 and qemu-m55), and the test and bench builds, never
//! invalidate each other; cargo's incremental build is the cache, and a rebuild with nothing
//! changed takes well under a second.

use crate::error::{io, BoardError};
use crate::Board;
use std::path::PathBuf;
use std::process::Command;

/// Name of the Cortex-M firmware package and binary (a board's default `firmware`).
pub const BINARY: &str = "mote-firmware";
/// The footprint probe (`firmware/footprint`), built with [`build_footprint`].
pub const FOOTPRINT: &str = "mote-footprint";
/// The sensor example for the nRF52840-DK (`firmware/sensor-nrf52840`), built with [`build_app`].
pub const SENSOR_NRF52840: &str = "mote-sensor-nrf52840";

/// The `firmware/` folder.
pub fn dir() -> PathBuf {
    crate::repo_root().join("firmware")
}

/// Optional firmware features.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Features {
    /// Also run each row layer by layer and report per-layer ticks (feature `layer-timing`).
    pub layer_timing: bool,
    /// Parse the blob from a RAM copy at an address that is not 4-byte aligned (feature
    /// `misaligned-blob`, a test aid).
    pub misaligned_blob: bool,
}

impl Features {
    fn suffix(self) -> &'static str {
        match (self.layer_timing, self.misaligned_blob) {
            (false, false) => "",
            (true, false) => "-layer-timing",
            (false, true) => "-misaligned-blob",
            (true, true) => "-layer-timing-misaligned-blob",
        }
    }
}

fn target_dir(board: &Board, features: Features) -> PathBuf {
    dir()
        .join("target")
        .join(format!("{}{}", board.name, features.suffix()))
}

/// Where the firmware ELF for `board` is (or will be) built.
pub fn elf_path(board: &Board, features: Features) -> PathBuf {
    target_dir(board, features)
        .join(&board.target)
        .join("release")
        .join(&board.firmware)
}

/// Where the ELF of the application `package` for `board` is (or will be) built.
pub fn app_elf_path(board: &Board, package: &str) -> PathBuf {
    target_dir(board, Features::default())
        .join(&board.target)
        .join("release")
        .join(package)
}

/// Builds the firmware for `board` (release profile, default features) and returns the ELF's
/// path.
pub fn build(board: &Board) -> Result<PathBuf, BoardError> {
    build_with(board, Features::default())
}

/// Builds the firmware for `board` with `features` and returns the ELF's path.
pub fn build_with(board: &Board, features: Features) -> Result<PathBuf, BoardError> {
    let mut feature_list: Vec<&str> = board.features.iter().map(String::as_str).collect();
    if features.layer_timing {
        feature_list.push("layer-timing");
    }
    if features.misaligned_blob {
        feature_list.push("misaligned-blob");
    }
    let mut feature_args = Vec::new();
    if !board.default_features {
        feature_args.push("--no-default-features".to_string());
    }
    if !feature_list.is_empty() {
        feature_args.push("--features".to_string());
        feature_args.push(feature_list.join(","));
    }
    cargo_build(board, &board.firmware, &feature_args, features)?;
    check_elf(elf_path(board, features))
}

/// Builds the application `package` of the `firmware/` workspace (e.g. [`SENSOR_NRF52840`])
/// for `board` (its target, CPU flags and `memory.x`, the package's default features) and
/// returns the ELF's path. It shares the board's target directory with the firmware.
pub fn build_app(board: &Board, package: &str) -> Result<PathBuf, BoardError> {
    cargo_build(board, package, &[], Features::default())?;
    check_elf(app_elf_path(board, package))
}

/// Builds the footprint probe for `board`, with the runtime (features `runtime` and
/// `runtime_features`, e.g. the weight layout `row-quads`) or without it, and returns the ELF's
/// path. Each variant has its own target directory.
pub fn build_footprint(
    board: &Board,
    runtime_features: Option<&[&str]>,
) -> Result<PathBuf, BoardError> {
    let variant = if runtime_features.is_some() {
        "runtime"
    } else {
        "bare"
    };
    let target = dir()
        .join("target")
        .join(format!("{}-footprint-{variant}", board.name));
    let features: Vec<String> = match runtime_features {
        Some(extra) => {
            let list: Vec<&str> = std::iter::once("runtime")
                .chain(extra.iter().copied())
                .collect();
            vec!["--features".to_string(), list.join(",")]
        }
        None => Vec::new(),
    };
    cargo_build_in(board, FOOTPRINT, &features, target.clone())?;
    check_elf(target.join(&board.target).join("release").join(FOOTPRINT))
}

fn cargo_build(
    board: &Board,
    package: &str,
    feature_args: &[String],
    features: Features,
) -> Result<(), BoardError> {
    cargo_build_in(board, package, feature_args, target_dir(board, features))
}

/// `cargo build --release` of `package` for `board` with extra `args`, in `target_dir`.
fn cargo_build_in(
    board: &Board,
    package: &str,
    args: &[String],
    target_dir: PathBuf,
) -> Result<(), BoardError> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .current_dir(dir())
        .args(["build", "--release", "--quiet", "--package", package])
        .args(["--bin", package, "--target"])
        .arg(&board.target)
        .args(args)
        .arg("--target-dir")
        .arg(target_dir);
    let output = command
        .env("MOTE_BOARD", &board.name)
        // The board's flags replace any the caller's environment carries (they would otherwise
        // leak host-only flags into a thumb build, or be overridden by them).
        .env("CARGO_ENCODED_RUSTFLAGS", board.rustflags.join("\u{1f}"))
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_TARGET_DIR")
        .output()
        .map_err(io("running cargo to build the firmware"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let lines: Vec<&str> = stderr.lines().collect();
        let tail = lines[lines.len().saturating_sub(40)..].join("\n");
        return Err(BoardError::Build {
            board: board.name.clone(),
            output: tail,
        });
    }
    Ok(())
}

fn check_elf(elf: PathBuf) -> Result<PathBuf, BoardError> {
    if !elf.is_file() {
        return Err(BoardError::Elf(format!(
            "cargo succeeded but {} is missing",
            elf.display()
        )));
    }
    Ok(elf)
}

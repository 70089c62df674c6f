//! Builds `firmware/` for a board with cargo.
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

/// Name of the firmware binary.
pub const BINARY: &str = "mote-firmware";

/// The `firmware/` folder.
pub fn dir() -> PathBuf {
    crate::repo_root().join("firmware")
}

/// Optional firmware features.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Features {
    /// Also run each row layer by layer and report per-layer ticks (feature `layer-timing`).
    pub layer_timing: bool,
}

impl Features {
    fn suffix(self) -> &'static str {
        if self.layer_timing {
            "-layer-timing"
        } else {
            ""
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
        .join(BINARY)
}

/// Builds the firmware for `board` (release profile, default features) and returns the ELF's
/// path.
pub fn build(board: &Board) -> Result<PathBuf, BoardError> {
    build_with(board, Features::default())
}

/// Builds the firmware for `board` with `features` and returns the ELF's path.
pub fn build_with(board: &Board, features: Features) -> Result<PathBuf, BoardError> {
    let firmware = dir();
    let mut feature_list: Vec<&str> = board.features.iter().map(String::as_str).collect();
    if features.layer_timing {
        feature_list.push("layer-timing");
    }
    let mut feature_args = Vec::new();
    if !board.default_features {
        feature_args.push("--no-default-features".to_string());
    }
    if !feature_list.is_empty() {
        feature_args.push("--features".to_string());
        feature_args.push(feature_list.join(","));
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(&firmware)
        .args(["build", "--release", "--quiet", "--bin", BINARY, "--target"])
        .arg(&board.target)
        .args(&feature_args)
        .arg("--target-dir")
        .arg(target_dir(board, features))
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
    let elf = elf_path(board, features);
    if !elf.is_file() {
        return Err(BoardError::Elf(format!(
            "cargo succeeded but {} is missing",
            elf.display()
        )));
    }
    Ok(elf)
}

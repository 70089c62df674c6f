//! The build scripts' shared part, included by each package's `build.rs` with
//! `#[path = ".../common/build_support.rs"] mod build_support;` (build scripts run on the host,
//! so this is not part of the `no_std` library): the board named by `MOTE_BOARD` (a folder of
//! `boards/`, which the host tooling `mote-boards` sets), its `memory.x` copied onto the linker
//! search path, and the linker scripts.

use std::path::PathBuf;
use std::{env, fs};

/// The board named by `MOTE_BOARD`, or `default` when it is unset; with no default, a missing
/// `MOTE_BOARD` stops the build with an error.
pub fn board(default: Option<&str>) -> String {
    println!("cargo:rerun-if-env-changed=MOTE_BOARD");
    match (env::var("MOTE_BOARD"), default) {
        (Ok(board), _) => board,
        (Err(_), Some(default)) => default.to_string(),
        (Err(_), None) => {
            eprintln!(
                "error: set MOTE_BOARD to a folder of boards/ (e.g. MOTE_BOARD=qemu-m4); \
                 the host tool `mote-boards` does this for you"
            );
            std::process::exit(1);
        }
    }
}

/// Copies `boards/<board>/memory.x` (`boards` relative to the package's manifest) to `name` in
/// `OUT_DIR` and puts `OUT_DIR` on the linker search path.
pub fn copy_memory_x(board: &str, boards: &str, name: &str) {
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let memory_x = manifest_dir.join(boards).join(board).join("memory.x");
    println!("cargo:rerun-if-changed={}", memory_x.display());
    let text = match fs::read(&memory_x) {
        Ok(text) => text,
        Err(e) => {
            eprintln!(
                "error: board `{board}`: cannot read {}: {e}",
                memory_x.display()
            );
            std::process::exit(1);
        }
    };
    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    fs::write(out.join(name), text).expect("OUT_DIR is writable");
    println!("cargo:rustc-link-search={}", out.display());
}

/// Passes `args` to the linker for the package's binaries, in order.
pub fn link_args(args: &[&str]) {
    for arg in args {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
}

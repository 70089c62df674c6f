//! Puts the chosen board's `memory.x` on the linker search path and adds cortex-m-rt's and
//! defmt's linker scripts. The board is named by the `MOTE_BOARD` environment variable
//! (a folder of `../boards/`), which the host tooling (`mote-boards`) sets.

use std::path::PathBuf;
use std::{env, fs};

fn main() {
    println!("cargo:rerun-if-env-changed=MOTE_BOARD");
    let board = match env::var("MOTE_BOARD") {
        Ok(board) => board,
        Err(_) => {
            eprintln!(
                "error: set MOTE_BOARD to a folder of boards/ (e.g. MOTE_BOARD=qemu-m4); \
                 the host tool `mote-boards` does this for you"
            );
            std::process::exit(1);
        }
    };
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let memory_x = manifest_dir
        .join("..")
        .join("boards")
        .join(&board)
        .join("memory.x");
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
    fs::write(out.join("memory.x"), text).expect("OUT_DIR is writable");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-env=MOTE_BOARD={board}");
    println!("cargo:rustc-link-arg-bins=--nmagic");
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
}

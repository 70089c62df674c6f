//! Puts the board's `memory.x` (`../../boards/$MOTE_BOARD/`, nrf52840-dk unless the host
//! tooling names another) on the linker path, with cortex-m-rt's `link.x` and defmt's
//! `defmt.x`: the same memory map and model partition as `mote-firmware` on that board.

use std::path::PathBuf;
use std::{env, fs};

fn main() {
    println!("cargo:rerun-if-env-changed=MOTE_BOARD");
    let board = env::var("MOTE_BOARD").unwrap_or_else(|_| "nrf52840-dk".to_string());
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let memory_x = manifest_dir
        .join("../../boards")
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
    println!("cargo:rustc-link-arg-bins=--nmagic");
    println!("cargo:rustc-link-arg-bins=-Tlink.x");
    println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
}

//! Links the ESP32-C3 firmware: esp-hal's `linkall.x`, defmt's `defmt.x`, and the board's
//! `memory.x` (only the model partition's bounds: esp-hal brings the chip's memory map) copied
//! to `mote-partition.x`, so it does not shadow esp-hal's own `memory.x` on the search path.

use std::path::PathBuf;
use std::{env, fs};

fn main() {
    println!("cargo:rerun-if-env-changed=MOTE_BOARD");
    let board = env::var("MOTE_BOARD").unwrap_or_else(|_| "esp32c3".to_string());
    let manifest_dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let partition_x = manifest_dir
        .join("../../boards")
        .join(&board)
        .join("memory.x");
    println!("cargo:rerun-if-changed={}", partition_x.display());
    let text = match fs::read(&partition_x) {
        Ok(text) => text,
        Err(e) => {
            eprintln!(
                "error: board `{board}`: cannot read {}: {e}",
                partition_x.display()
            );
            std::process::exit(1);
        }
    };
    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    fs::write(out.join("mote-partition.x"), text).expect("OUT_DIR is writable");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rustc-env=MOTE_BOARD={board}");
    println!("cargo:rustc-link-arg-bins=-Tmote-partition.x");
    println!("cargo:rustc-link-arg-bins=-Tlinkall.x");
    println!("cargo:rustc-link-arg-bins=-Tdefmt.x");
}

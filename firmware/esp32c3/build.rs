//! Links the ESP32-C3 firmware: esp-hal's `linkall.x`, defmt's `defmt.x`, and the board's
//! `memory.x` (only the model partition's bounds: esp-hal brings the chip's memory map) copied
//! to `mote-partition.x`, so it does not shadow esp-hal's own `memory.x` on the search path.

#[path = "../common/build_support.rs"]
mod build_support;

fn main() {
    let board = build_support::board(Some("esp32c3"));
    build_support::copy_memory_x(&board, "../../boards", "mote-partition.x");
    println!("cargo:rustc-env=MOTE_BOARD={board}");
    build_support::link_args(&["-Tmote-partition.x", "-Tlinkall.x", "-Tdefmt.x"]);
}

//! Puts the chosen board's `memory.x` on the linker search path and adds cortex-m-rt's and
//! defmt's linker scripts. The board is named by the `MOTE_BOARD` environment variable
//! (a folder of `../boards/`), which the host tooling (`mote-boards`) sets.

#[path = "common/build_support.rs"]
mod build_support;

fn main() {
    let board = build_support::board(None);
    build_support::copy_memory_x(&board, "../boards", "memory.x");
    println!("cargo:rustc-env=MOTE_BOARD={board}");
    build_support::link_args(&["--nmagic", "-Tlink.x", "-Tdefmt.x"]);
}

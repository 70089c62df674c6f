//! The board's `memory.x` (named by `MOTE_BOARD`, as for the main firmware) and cortex-m-rt's
//! linker script; no defmt, so the only code measured is the program's own.

#[path = "../common/build_support.rs"]
mod build_support;

fn main() {
    let board = build_support::board(None);
    build_support::copy_memory_x(&board, "../../boards", "memory.x");
    build_support::link_args(&["--nmagic", "-Tlink.x"]);
}

//! Puts the board's `memory.x` (`../../boards/$MOTE_BOARD/`, nrf52840-dk unless the host
//! tooling names another) on the linker path, with cortex-m-rt's `link.x` and defmt's
//! `defmt.x`: the same memory map and model partition as `mote-firmware` on that board.

#[path = "../common/build_support.rs"]
mod build_support;

fn main() {
    let board = build_support::board(Some("nrf52840-dk"));
    build_support::copy_memory_x(&board, "../../boards", "memory.x");
    build_support::link_args(&["--nmagic", "-Tlink.x", "-Tdefmt.x"]);
}

//! The firmware builds for every board folder: the emulated ones (which `qemu_bit_exact.rs`
//! also runs) and the real ones (nRF52840-DK, NUCLEO-F411RE, Raspberry Pi Pico), which run only
//! on hardware through probe-rs. Each ELF must link the model partition where `board.toml` says.

use mote_boards::elf::Elf;
use mote_boards::{firmware, Board};

#[test]
fn firmware_builds_for_every_board() {
    let names = Board::names().unwrap();
    assert!(names.len() >= 7, "board folders: {names:?}");
    for name in names {
        let board = Board::load(&name).unwrap();
        let elf_path = firmware::build(&board).unwrap_or_else(|e| panic!("{name}: {e}"));
        let bytes = std::fs::read(&elf_path).unwrap();
        let elf = Elf::parse(&bytes).unwrap();
        let (start, end) = elf.partition().unwrap();
        assert_eq!(
            (start, end - start),
            (board.partition, board.partition_len),
            "{name}: memory.x and board.toml disagree on the partition"
        );
        assert!(elf.sections().text > 0, "{name}: no code");
        if board.probe.is_some() {
            assert!(
                elf.symbol("_SEGGER_RTT").is_ok(),
                "{name}: no RTT control block"
            );
        }
    }
}

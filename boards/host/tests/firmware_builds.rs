//! The firmware builds for every board folder: the emulated ones (which `qemu_bit_exact.rs`
//! also runs) and the real ones (nRF52840-DK, NUCLEO-F411RE, Raspberry Pi Pico with
//! `mote-firmware`; the ESP32-C3 with its own entry `mote-firmware-esp32c3`), which run only on
//! hardware through probe-rs. Each ELF must link the model partition where `board.toml` says.
//! The sensor example's board binary (`mote-sensor-nrf52840`) builds too.

use mote_boards::elf::Elf;
use mote_boards::{firmware, Board};
use std::path::Path;

/// The ELF at `path` links `board`'s model partition, has code, and (real boards) an RTT
/// control block for probe-rs.
fn check(board: &Board, path: &Path) {
    let name = &board.name;
    let bytes = std::fs::read(path).unwrap();
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

#[test]
fn firmware_builds_for_every_board() {
    let names = Board::names().unwrap();
    assert!(names.len() >= 8, "board folders: {names:?}");
    for name in names {
        let board = Board::load(&name).unwrap();
        let elf_path = firmware::build(&board).unwrap_or_else(|e| panic!("{name}: {e}"));
        check(&board, &elf_path);
    }
}

#[test]
fn esp32c3_firmware_carries_the_esp_idf_app_descriptor() {
    let board = Board::load("esp32c3").unwrap();
    let elf_path = firmware::build(&board).unwrap();
    let bytes = std::fs::read(&elf_path).unwrap();
    let elf = Elf::parse(&bytes).unwrap();
    // The ESP-IDF bootloader (and probe-rs's image step) want it at the start of the
    // flash-mapped data, 0x3C00_0020.
    assert_eq!(elf.symbol("esp_app_desc").unwrap(), (0x3C00_0020, 256));
}

#[test]
fn sensor_app_builds_for_the_nrf52840_dk() {
    let board = Board::load("nrf52840-dk").unwrap();
    let elf_path = firmware::build_app(&board, firmware::SENSOR_NRF52840)
        .unwrap_or_else(|e| panic!("{}: {e}", firmware::SENSOR_NRF52840));
    check(&board, &elf_path);
}

#[test]
fn footprint_probe_measures_the_runtime() {
    let footprint = mote_boards::footprint("qemu-m4", &["row-quads"]).unwrap();
    let (bare, with) = (&footprint.bare, &footprint.with_runtime);
    assert!(bare.text > 0 && with.text > bare.text, "{footprint:?}");
    assert_eq!(
        footprint.runtime_bytes,
        with.text + with.rodata - bare.text - bare.rodata
    );
    // The runtime is real code (parse, CRC table, kernels), and an MLP firmware's share of
    // flash is bounded: a regression guard, not the target (see `mote bench --kernels`).
    assert!(
        (4_000..24_000).contains(&footprint.runtime_bytes),
        "runtime code {} bytes",
        footprint.runtime_bytes
    );
}

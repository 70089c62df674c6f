//! A board folder: `boards/<name>/board.toml` beside the `memory.x` the firmware links with.

use crate::error::{io, BoardError};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// One board: how to build the firmware for it and, for emulated boards, how to run it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Board {
    /// The folder name, e.g. `qemu-m4`.
    pub name: String,
    /// The Rust target triple of the firmware.
    pub target: String,
    /// Extra rustc flags for the firmware build (e.g. `-C target-cpu=cortex-m55`).
    #[serde(default)]
    pub rustflags: Vec<String>,
    /// The firmware package (a member of the `firmware/` workspace) and binary that runs blobs
    /// on this board: [`firmware::BINARY`](crate::firmware::BINARY) (cortex-m-rt) unless the
    /// chip needs its own entry (`mote-firmware-esp32c3`).
    #[serde(default = "default_firmware")]
    pub firmware: String,
    /// Whether the firmware's default features (defmt over semihosting) are on.
    #[serde(default = "yes")]
    pub default_features: bool,
    /// Firmware features the board needs (e.g. `rtt`, `rp2040-boot2`).
    #[serde(default)]
    pub features: Vec<String>,
    /// Flash address of the model partition (the origin of MODEL in `memory.x`).
    pub partition: u64,
    /// Bytes reserved for the model partition.
    pub partition_len: u64,
    /// How QEMU emulates the board; `None` for real boards.
    #[serde(default)]
    pub qemu: Option<QemuConfig>,
    /// How probe-rs reaches a real board; `None` for emulated ones.
    #[serde(default)]
    pub probe: Option<ProbeConfig>,
    /// Folder the board was read from (not in the file).
    #[serde(skip)]
    pub dir: PathBuf,
}

/// The `[qemu]` table of an emulated board.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QemuConfig {
    /// `-machine` of `qemu-system-arm`.
    pub machine: String,
    /// Frequency of the clock SysTick counts in QEMU's model of the board.
    pub sysclk_hz: u64,
}

/// The `[probe]` table of a real board.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProbeConfig {
    /// probe-rs's chip name (`probe-rs chip list`), e.g. `nRF52840_xxAA`.
    pub chip: String,
    /// `--binary-format` of `probe-rs run`, when the ELF is not flashed as it is: `idf` for
    /// Espressif chips, whose ROM boots an ESP-IDF bootloader that loads an app image.
    #[serde(default)]
    pub binary_format: Option<String>,
    /// ESP-IDF partition table (CSV, relative to the board folder) that probe-rs flashes with
    /// the bootloader and the app image (`--idf-partition-table`); it declares the model
    /// partition so that nothing else is placed there.
    #[serde(default)]
    pub idf_partition_table: Option<String>,
}

fn yes() -> bool {
    true
}

fn default_firmware() -> String {
    crate::firmware::BINARY.to_string()
}

impl Board {
    /// Checks that a partition image fits this board's model partition.
    pub fn check_fits(&self, image: &[u8]) -> Result<(), BoardError> {
        if image.len() as u64 > self.partition_len {
            return Err(BoardError::Partition(format!(
                "{} bytes do not fit the {}-byte partition of `{}`",
                image.len(),
                self.partition_len,
                self.name
            )));
        }
        Ok(())
    }

    /// Reads `boards/<name>/board.toml`.
    pub fn load(name: &str) -> Result<Board, BoardError> {
        Board::load_from(&crate::boards_dir(), name)
    }

    /// Reads `<boards>/<name>/board.toml`.
    pub fn load_from(boards: &Path, name: &str) -> Result<Board, BoardError> {
        let dir = boards.join(name);
        let path = dir.join("board.toml");
        if name.is_empty() || name.contains(['/', '\\', '.']) || !path.is_file() {
            return Err(BoardError::UnknownBoard {
                name: name.to_string(),
                known: Board::names_in(boards).unwrap_or_default(),
            });
        }
        let text = std::fs::read_to_string(&path).map_err(io(format!("{}", path.display())))?;
        let mut board: Board = toml::from_str(&text).map_err(|e| BoardError::BoardFile {
            path: path.clone(),
            message: e.to_string(),
        })?;
        if board.name != name {
            return Err(BoardError::BoardFile {
                path,
                message: format!("name `{}` differs from its folder `{name}`", board.name),
            });
        }
        board.dir = dir;
        Ok(board)
    }

    /// Names of all board folders under `boards/`, sorted.
    pub fn names() -> Result<Vec<String>, BoardError> {
        Board::names_in(&crate::boards_dir())
    }

    fn names_in(boards: &Path) -> Result<Vec<String>, BoardError> {
        let entries =
            std::fs::read_dir(boards).map_err(io(format!("listing {}", boards.display())))?;
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter(|e| e.path().join("board.toml").is_file())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        Ok(names)
    }

    /// The probe-rs settings, or an error naming an emulated board.
    pub fn probe(&self) -> Result<&ProbeConfig, BoardError> {
        self.probe
            .as_ref()
            .ok_or_else(|| BoardError::NotReal(self.name.clone()))
    }

    /// The QEMU settings, or an error naming a real board.
    pub fn qemu(&self) -> Result<&QemuConfig, BoardError> {
        self.qemu
            .as_ref()
            .ok_or_else(|| BoardError::NotEmulated(self.name.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_board_folder_loads() {
        let names = Board::names().unwrap();
        for name in [
            "qemu-m4",
            "qemu-m7",
            "qemu-m33",
            "qemu-m55",
            "nrf52840-dk",
            "nucleo-f411re",
            "rp-pico",
            "esp32c3",
        ] {
            assert!(
                names.iter().any(|n| n == name),
                "{name} missing from {names:?}"
            );
        }
        for name in names {
            let board = Board::load(&name).unwrap();
            assert!(board.dir.join("memory.x").is_file(), "{name}: no memory.x");
            assert!(board.partition_len > 0);
            assert!(
                board.qemu.is_some() != board.probe.is_some(),
                "{name}: exactly one of [qemu] and [probe]"
            );
            if let Some(table) = board
                .probe
                .as_ref()
                .and_then(|p| p.idf_partition_table.as_ref())
            {
                assert!(board.dir.join(table).is_file(), "{name}: no {table}");
            }
        }
    }

    #[test]
    fn unknown_board_lists_the_known_ones() {
        let e = Board::load("no-such-board").unwrap_err();
        assert!(e.to_string().contains("qemu-m4"), "{e}");
    }
}

//! `mote flash`: writes a blob into a real board's model partition with probe-rs, flashes the
//! firmware if the board does not have it yet, and runs it, streaming the defmt log.
//!
//! probe-rs is an external tool (`cargo install probe-rs-tools --locked`, about 13 minutes to
//! build on 2 cores, so never in CI): the host shells out to it, which keeps the default build
//! lean. Steps:
//! 1. `probe-rs download --chip CHIP --binary-format bin --base-address PARTITION image.bin`
//!    writes the partition (only the sectors of the `MODEL` region are erased);
//! 2. `probe-rs run --chip CHIP --preverify firmware.elf` flashes the firmware unless the board
//!    already holds exactly this image (`--preverify` reads back first), resets, and streams
//!    the defmt log over RTT, decoding it with the ELF. Its exit status is the firmware's.
//!    For Espressif chips (`[probe] binary_format = "idf"`), probe-rs first turns the ELF into
//!    an ESP-IDF app image and flashes it with its second-stage bootloader and the board's
//!    partition table (`--binary-format idf --idf-partition-table boards/<board>/...`).
//!
//! With `model_only` the firmware is not rebuilt: the ELF built last time is used. With `app`
//! another package of `firmware/` runs on the model (the sensor example, `mote-sensor-nrf52840`).

use crate::error::{io, BoardError};
use crate::{bench, firmware, partition, Board};
use mote_runtime::AnyModel;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The probe-rs binary.
pub const PROBE_RS: &str = "probe-rs";
/// How to install it.
pub const INSTALL: &str = "cargo install probe-rs-tools --locked";

/// What to flash.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Options<'a> {
    /// Only replace the model: reuse the firmware ELF built before instead of rebuilding it.
    pub model_only: bool,
    /// Run this package of `firmware/` (e.g. [`firmware::SENSOR_NRF52840`]) on the model
    /// instead of the board's firmware.
    pub app: Option<&'a str>,
}

/// True when `probe-rs` can be started.
pub fn probe_rs_available() -> bool {
    crate::tool_available(PROBE_RS)
}

/// Arguments of `probe-rs download` writing a partition `image` at `address`.
pub fn download_args(chip: &str, image: &Path, address: u64) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["download", "--chip", chip, "--binary-format", "bin"]
        .iter()
        .map(OsString::from)
        .collect();
    args.push("--base-address".into());
    args.push(format!("{address:#x}").into());
    args.push(image.into());
    args
}

/// Arguments of `probe-rs run` flashing (if needed) and running `elf`.
pub fn run_args(chip: &str, elf: &Path) -> Vec<OsString> {
    let mut args: Vec<OsString> = ["run", "--chip", chip, "--preverify"]
        .iter()
        .map(OsString::from)
        .collect();
    args.push(elf.into());
    args
}

/// Arguments of `probe-rs run` for `board`: [`run_args`], plus the image format and the ESP-IDF
/// partition table of its `[probe]` table (Espressif chips).
pub fn board_run_args(board: &Board, elf: &Path) -> Result<Vec<OsString>, BoardError> {
    let probe = board.probe()?;
    let mut args = run_args(&probe.chip, elf);
    let elf = args.pop();
    if let Some(format) = &probe.binary_format {
        args.push("--binary-format".into());
        args.push(format.into());
    }
    if let Some(table) = &probe.idf_partition_table {
        args.push("--idf-partition-table".into());
        args.push(board.dir.join(table).into());
    }
    args.extend(elf);
    Ok(args)
}

/// Flashes `blob` (with `rows`, or pseudo-random rows) to `board_name` and runs it; the defmt
/// log goes to this process's stdout.
pub fn flash(
    board_name: &str,
    blob: &[u8],
    rows: Option<&[Vec<i8>]>,
    options: Options<'_>,
) -> Result<(), BoardError> {
    let board = Board::load(board_name)?;
    let chip = board.probe()?.chip.clone();
    if !probe_rs_available() {
        return Err(BoardError::ProbeRsMissing);
    }
    let model = AnyModel::parse(blob).map_err(BoardError::Blob)?;
    // Row bytes: int8 inputs of an MLP, the f32 features of a GP.
    let row_len = match &model {
        AnyModel::Mlp(m) => m.input_len(),
        AnyModel::SparseGp(gp) => 4 * gp.input_len(),
    };
    let generated;
    let rows = match rows {
        Some(rows) => rows,
        None => {
            generated = match &model {
                AnyModel::Mlp(m) => bench::pseudo_random_rows(bench::DEFAULT_ROWS, m.input_len()),
                AnyModel::SparseGp(gp) => bench::gp_rows(gp, bench::DEFAULT_ROWS),
            };
            &generated
        }
    };
    let image = partition::write(blob, rows, row_len)?;
    board.check_fits(&image)?;
    let elf = firmware_elf(&board, options)?;
    let image_path = std::env::temp_dir().join(format!(
        "mote-{}-partition-{}.bin",
        board.name,
        std::process::id()
    ));
    std::fs::write(&image_path, &image).map_err(io(format!("writing {}", image_path.display())))?;
    let written = probe_rs(
        "writing the model partition",
        &download_args(&chip, &image_path, board.partition),
    );
    let _ = std::fs::remove_file(&image_path);
    written?;
    probe_rs("running the firmware", &board_run_args(&board, &elf)?)
}

fn firmware_elf(board: &Board, options: Options<'_>) -> Result<PathBuf, BoardError> {
    let elf = match options.app {
        Some(app) if !options.model_only => return firmware::build_app(board, app),
        Some(app) => firmware::app_elf_path(board, app),
        None if !options.model_only => return firmware::build(board),
        None => firmware::elf_path(board, firmware::Features::default()),
    };
    if elf.is_file() {
        Ok(elf)
    } else {
        Err(BoardError::Partition(format!(
            "--model-only needs the firmware built before: run `mote flash` once without it \
             ({} is missing)",
            elf.display()
        )))
    }
}

fn probe_rs(step: &str, args: &[OsString]) -> Result<(), BoardError> {
    let status = Command::new(PROBE_RS)
        .args(args)
        .status()
        .map_err(io(format!("starting {PROBE_RS}")))?;
    if status.success() {
        return Ok(());
    }
    Err(BoardError::Probe {
        step: step.to_string(),
        status: status.code(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_rs_command_lines() {
        let download = download_args("nRF52840_xxAA", Path::new("/tmp/p.bin"), 0x8_0000);
        assert_eq!(
            download,
            [
                "download",
                "--chip",
                "nRF52840_xxAA",
                "--binary-format",
                "bin",
                "--base-address",
                "0x80000",
                "/tmp/p.bin"
            ]
            .map(OsString::from)
        );
        let run = run_args("RP2040", Path::new("fw.elf"));
        assert_eq!(
            run,
            ["run", "--chip", "RP2040", "--preverify", "fw.elf"].map(OsString::from)
        );
        let pico = Board::load("rp-pico").unwrap();
        assert_eq!(board_run_args(&pico, Path::new("fw.elf")).unwrap(), run);
    }

    #[test]
    fn esp32c3_runs_an_idf_image_with_its_partition_table() {
        let board = Board::load("esp32c3").unwrap();
        let run = board_run_args(&board, Path::new("fw.elf")).unwrap();
        let table = board.dir.join("partitions.csv");
        let expected: Vec<OsString> = [
            "run",
            "--chip",
            "esp32c3",
            "--preverify",
            "--binary-format",
            "idf",
            "--idf-partition-table",
        ]
        .iter()
        .map(OsString::from)
        .chain([table.into_os_string(), "fw.elf".into()])
        .collect();
        assert_eq!(run, expected);
        assert!(board.dir.join("partitions.csv").is_file());
    }

    #[test]
    fn missing_probe_rs_names_the_install_command() {
        if probe_rs_available() {
            return; // would really flash
        }
        let e = flash("nrf52840-dk", &[], None, Options::default()).unwrap_err();
        assert!(matches!(e, BoardError::ProbeRsMissing), "{e}");
        assert!(e.to_string().contains(INSTALL), "{e}");
    }

    #[test]
    fn emulated_boards_are_refused() {
        let e = flash("qemu-m4", &[], None, Options::default()).unwrap_err();
        assert!(matches!(e, BoardError::NotReal(_)), "{e}");
    }
}

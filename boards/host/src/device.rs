//! Runs a blob on input rows on an emulated board and reads back what the firmware reported.

use crate::error::io;
use crate::{elf::Elf, firmware, log, partition, qemu, Board, BoardError};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Everything the firmware reported for one run.
#[derive(Debug, Clone)]
pub struct DeviceRun {
    /// The board it ran on.
    pub board: String,
    /// The firmware ELF that ran.
    pub elf: PathBuf,
    /// One int8 output per input row, as the device computed it.
    pub outputs: Vec<Vec<i8>>,
    /// SysTick ticks `Model::parse` took.
    pub parse_ticks: u64,
    /// SysTick ticks of each row's `Model::run`.
    pub row_ticks: Vec<u64>,
    /// Per layer: its op name and its ticks summed over all rows (empty if not reported).
    pub layer_ticks: Vec<(String, u64)>,
    /// Bytes of arena the model asked for.
    pub arena_len: u64,
    /// Number of int8 outputs of the model.
    pub output_len: u64,
    /// Highest stack use, bytes (from stack painting).
    pub stack_bytes: u64,
    /// The whole decoded log.
    pub log: Vec<log::Line>,
}

/// Builds the firmware for `board`, runs `blob` on every row of `rows` under QEMU, and returns
/// what the firmware reported. Fails with [`BoardError::Device`] when the firmware reports an
/// error (the message is its `mote: error:` line).
pub fn run_rows(
    board: &Board,
    blob: &[u8],
    rows: &[Vec<i8>],
    options: qemu::Options,
) -> Result<DeviceRun, BoardError> {
    run_rows_with(board, firmware::Features::default(), blob, rows, options)
}

/// [`run_rows`] with firmware built with `features`.
pub fn run_rows_with(
    board: &Board,
    features: firmware::Features,
    blob: &[u8],
    rows: &[Vec<i8>],
    options: qemu::Options,
) -> Result<DeviceRun, BoardError> {
    let qemu_config = board.qemu()?;
    let row_len = rows.first().map_or(0, Vec::len);
    let image = partition::write(blob, rows, row_len)?;
    let elf_path = firmware::build_with(board, features)?;
    run_image(board, &qemu_config.machine, &elf_path, &image, options)
}

/// Runs an already built firmware on a partition `image` (any bytes: tests pass corrupt ones).
pub fn run_image(
    board: &Board,
    machine: &str,
    elf_path: &Path,
    image: &[u8],
    options: qemu::Options,
) -> Result<DeviceRun, BoardError> {
    let elf_bytes = std::fs::read(elf_path).map_err(io(format!("{}", elf_path.display())))?;
    let (start, end) = Elf::parse(&elf_bytes)?.partition()?;
    if start != board.partition || end - start != board.partition_len {
        return Err(BoardError::BoardFile {
            path: board.dir.join("board.toml"),
            message: format!(
                "partition {:#x}+{:#x} differs from memory.x's MODEL {start:#x}+{:#x}",
                board.partition,
                board.partition_len,
                end - start
            ),
        });
    }
    board.check_fits(image)?;
    let file = TempFile::new(image)?;
    let output = qemu::run(machine, elf_path, Some((&file.0, start)), options)?;
    let log = log::decode(&elf_bytes, &output.stdout)?;
    let mut run = read_report(&log).map_err(|message| {
        let text = log_text(&log);
        let stderr = output.stderr.trim();
        BoardError::Protocol(format!("{message}\nlog:\n{text}\nqemu: {stderr}"))
    });
    if let Some(error) = log.iter().find(|l| l.text.starts_with("mote: error:")) {
        return Err(BoardError::Device {
            status: output.status,
            message: error.text.clone(),
        });
    }
    if output.status != Some(0) {
        return Err(BoardError::Device {
            status: output.status,
            message: format!("{}{}", log_text(&log), output.stderr.trim()),
        });
    }
    if let Ok(run) = run.as_mut() {
        run.board = board.name.clone();
        run.elf = elf_path.to_path_buf();
        run.log = log;
    }
    run
}

fn log_text(log: &[log::Line]) -> String {
    log.iter().map(|l| format!("{l}\n")).collect()
}

/// Reads the `mote: ...` lines (see `firmware/README.md`) into a [`DeviceRun`].
fn read_report(log: &[log::Line]) -> Result<DeviceRun, String> {
    let mut run = DeviceRun {
        board: String::new(),
        elf: PathBuf::new(),
        outputs: Vec::new(),
        parse_ticks: 0,
        row_ticks: Vec::new(),
        layer_ticks: Vec::new(),
        arena_len: 0,
        output_len: 0,
        stack_bytes: 0,
        log: Vec::new(),
    };
    let mut finished = false;
    for line in log {
        let Some(rest) = line.text.strip_prefix("mote: ") else {
            continue;
        };
        let fields = Fields(rest);
        if rest.starts_with("parse ") {
            run.parse_ticks = fields.u64("ticks")?;
        } else if rest.starts_with("model ") {
            run.arena_len = fields.u64("arena")?;
            run.output_len = fields.u64("output")?;
        } else if rest.starts_with("row=") {
            let index = fields.u64("row")?;
            if index != run.outputs.len() as u64 {
                return Err(format!("row {index} out of order"));
            }
            run.row_ticks.push(fields.u64("ticks")?);
            run.outputs.push(fields.i8s("out")?);
        } else if rest.starts_with("layer=") {
            run.layer_ticks
                .push((fields.str("op")?.to_string(), fields.u64("ticks")?));
        } else if rest.starts_with("stack=") {
            run.stack_bytes = fields.u64("stack")?;
        } else if rest.starts_with("result=ok") {
            finished = true;
        }
    }
    if !finished {
        return Err("no `mote: result=ok` line".into());
    }
    Ok(run)
}

/// `key=value` fields of one line; a value runs to the next space, or is a `[...]` list.
struct Fields<'a>(&'a str);

impl<'a> Fields<'a> {
    fn str(&self, key: &str) -> Result<&'a str, String> {
        let pattern = format!("{key}=");
        let start = self
            .0
            .match_indices(&pattern)
            .find(|(i, _)| *i == 0 || self.0.as_bytes()[i - 1] == b' ')
            .map(|(i, _)| i + pattern.len())
            .ok_or_else(|| format!("no `{key}` in `{}`", self.0))?;
        let rest = &self.0[start..];
        let end = if rest.starts_with('[') {
            rest.find(']').map(|i| i + 1)
        } else {
            rest.find(' ')
        };
        Ok(&rest[..end.unwrap_or(rest.len())])
    }

    fn u64(&self, key: &str) -> Result<u64, String> {
        let value = self.str(key)?;
        value
            .parse()
            .map_err(|_| format!("`{key}={value}` is not a number"))
    }

    fn i8s(&self, key: &str) -> Result<Vec<i8>, String> {
        let value = self.str(key)?;
        let inner = value
            .strip_prefix('[')
            .and_then(|v| v.strip_suffix(']'))
            .ok_or_else(|| format!("`{key}={value}` is not a list"))?;
        inner
            .split(',')
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(|v| {
                v.parse()
                    .map_err(|_| format!("`{v}` in `{key}` is not an i8"))
            })
            .collect()
    }
}

/// A file in the temp folder, removed on drop.
struct TempFile(PathBuf);

impl TempFile {
    fn new(bytes: &[u8]) -> Result<TempFile, BoardError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("mote-partition-{}-{n}.bin", std::process::id()));
        std::fs::write(&path, bytes).map_err(io(format!("writing {}", path.display())))?;
        Ok(TempFile(path))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(text: &str) -> log::Line {
        log::Line {
            level: None,
            text: text.into(),
        }
    }

    #[test]
    fn reads_a_report() {
        let log = [
            line("mote: board=qemu-m4 partition=0x100000 capacity=3145728"),
            line("mote: parse ticks=12"),
            line("mote: model layers=2 input=3 output=2 arena=8 macs=10 rows=2 blob=100"),
            line("mote: row=0 ticks=5 out=[1, -2]"),
            line("mote: row=1 ticks=6 out=[-128, 127]"),
            line("mote: layer=0 op=FULLY_CONNECTED ticks=7"),
            line("mote: stack=512"),
            line("mote: result=ok rows=2 run_ticks=11"),
        ];
        let run = read_report(&log).unwrap();
        assert_eq!(run.outputs, vec![vec![1, -2], vec![-128, 127]]);
        assert_eq!(
            (run.parse_ticks, run.arena_len, run.stack_bytes),
            (12, 8, 512)
        );
        assert_eq!(run.row_ticks, vec![5, 6]);
        assert_eq!(run.layer_ticks, vec![("FULLY_CONNECTED".to_string(), 7)]);
        assert!(read_report(&log[..7]).is_err());
    }
}

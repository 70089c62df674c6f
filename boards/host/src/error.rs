//! The one error type of `mote-boards`.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong between a blob on the host and its outputs from a board.
#[derive(Debug)]
#[non_exhaustive]
pub enum BoardError {
    /// No folder `boards/<name>` with a `board.toml`.
    UnknownBoard {
        /// The name asked for.
        name: String,
        /// The boards that exist.
        known: Vec<String>,
    },
    /// A `board.toml` does not parse or lacks a field.
    BoardFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The board is not emulated (it has no `[qemu]` table).
    NotEmulated(String),
    /// The board is emulated, not flashed with probe-rs (it has no `[probe]` table).
    NotReal(String),
    /// Reading or writing a file, or starting a process, failed.
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// `cargo build` of the firmware failed; its output is in the message.
    Build {
        /// The board.
        board: String,
        /// cargo's stderr (tail).
        output: String,
    },
    /// `qemu-system-arm` is not installed.
    QemuMissing,
    /// `probe-rs` is not installed.
    ProbeRsMissing,
    /// A probe-rs step failed (no probe attached, wrong chip, ...).
    Probe {
        /// What was being done.
        step: String,
        /// probe-rs's exit status (for `probe-rs run`, the firmware's).
        status: Option<i32>,
    },
    /// QEMU did not finish in time.
    Timeout {
        /// Seconds waited.
        seconds: u64,
        /// What the firmware logged until then.
        log: String,
    },
    /// The ELF is unreadable or lacks a symbol or section the host needs.
    Elf(String),
    /// The defmt frames did not decode.
    Defmt(String),
    /// The host runtime rejects the blob, so the device would too.
    Blob(mote_runtime::Error),
    /// The blob or rows cannot be put in a partition (too large, wrong row length).
    Partition(String),
    /// The firmware reported an error or exited with a nonzero status.
    Device {
        /// QEMU's exit status.
        status: Option<i32>,
        /// The `mote: error:` line, or the whole log.
        message: String,
    },
    /// The firmware's log lacks a line the host expects or has a malformed one.
    Protocol(String),
}

impl fmt::Display for BoardError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BoardError::UnknownBoard { name, known } => {
                write!(f, "unknown board `{name}` (boards: {})", known.join(", "))
            }
            BoardError::BoardFile { path, message } => {
                write!(f, "{}: {message}", path.display())
            }
            BoardError::NotEmulated(name) => {
                write!(f, "board `{name}` is a real board, not emulated by QEMU")
            }
            BoardError::NotReal(name) => {
                write!(
                    f,
                    "board `{name}` is emulated by QEMU, not flashed with probe-rs"
                )
            }
            BoardError::Io { context, source } => write!(f, "{context}: {source}"),
            BoardError::Build { board, output } => {
                write!(f, "building the firmware for `{board}` failed:\n{output}")
            }
            BoardError::QemuMissing => write!(
                f,
                "qemu-system-arm is not installed (Debian/Ubuntu: apt-get install qemu-system-arm)"
            ),
            BoardError::ProbeRsMissing => write!(
                f,
                "probe-rs is not installed: install it with `{}` (or see https://probe.rs)",
                crate::flash::INSTALL
            ),
            BoardError::Probe { step, status } => {
                match status {
                    Some(s) => write!(f, "probe-rs failed {step} (exit status {s})")?,
                    None => write!(f, "probe-rs was killed {step}")?,
                }
                write!(
                    f,
                    "; is the board connected and powered? `probe-rs list` shows attached probes"
                )
            }
            BoardError::Timeout { seconds, log } => {
                write!(
                    f,
                    "QEMU did not finish within {seconds} s; log so far:\n{log}"
                )
            }
            BoardError::Elf(m) => write!(f, "firmware ELF: {m}"),
            BoardError::Defmt(m) => write!(f, "defmt log: {m}"),
            BoardError::Blob(e) => write!(f, "not a valid .mote blob: {e}"),
            BoardError::Partition(m) => write!(f, "model partition: {m}"),
            BoardError::Device { status, message } => match status {
                Some(s) => write!(f, "firmware failed (exit status {s}): {message}"),
                None => write!(f, "firmware failed (killed by a signal): {message}"),
            },
            BoardError::Protocol(m) => write!(f, "unexpected firmware log: {m}"),
        }
    }
}

impl std::error::Error for BoardError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BoardError::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}

/// Wraps an I/O error with what was being done.
pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> BoardError {
    let context = context.into();
    move |source| BoardError::Io { context, source }
}

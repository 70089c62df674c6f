//! Runs firmware under `qemu-system-arm` with semihosting, capturing what it writes.

use crate::error::{io, BoardError};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The QEMU binary.
pub const QEMU: &str = "qemu-system-arm";

/// How to run QEMU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options {
    /// Pass `-icount shift=0`: one instruction is one nanosecond of virtual time, so SysTick
    /// counts instructions (needed for `bench`, harmless otherwise).
    pub icount: bool,
    /// Kill QEMU after this long.
    pub timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            icount: true,
            timeout: Duration::from_secs(60),
        }
    }
}

/// What a QEMU run produced.
#[derive(Debug, Clone)]
pub struct Output {
    /// QEMU's exit status: the firmware's semihosting exit code (`None` if killed by a signal).
    pub status: Option<i32>,
    /// Bytes the firmware wrote to semihosting stdout (defmt frames).
    pub stdout: Vec<u8>,
    /// QEMU's own messages.
    pub stderr: String,
}

/// True when `qemu-system-arm` can be started.
pub fn available() -> bool {
    crate::tool_available(QEMU)
}

/// Runs `elf` on `machine`, with `partition` (a file and its load address) if given.
pub fn run(
    machine: &str,
    elf: &Path,
    partition: Option<(&Path, u64)>,
    options: Options,
) -> Result<Output, BoardError> {
    let mut command = Command::new(QEMU);
    command
        .args(["-machine", machine, "-nographic", "-monitor", "none"])
        .args(["-serial", "null"])
        .args(["-semihosting-config", "enable=on,target=native"]);
    if options.icount {
        command.args(["-icount", "shift=0"]);
    }
    command.arg("-kernel").arg(elf);
    if let Some((file, address)) = partition {
        let mut device = std::ffi::OsString::from("loader,file=");
        device.push(file.as_os_str());
        device.push(format!(",addr={address:#x},force-raw=on"));
        command.arg("-device").arg(device);
    }
    let mut child = match command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(BoardError::QemuMissing),
        Err(e) => return Err(io(format!("starting {QEMU}"))(e)),
    };
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child
            .try_wait()
            .map_err(io(format!("waiting for {QEMU}")))?
        {
            break status;
        }
        if started.elapsed() > options.timeout {
            // Only our own child is killed.
            let _ = child.kill();
            let _ = child.wait();
            let out = stdout.join().unwrap_or_default();
            return Err(BoardError::Timeout {
                seconds: options.timeout.as_secs(),
                log: String::from_utf8_lossy(&out).into_owned(),
            });
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    Ok(Output {
        status: status.code(),
        stdout: stdout.join().unwrap_or_default(),
        stderr: String::from_utf8_lossy(&stderr.join().unwrap_or_default()).into_owned(),
    })
}

/// Reads a pipe to its end on a thread, so QEMU never blocks on a full pipe.
fn drain(pipe: Option<impl Read + Send + 'static>) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_end(&mut bytes);
        }
        bytes
    })
}

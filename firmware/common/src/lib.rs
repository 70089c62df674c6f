//! `mote-firmware-common`: what the firmware binaries of this workspace share, so that each
//! piece exists once: the model partition reader ([`partition`]), the exit statuses, the
//! standard `mote:` report and error lines around loading a model (the host parses them:
//! `boards/host/src/device.rs`), the model partition's bounds from the linker symbols, and the
//! semihosting exit.
//!
//! With the `cortex-m` feature (cortex-m-rt binaries: `mote-firmware`, `mote-sensor-nrf52840`)
//! it also reads the partition in place ([`partition_region`]) and brings the panic handler and
//! the HardFault handler. The ESP32-C3 entry copies the partition from flash and keeps its own
//! panic handler, so it leaves the feature off.
//!
//! Exit statuses and error lines are listed in `firmware/README.md`.
#![no_std]

pub mod partition;

use core::sync::atomic::{AtomicBool, Ordering};

#[cfg(feature = "cortex-m")]
use cortex_m_rt::{exception, ExceptionFrame};
use mote_runtime::{GpModel, Model};
use partition::Partition;

/// Exit status: every row ran.
pub const EXIT_OK: i32 = 0;
/// Exit status: the partition is missing or corrupt (or, on the ESP32-C3, flash could not be
/// read).
pub const EXIT_PARTITION: i32 = 2;
/// Exit status: the runtime rejected the blob.
pub const EXIT_BLOB: i32 = 3;
/// Exit status: the model does not fit the firmware or its rows (the sensor app: does not take
/// the sensor's features).
pub const EXIT_FIT: i32 = 4;
/// Exit status: running a row (the sensor app: the model) failed.
pub const EXIT_RUN: i32 = 5;
/// Exit status: the sensor app's LIS3DH did not answer on the bus.
pub const EXIT_SENSOR: i32 = 6;
/// Exit status: a panic (a bug: the firmware has no panicking path on any partition), or on the
/// ESP32-C3 a CPU exception, which esp-hal turns into a panic.
pub const EXIT_PANIC: i32 = 101;
/// Exit status: a hard fault (a bug, as for panics).
pub const EXIT_FAULT: i32 = 134;

/// What a firmware offers a model: scratch memory and the largest output it holds.
#[derive(Debug, Clone, Copy)]
pub struct Capacity {
    /// Bytes of scratch memory (the model's `arena_len` must fit).
    pub arena: usize,
    /// Output values of one row.
    pub output: usize,
}

extern "C" {
    static _mote_partition_start: u8;
    static _mote_partition_end: u8;
}

/// The model partition's start address and length in bytes, as the board's `memory.x` reserves
/// them (`_mote_partition_start .. _mote_partition_end`). On the ESP32-C3 these are flash
/// offsets, not mapped addresses.
pub fn partition_range() -> (u32, u32) {
    // Only the addresses of the linker symbols are used, never their values.
    let start = core::ptr::addr_of!(_mote_partition_start) as u32;
    let end = core::ptr::addr_of!(_mote_partition_end) as u32;
    (start, end.saturating_sub(start))
}

/// The model partition's bytes, read in place (Cortex-M boards map their flash).
#[cfg(feature = "cortex-m")]
pub fn partition_region() -> &'static [u8] {
    // Only the addresses of the linker symbols are used, never their values.
    let start = core::ptr::addr_of!(_mote_partition_start);
    let end = core::ptr::addr_of!(_mote_partition_end) as usize;
    let len = end.saturating_sub(start as usize);
    // SAFETY: `memory.x` defines both symbols as the bounds of the MODEL region, which is mapped,
    // readable memory (flash) that nothing in this program links into or writes, so it is
    // valid for reads of `len` bytes for the whole program and never mutated while borrowed.
    // Every bit pattern is a valid `u8`, and `len` is far below `isize::MAX`.
    unsafe { core::slice::from_raw_parts(start, len) }
}

/// Reads and checks the partition in `region` (found at `address`, for the error line). Err is
/// the exit status, after a `mote: error: model partition at ... rejected: ...` line.
pub fn read_partition(region: &[u8], address: u32) -> Result<Partition<'_>, i32> {
    Partition::parse(region).map_err(|e| {
        defmt::error!(
            "mote: error: model partition at {=u32:#x} rejected: {}",
            address,
            e
        );
        EXIT_PARTITION
    })
}

/// Logs why the runtime rejected the blob (`Model::parse`'s error) and returns the exit status.
pub fn reject_blob(e: mote_runtime::Error) -> i32 {
    defmt::error!("mote: error: blob rejected by the runtime: {}", e);
    EXIT_BLOB
}

/// Logs the `mote: model ...` line of a firmware that runs the partition's rows, then checks
/// that the rows are the model's input length and that the model fits `capacity`. Err is the
/// exit status, after a `mote: error:` line.
pub fn check_model(
    model: &Model<'_>,
    partition: &Partition<'_>,
    capacity: Capacity,
) -> Result<(), i32> {
    defmt::println!(
        "mote: model layers={=u32} input={=u32} output={=u32} arena={=u32} macs={=u64} rows={=u32} blob={=u32}",
        model.layer_count() as u32,
        model.input_len() as u32,
        model.output_len() as u32,
        model.arena_len() as u32,
        model.macs(),
        partition.row_count,
        partition.blob.len() as u32
    );
    if partition.row_len as usize != model.input_len() {
        defmt::error!(
            "mote: error: rows hold {=u32} values but the model takes {=u32}",
            partition.row_len,
            model.input_len() as u32
        );
        return Err(EXIT_FIT);
    }
    if model.arena_len() > capacity.arena || model.output_len() > capacity.output {
        defmt::error!(
            "mote: error: model needs arena {=u32} and output {=u32}; firmware has {=u32} and {=u32}",
            model.arena_len() as u32,
            model.output_len() as u32,
            capacity.arena as u32,
            capacity.output as u32
        );
        return Err(EXIT_FIT);
    }
    Ok(())
}

/// [`check_model`] for a sparse GP: logs the same `mote: model ...` line (its input and output
/// counted in bytes: `4·d` f32 inputs, `8·P` for a little-endian f32 mean and variance per
/// output) and checks the rows and the fit. Err is the exit status, after a `mote: error:` line.
pub fn check_gp_model(
    model: &GpModel<'_>,
    partition: &Partition<'_>,
    capacity: Capacity,
    max_outputs: usize,
) -> Result<(), i32> {
    let input_bytes = 4 * model.input_len();
    let output_bytes = 8 * model.output_len();
    defmt::println!(
        "mote: model layers=1 input={=u32} output={=u32} arena={=u32} macs={=u64} rows={=u32} blob={=u32}",
        input_bytes as u32,
        output_bytes as u32,
        model.arena_len() as u32,
        model.macs(),
        partition.row_count,
        partition.blob.len() as u32
    );
    if partition.row_len as usize != input_bytes {
        defmt::error!(
            "mote: error: rows hold {=u32} bytes but the GP takes {=u32} (f32 inputs)",
            partition.row_len,
            input_bytes as u32
        );
        return Err(EXIT_FIT);
    }
    if model.arena_len() > capacity.arena
        || output_bytes > capacity.output
        || model.output_len() > max_outputs
    {
        defmt::error!(
            "mote: error: GP needs arena {=u32} and {=u32} outputs; firmware has {=u32} and {=u32}",
            model.arena_len() as u32,
            model.output_len() as u32,
            capacity.arena as u32,
            max_outputs as u32
        );
        return Err(EXIT_FIT);
    }
    Ok(())
}

/// Ends the program with `status` through semihosting: QEMU exits with it, and so does
/// `probe-rs run` on a real board. (On the ESP32-C3 without a debugger, the `ebreak` raises a
/// breakpoint exception, which esp-hal's handler turns into a panic.)
pub fn exit(status: i32) -> ! {
    semihosting::process::exit(status)
}

/// Set by the first panic or fault, so that a panic or fault inside logging does not recurse.
static FAILING: AtomicBool = AtomicBool::new(false);

/// True the first time it is called (load and store: Armv6-M and the ESP32-C3's RV32IMC have
/// no atomic swap; nothing else runs concurrently with a panic or a fault).
pub fn first_failure() -> bool {
    let first = !FAILING.load(Ordering::Relaxed);
    FAILING.store(true, Ordering::Relaxed);
    first
}

#[cfg(feature = "cortex-m")]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    if first_failure() {
        defmt::error!("mote: error: panic (a firmware bug)");
    }
    exit(EXIT_PANIC)
}

#[cfg(feature = "cortex-m")]
#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    if first_failure() {
        defmt::error!("mote: error: hard fault at pc={=u32:#x}", frame.pc());
    }
    exit(EXIT_FAULT)
}

//! `mote-firmware`: runs the `.mote` blob stored in the board's model partition on every input
//! row stored beside it, and reports the outputs, instruction ticks, and stack use over defmt.
//!
//! One build serves any blob: the model lives in a flash partition that `memory.x` reserves
//! (`_mote_partition_start .. _mote_partition_end`) and that the host writes separately. The
//! exit status (semihosting) is 0 on success and nonzero with a `mote: error:` line otherwise;
//! a corrupt or missing partition is an error, never a fault. Codes are listed in `README.md`.
#![no_std]
#![no_main]

mod clock;
mod marker;
mod partition;
mod runner;
mod stack;

use core::sync::atomic::{AtomicBool, Ordering};

// Links the single-core critical-section implementation that the defmt logger uses.
use cortex_m as _;
use cortex_m_rt::{entry, exception, ExceptionFrame};
// The defmt transport: semihosting (QEMU) or RTT (real boards, read by probe-rs).
#[cfg(all(feature = "rtt", not(feature = "semihosting")))]
use defmt_rtt as _;
#[cfg(feature = "semihosting")]
use defmt_semihosting as _;

#[cfg(all(feature = "rtt", feature = "semihosting"))]
compile_error!("choose one defmt transport: feature `rtt` needs `--no-default-features`");
#[cfg(not(any(feature = "rtt", feature = "semihosting")))]
compile_error!("choose a defmt transport: feature `semihosting` (default) or `rtt`");

/// The RP2040 boot ROM loads these 256 bytes first; they set up execute-in-place flash.
#[cfg(feature = "rp2040-boot2")]
#[link_section = ".boot2"]
#[used]
static BOOT2: [u8; 256] = rp2040_boot2::BOOT_LOADER_W25Q080;
use mote_runtime::Model;

use partition::Partition;

/// Scratch memory the firmware offers a model (its `arena_len` must fit).
pub const ARENA_CAPACITY: usize = 64 * 1024;
/// Largest model output the firmware holds.
pub const OUTPUT_CAPACITY: usize = 4096;

/// Layers whose time `layer-timing` reports (deeper ones still run, untimed).
#[cfg(feature = "layer-timing")]
const TIMED_LAYERS: usize = 64;

/// Exit status: every row ran.
const EXIT_OK: i32 = 0;
/// Exit status: the partition is missing or corrupt.
const EXIT_PARTITION: i32 = 2;
/// Exit status: the runtime rejected the blob.
const EXIT_BLOB: i32 = 3;
/// Exit status: the model does not fit this firmware or its rows.
const EXIT_FIT: i32 = 4;
/// Exit status: running a row failed.
const EXIT_RUN: i32 = 5;
/// Exit status: a panic (a bug: the firmware has no panicking path on any partition).
const EXIT_PANIC: i32 = 101;
/// Exit status: a hard fault (a bug, as for panics).
const EXIT_FAULT: i32 = 134;

/// The model's working memory and one output row.
/// The host reads this symbol's size from the ELF to report RAM without the unused capacity.
#[repr(C)]
struct Buffers {
    arena: [u8; ARENA_CAPACITY],
    output: [i8; OUTPUT_CAPACITY],
}

#[no_mangle]
static mut MOTE_BUFFERS: Buffers = Buffers {
    arena: [0; ARENA_CAPACITY],
    output: [0; OUTPUT_CAPACITY],
};

extern "C" {
    static _mote_partition_start: u8;
    static _mote_partition_end: u8;
}

#[entry]
fn main() -> ! {
    let status = run();
    exit(status)
}

fn run() -> i32 {
    let Some(peripherals) = cortex_m::Peripherals::take() else {
        defmt::error!("mote: error: core peripherals already taken");
        return EXIT_RUN;
    };
    clock::start(peripherals.SYST);

    // SAFETY: `run` is called once, from `main`, and nothing else (no interrupt handler) touches
    // `MOTE_BUFFERS`, so this is the only reference to it for the rest of the program.
    let buffers = unsafe { &mut *core::ptr::addr_of_mut!(MOTE_BUFFERS) };

    let region = partition_region();
    let address = region.as_ptr() as u32;
    defmt::println!(
        "mote: board={=str} partition={=u32:#x} capacity={=u32}",
        env!("MOTE_BOARD"),
        address,
        region.len() as u32
    );
    let partition = match Partition::parse(region) {
        Ok(partition) => partition,
        Err(e) => {
            defmt::error!(
                "mote: error: model partition at {=u32:#x} rejected: {}",
                address,
                e
            );
            return EXIT_PARTITION;
        }
    };

    let start = clock::now();
    let parsed = Model::parse(partition.blob);
    let parse_ticks = clock::now().wrapping_sub(start);
    let model = match parsed {
        Ok(model) => model,
        Err(e) => {
            defmt::error!("mote: error: blob rejected by the runtime: {}", e);
            return EXIT_BLOB;
        }
    };
    defmt::println!("mote: parse ticks={=u64}", parse_ticks);
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
        return EXIT_FIT;
    }
    if model.arena_len() > ARENA_CAPACITY || model.output_len() > OUTPUT_CAPACITY {
        defmt::error!(
            "mote: error: model needs arena {=u32} and output {=u32}; firmware has {=u32} and {=u32}",
            model.arena_len() as u32,
            model.output_len() as u32,
            ARENA_CAPACITY as u32,
            OUTPUT_CAPACITY as u32
        );
        return EXIT_FIT;
    }

    let mut layer_store: runner::LayerStore = [None; runner::DECODED_LAYERS];
    let runner = runner::Runner::new(&model, &mut layer_store);
    let output = &mut buffers.output[..model.output_len()];
    #[cfg(feature = "layer-timing")]
    let mut layer_ticks = [0u64; TIMED_LAYERS];
    let mut run_ticks = 0u64;
    let rows = partition
        .rows
        .chunks_exact(partition.row_len as usize)
        .map(mote_runtime::kernels::bytes_as_i8);
    for (index, row) in rows.enumerate() {
        let start = clock::now();
        marker::start();
        // With `layer-timing`, a clock read after each layer attributes ticks to layers (the
        // reads add a few instructions, so totals come from the build without it).
        #[cfg(feature = "layer-timing")]
        let result = {
            let mut previous = start;
            runner.run_observed(row, &mut buffers.arena, output, |layer| {
                let now = clock::now();
                if let Some(slot) = layer_ticks.get_mut(layer) {
                    *slot = slot.wrapping_add(now.wrapping_sub(previous));
                }
                previous = now;
            })
        };
        #[cfg(not(feature = "layer-timing"))]
        let result = runner.run_observed(row, &mut buffers.arena, output, |_| {});
        marker::stop();
        let ticks = clock::now().wrapping_sub(start);
        if let Err(e) = result {
            defmt::error!("mote: error: row {=u32} failed: {}", index as u32, e);
            return EXIT_RUN;
        }
        run_ticks = run_ticks.wrapping_add(ticks);
        defmt::println!(
            "mote: row={=u32} ticks={=u64} out={=[?]}",
            index as u32,
            ticks,
            output
        );
    }
    #[cfg(feature = "layer-timing")]
    {
        for (index, layer) in model.layers().enumerate() {
            defmt::println!(
                "mote: layer={=u32} op={=str} ticks={=u64}",
                index as u32,
                layer.op_name(),
                layer_ticks.get(index).copied().unwrap_or(0)
            );
        }
    }
    defmt::println!("mote: stack={=u32}", stack::high_water_mark());
    defmt::println!(
        "mote: result=ok rows={=u32} run_ticks={=u64}",
        partition.row_count,
        run_ticks
    );
    EXIT_OK
}

/// The model partition's bytes, as `memory.x` reserves them.
fn partition_region() -> &'static [u8] {
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

/// Set by the first panic or fault, so that a fault inside logging does not recurse.
static FAILING: AtomicBool = AtomicBool::new(false);

/// True the first time it is called (load and store: Armv6-M has no atomic swap; nothing else
/// runs concurrently with a panic or a fault).
fn first_failure() -> bool {
    let first = !FAILING.load(Ordering::Relaxed);
    FAILING.store(true, Ordering::Relaxed);
    first
}

/// Ends the program with `status` through semihosting: QEMU exits with it, and so does
/// `probe-rs run` on a real board.
fn exit(status: i32) -> ! {
    semihosting::process::exit(status)
}

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    if first_failure() {
        defmt::error!("mote: error: panic (a firmware bug)");
    }
    exit(EXIT_PANIC)
}

#[exception]
unsafe fn HardFault(frame: &ExceptionFrame) -> ! {
    if first_failure() {
        defmt::error!("mote: error: hard fault at pc={=u32:#x}", frame.pc());
    }
    exit(EXIT_FAULT)
}

//! `mote-sensor-nrf52840`: the sensor example (`boards/sensor`, `mote-sensor`) on the
//! nRF52840-DK. A LIS3DH accelerometer on TWIM0 (SDA P0.26, SCL P0.27, 400 kHz) is read at
//! 100 Hz; every window of [`WINDOW`] readings becomes six features that the model in the model
//! partition classifies, and the class is logged over defmt-rtt, forever.
//!
//! The model partition is the one of `boards/nrf52840-dk/memory.x`, written by `mote flash`
//! (same layout as for `mote-firmware`, read by the same `../../src/partition.rs`; its input
//! rows are ignored). The model must take the six features (`mote_sensor::FEATURES`).
//!
//! A missing or corrupt partition, a model of the wrong shape, or no LIS3DH on the bus gives a
//! `mote: error:` line and a semihosting exit (status as in `firmware/README.md`, 6 for the
//! sensor) that `probe-rs run` turns into its exit status; a failed reading is logged and
//! sampling goes on.
#![no_std]
#![no_main]

#[path = "../../src/partition.rs"]
#[allow(
    dead_code,
    reason = "the input rows are mote-firmware's; this app reads only the blob"
)]
mod partition;

use core::sync::atomic::{AtomicBool, Ordering};

use cortex_m_rt::{entry, exception, ExceptionFrame};
use defmt::Debug2Format;
use defmt_rtt as _;
use embedded_hal::delay::DelayNs;
use mote_runtime::Model;
use mote_sensor::{lis3dh, Classifier, Lis3dh, FEATURES};
use nrf52840_hal::gpio::p0;
use nrf52840_hal::twim::{self, Twim};
use nrf52840_hal::{pac, Timer};
use partition::Partition;

/// Readings per window: one second at the LIS3DH's 100 Hz.
pub const WINDOW: usize = 100;
/// Microseconds between readings (100 Hz).
pub const PERIOD_US: u32 = 10_000;
/// Scratch memory the sensor app offers a model.
pub const ARENA_CAPACITY: usize = 16 * 1024;

/// Exit status: the partition is missing or corrupt.
const EXIT_PARTITION: i32 = 2;
/// Exit status: the runtime rejected the blob.
const EXIT_BLOB: i32 = 3;
/// Exit status: the model does not take the sensor's features or does not fit.
const EXIT_FIT: i32 = 4;
/// Exit status: running the model failed.
const EXIT_RUN: i32 = 5;
/// Exit status: no LIS3DH answered on the bus.
const EXIT_SENSOR: i32 = 6;
/// Exit status: a panic (a bug).
const EXIT_PANIC: i32 = 101;
/// Exit status: a hard fault (a bug).
const EXIT_FAULT: i32 = 134;

/// The model's working memory and one output row.
struct Buffers {
    arena: [u8; ARENA_CAPACITY],
    output: [i8; mote_sensor::MAX_OUTPUT],
}

static mut BUFFERS: Buffers = Buffers {
    arena: [0; ARENA_CAPACITY],
    output: [0; mote_sensor::MAX_OUTPUT],
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

/// Runs until a fatal error, whose exit status it returns.
fn run() -> i32 {
    // SAFETY: `run` is called once, from `main`, and nothing else (no interrupt handler) touches
    // `BUFFERS`, so this is the only reference to it for the rest of the program.
    let buffers = unsafe { &mut *core::ptr::addr_of_mut!(BUFFERS) };
    let Some(peripherals) = pac::Peripherals::take() else {
        defmt::error!("mote: error: peripherals already taken");
        return EXIT_RUN;
    };

    let region = partition_region();
    let address = region.as_ptr() as u32;
    defmt::println!(
        "mote: board=nrf52840-dk app=sensor partition={=u32:#x} capacity={=u32}",
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
    let model = match Model::parse(partition.blob) {
        Ok(model) => model,
        Err(e) => {
            defmt::error!("mote: error: blob rejected by the runtime: {}", e);
            return EXIT_BLOB;
        }
    };
    defmt::println!(
        "mote: model layers={=u32} input={=u32} output={=u32} arena={=u32} window={=u32}",
        model.layer_count() as u32,
        model.input_len() as u32,
        model.output_len() as u32,
        model.arena_len() as u32,
        WINDOW as u32
    );
    let mut classifier = match Classifier::<WINDOW>::new::<twim::Error>(&model) {
        Ok(classifier) if model.arena_len() <= ARENA_CAPACITY => classifier,
        _ => {
            defmt::error!(
                "mote: error: the model must take {=u32} features, give at most {=u32} outputs and need at most {=u32} arena bytes",
                FEATURES as u32,
                mote_sensor::MAX_OUTPUT as u32,
                ARENA_CAPACITY as u32
            );
            return EXIT_FIT;
        }
    };
    let output = &mut buffers.output[..model.output_len()];

    let port0 = p0::Parts::new(peripherals.P0);
    let pins = twim::Pins {
        sda: port0.p0_26.into_floating_input().degrade(),
        scl: port0.p0_27.into_floating_input().degrade(),
    };
    let i2c = Twim::new(peripherals.TWIM0, pins, twim::Frequency::K400);
    let mut timer = Timer::new(peripherals.TIMER0);
    // The LIS3DH boots in 5 ms after power-up.
    timer.delay_ms(10);
    let mut sensor = match Lis3dh::new(i2c, lis3dh::ADDRESS) {
        Ok(sensor) => sensor,
        Err(e) => {
            defmt::error!(
                "mote: error: no LIS3DH at {=u8:#x} on TWIM0 (SDA P0.26, SCL P0.27): {}",
                lis3dh::ADDRESS,
                Debug2Format(&e)
            );
            return EXIT_SENSOR;
        }
    };

    let mut window = 0u32;
    loop {
        match classifier.classify(
            &mut sensor,
            &mut timer,
            PERIOD_US,
            &mut buffers.arena,
            output,
        ) {
            Ok(prediction) => {
                defmt::println!(
                    "mote: window={=u32} class={=u32} score={=i8} out={=[?]}",
                    window,
                    prediction.class as u32,
                    prediction.score,
                    output
                );
                window = window.wrapping_add(1);
            }
            Err(mote_sensor::Error::Sensor(e)) => {
                // A glitch on the bus: report it, wait a period and go on with the window.
                defmt::error!("mote: error: reading failed: {}", Debug2Format(&e));
                timer.delay_us(PERIOD_US);
            }
            Err(e) => {
                defmt::error!("mote: error: the model failed: {}", Debug2Format(&e));
                return EXIT_RUN;
            }
        }
    }
}

/// The model partition's bytes, as `memory.x` reserves them.
fn partition_region() -> &'static [u8] {
    // Only the addresses of the linker symbols are used, never their values.
    let start = core::ptr::addr_of!(_mote_partition_start);
    let end = core::ptr::addr_of!(_mote_partition_end) as usize;
    let len = end.saturating_sub(start as usize);
    // SAFETY: `memory.x` defines both symbols as the bounds of the MODEL region, which is mapped,
    // readable flash that nothing in this program links into or writes, so it is valid for reads
    // of `len` bytes for the whole program and never mutated while borrowed. Every bit pattern
    // is a valid `u8`, and `len` is far below `isize::MAX`.
    unsafe { core::slice::from_raw_parts(start, len) }
}

/// Set by the first panic or fault, so that a fault inside logging does not recurse.
static FAILING: AtomicBool = AtomicBool::new(false);

/// True the first time it is called (nothing else runs concurrently with a panic or a fault).
fn first_failure() -> bool {
    let first = !FAILING.load(Ordering::Relaxed);
    FAILING.store(true, Ordering::Relaxed);
    first
}

/// Ends the program with `status` through semihosting, which `probe-rs run` turns into its exit
/// status.
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

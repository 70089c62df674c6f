//! `mote-sensor-nrf52840`: the sensor example (`boards/sensor`, `mote-sensor`) on the
//! nRF52840-DK. A LIS3DH accelerometer on TWIM0 (SDA P0.26, SCL P0.27, 400 kHz) is read at
//! 100 Hz; every window of [`WINDOW`] readings becomes six features that the model in the model
//! partition classifies, and the class is logged over defmt-rtt, forever.
//!
//! The model partition is the one of `boards/nrf52840-dk/memory.x`, written by `mote flash`
//! (same layout as for `mote-firmware`, read by the same `../../common/src/partition.rs`; its
//! input rows are ignored). The model must take the six features (`mote_sensor::FEATURES`).
//!
//! A missing or corrupt partition, a model of the wrong shape, or no LIS3DH on the bus gives a
//! `mote: error:` line and a semihosting exit (status as in `firmware/README.md`, 6 for the
//! sensor) that `probe-rs run` turns into its exit status; a failed reading is logged and
//! sampling goes on.
#![no_std]
#![no_main]

use core::convert::Infallible;

use cortex_m_rt::entry;
use defmt::Debug2Format;
use defmt_rtt as _;
use embedded_hal::delay::DelayNs;
// Also links the panic and HardFault handlers (its feature `cortex-m`).
use mote_firmware_common::{
    exit, partition_region, read_partition, reject_blob, EXIT_FIT, EXIT_RUN, EXIT_SENSOR,
};
use mote_runtime::Model;
use mote_sensor::{lis3dh, Classifier, Lis3dh, FEATURES};
use nrf52840_hal::gpio::p0;
use nrf52840_hal::twim::{self, Twim};
use nrf52840_hal::{pac, Timer};

/// Readings per window: one second at the LIS3DH's 100 Hz.
pub const WINDOW: usize = 100;
/// Microseconds between readings (100 Hz).
pub const PERIOD_US: u32 = 10_000;
/// Scratch memory the sensor app offers a model.
pub const ARENA_CAPACITY: usize = 16 * 1024;

/// The model's working memory and one output row.
struct Buffers {
    arena: [u8; ARENA_CAPACITY],
    output: [i8; mote_sensor::MAX_OUTPUT],
}

static mut BUFFERS: Buffers = Buffers {
    arena: [0; ARENA_CAPACITY],
    output: [0; mote_sensor::MAX_OUTPUT],
};

#[entry]
fn main() -> ! {
    let Err(status) = run();
    exit(status)
}

/// Runs until a fatal error: Err is its exit status, after a `mote: error:` line.
fn run() -> Result<Infallible, i32> {
    // SAFETY: `run` is called once, from `main`, and nothing else (no interrupt handler) touches
    // `BUFFERS`, so this is the only reference to it for the rest of the program.
    let buffers = unsafe { &mut *core::ptr::addr_of_mut!(BUFFERS) };
    let Some(peripherals) = pac::Peripherals::take() else {
        defmt::error!("mote: error: peripherals already taken");
        return Err(EXIT_RUN);
    };

    let region = partition_region();
    let address = region.as_ptr() as u32;
    defmt::println!(
        "mote: board=nrf52840-dk app=sensor partition={=u32:#x} capacity={=u32}",
        address,
        region.len() as u32
    );
    let partition = read_partition(region, address)?;
    let model = Model::parse(partition.blob).map_err(reject_blob)?;
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
            return Err(EXIT_FIT);
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
            return Err(EXIT_SENSOR);
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
                return Err(EXIT_RUN);
            }
        }
    }
}

//! `mote-firmware-esp32c3`: the ESP32-C3 (RISC-V) entry of mote's firmware. Like the Cortex-M
//! firmware in `../src/main.rs`, it runs the `.mote` blob stored in the model partition on every
//! input row stored beside it and reports over defmt (here defmt-rtt, read by `probe-rs run`
//! through the chip's built-in USB-JTAG), then ends with a semihosting exit that probe-rs turns
//! into its exit status.
//!
//! Differences from the Cortex-M firmware, all due to the chip:
//! - the ESP-IDF second-stage bootloader starts it (esp-hal's startup and linker scripts), and
//!   flash is reached through a cache MMU that maps only the application's own segments, so the
//!   partition (`boards/esp32c3/memory.x`: flash offsets) is copied into RAM with the ROM's SPI
//!   flash read and parsed there by the same `../../common/src/partition.rs`;
//! - times are microseconds of the 16 MHz system timer (`us=` fields), not SysTick ticks, and
//!   there is no stack high-water mark.
//!
//! Exit statuses and `mote: error:` lines are the ones of `../README.md`.
#![no_std]
#![no_main]

use defmt_rtt as _;
use esp_hal::time::Instant;
use mote_firmware_common::{
    check_model, exit, first_failure, partition_range, read_partition, reject_blob, Capacity,
    EXIT_OK, EXIT_PANIC, EXIT_PARTITION, EXIT_RUN,
};
use mote_runtime::Model;

// The application descriptor the second-stage bootloader checks.
esp_bootloader_esp_idf::esp_app_desc!();

/// Scratch memory the firmware offers a model (its `arena_len` must fit).
pub const ARENA_CAPACITY: usize = 64 * 1024;
/// Largest model output the firmware holds.
pub const OUTPUT_CAPACITY: usize = 4096;
/// Bytes of the model partition, which is copied whole into RAM (`memory.x` reserves as much).
pub const PARTITION_CAPACITY: usize = 128 * 1024;

/// The partition's copy in RAM, the model's working memory and one output row.
/// 16-aligned so that the blob, at a 16-aligned offset of the partition, keeps its alignment.
#[repr(C, align(16))]
struct Buffers {
    partition: [u8; PARTITION_CAPACITY],
    arena: [u8; ARENA_CAPACITY],
    output: [i8; OUTPUT_CAPACITY],
}

#[no_mangle]
static mut MOTE_BUFFERS: Buffers = Buffers {
    partition: [0; PARTITION_CAPACITY],
    arena: [0; ARENA_CAPACITY],
    output: [0; OUTPUT_CAPACITY],
};

#[esp_hal::main]
fn main() -> ! {
    // Clocks at their defaults; esp-hal disables the watchdogs the bootloader left running.
    let _peripherals = esp_hal::init(esp_hal::Config::default());
    let status = match run() {
        Ok(()) => EXIT_OK,
        Err(status) => status,
    };
    exit(status)
}

/// Runs every row; Err is the exit status, after a `mote: error:` line.
fn run() -> Result<(), i32> {
    // SAFETY: `run` is called once, from `main`, and nothing else (no interrupt handler) touches
    // `MOTE_BUFFERS`, so this is the only reference to it for the rest of the program.
    let buffers = unsafe { &mut *core::ptr::addr_of_mut!(MOTE_BUFFERS) };

    let (offset, len) = partition_range();
    defmt::println!(
        "mote: board={=str} partition={=u32:#x} capacity={=u32}",
        env!("MOTE_BOARD"),
        offset,
        len
    );
    let Some(region) = buffers.partition.get_mut(..len as usize) else {
        defmt::error!(
            "mote: error: model partition at {=u32:#x} rejected: TooLarge ({=u32} bytes, the RAM copy holds {=u32})",
            offset,
            len,
            PARTITION_CAPACITY as u32
        );
        return Err(EXIT_PARTITION);
    };
    if let Err(code) = read_flash(offset, region) {
        defmt::error!(
            "mote: error: model partition at {=u32:#x} rejected: FlashRead (ROM status {=i32})",
            offset,
            code
        );
        return Err(EXIT_PARTITION);
    }
    let region: &[u8] = region;
    let partition = read_partition(region, offset)?;

    let start = Instant::now();
    let parsed = Model::parse(partition.blob);
    let parse_us = start.elapsed().as_micros();
    let model = parsed.map_err(reject_blob)?;
    defmt::println!("mote: parse us={=u64}", parse_us);
    let capacity = Capacity {
        arena: ARENA_CAPACITY,
        output: OUTPUT_CAPACITY,
    };
    check_model(&model, &partition, capacity)?;

    let output = &mut buffers.output[..model.output_len()];
    let mut run_us = 0u64;
    let rows = partition
        .rows
        .chunks_exact(partition.row_len as usize)
        .map(mote_runtime::kernels::bytes_as_i8);
    for (index, row) in rows.enumerate() {
        let start = Instant::now();
        let result = model.run(row, &mut buffers.arena, output);
        let us = start.elapsed().as_micros();
        if let Err(e) = result {
            defmt::error!("mote: error: row {=u32} failed: {}", index as u32, e);
            return Err(EXIT_RUN);
        }
        run_us = run_us.wrapping_add(us);
        defmt::println!(
            "mote: row={=u32} us={=u64} out={=[?]}",
            index as u32,
            us,
            output
        );
    }
    defmt::println!(
        "mote: result=ok rows={=u32} run_us={=u64}",
        partition.row_count,
        run_us
    );
    Ok(())
}

/// Copies flash from `offset` into `buffer` with the ROM's SPI flash read, in 4 KiB steps
/// through an aligned bounce buffer (the ROM wants word-aligned addresses, lengths and
/// destinations). Runs from RAM with interrupts off, as esp-storage does, since the read
/// shares the SPI bus with the instruction cache. Err carries the ROM's status.
#[esp_hal::ram]
fn read_flash(offset: u32, buffer: &mut [u8]) -> Result<(), i32> {
    const STEP: usize = 4096;
    let mut words = [0u32; STEP / 4];
    for (index, chunk) in buffer.chunks_mut(STEP).enumerate() {
        let len = chunk.len().next_multiple_of(4);
        let address = offset + (index * STEP) as u32;
        // SAFETY: `words` is a word-aligned buffer of STEP >= `len` bytes, `address` and `len`
        // are multiples of 4, and the range lies in the partition `memory.x` reserves in flash.
        let status = critical_section::with(|_| unsafe {
            esp_rom_sys::rom::spiflash::esp_rom_spiflash_read(
                address,
                words.as_mut_ptr(),
                len as u32,
            )
        });
        if status != esp_rom_sys::rom::spiflash::ESP_ROM_SPIFLASH_RESULT_OK {
            return Err(status);
        }
        for (bytes, word) in chunk.chunks_mut(4).zip(words.iter()) {
            bytes.copy_from_slice(&word.to_le_bytes()[..bytes.len()]);
        }
    }
    Ok(())
}

#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    // A panic inside logging or exiting (without a debugger, the semihosting exit's `ebreak`
    // raises a breakpoint exception, which esp-hal's handler turns into a panic) stops here.
    if !first_failure() {
        loop {
            core::hint::spin_loop();
        }
    }
    defmt::error!("mote: error: panic (a firmware bug)");
    exit(EXIT_PANIC)
}

//! `mote-footprint`: the smallest program that runs a model blob from the model partition, for
//! measuring what the runtime costs in flash.
//!
//! It is built twice per board: with the feature `runtime` it parses and validates the blob and
//! runs one inference on the first input bytes; without it, it only touches the same memory.
//! Both keep their results alive through `black_box` and volatile writes, so the optimiser
//! cannot drop the work. The difference in text + rodata between the two builds is the
//! runtime's code (parse, validation, the kernels of the ops its features keep: the board's
//! weight layout, and softmax or not) and constants.
//! Nothing here runs in the tests; `mote bench --kernels` reads the two ELFs' sizes.
#![no_std]
#![no_main]

use core::hint::black_box;
use cortex_m_rt::entry;

extern "C" {
    // The bounds of the MODEL region in the board's `memory.x`.
    static _mote_partition_start: u8;
    static _mote_partition_end: u8;
}

/// Scratch for the model and its output.
static mut ARENA: [u8; 4096] = [0; 4096];
static mut OUTPUT: [i8; 256] = [0; 256];

#[entry]
fn main() -> ! {
    let start = core::ptr::addr_of!(_mote_partition_start);
    let len = (core::ptr::addr_of!(_mote_partition_end) as usize).saturating_sub(start as usize);
    // SAFETY: `memory.x` defines both symbols as the bounds of the MODEL region, mapped flash
    // that nothing writes; every byte is a valid `u8`.
    let blob = black_box(unsafe { core::slice::from_raw_parts(start, len) });
    // SAFETY: `main` runs once and nothing else touches these statics.
    let (arena, output) = unsafe {
        (
            &mut *core::ptr::addr_of_mut!(ARENA),
            &mut *core::ptr::addr_of_mut!(OUTPUT),
        )
    };
    let status = run(blob, arena, output);
    loop {
        // SAFETY: a volatile write to a live, exclusively borrowed static.
        unsafe { core::ptr::write_volatile(output.as_mut_ptr(), status) };
    }
}

#[cfg(feature = "runtime")]
fn run(blob: &[u8], arena: &mut [u8], output: &mut [i8]) -> i8 {
    let Ok(model) = mote_runtime::Model::parse(blob) else {
        return -1;
    };
    let (Some(input), Some(out)) = (
        blob.get(..model.input_len()),
        output.get_mut(..model.output_len()),
    ) else {
        return -2;
    };
    let input = mote_runtime::kernels::bytes_as_i8(input);
    match model.run(input, arena, out) {
        Ok(()) => out.first().copied().unwrap_or(0),
        Err(_) => -3,
    }
}

#[cfg(not(feature = "runtime"))]
fn run(blob: &[u8], arena: &mut [u8], output: &mut [i8]) -> i8 {
    // The same inputs and outputs, without the runtime.
    let first = blob.first().copied().unwrap_or(0) as i8;
    if let (Some(a), Some(o)) = (arena.first_mut(), output.first_mut()) {
        *a = first as u8;
        *o = first;
    }
    first
}

#[panic_handler]
fn panic(_: &core::panic::PanicInfo<'_>) -> ! {
    loop {
        core::hint::spin_loop();
    }
}

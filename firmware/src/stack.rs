//! Stack high-water mark by painting: cortex-m-rt's `paint-stack` feature fills the whole stack
//! region (`_stack_end .. _stack_start`) with [`cortex_m_rt::STACK_PAINT_VALUE`] before `main`;
//! the deepest word that no longer holds it marks the most stack ever used.

extern "C" {
    static _stack_start: u32;
    static _stack_end: u32;
}

/// Bytes of stack used so far (the high-water mark), in 4-byte steps.
pub fn high_water_mark() -> u32 {
    // Only the addresses of the linker symbols are used, never their values.
    let top = core::ptr::addr_of!(_stack_start) as usize;
    let bottom = core::ptr::addr_of!(_stack_end) as usize;
    let mut address = bottom;
    while address < top {
        // SAFETY: `_stack_end .. _stack_start` is RAM that cortex-m-rt reserves for the stack; it
        // is word aligned (its linker script asserts so) and readable. Reading a word below the
        // stack pointer does not alias any live Rust object, and a volatile read of a `u32` is
        // valid for any bit pattern.
        let word = unsafe { core::ptr::read_volatile(address as *const u32) };
        if word != cortex_m_rt::STACK_PAINT_VALUE {
            break;
        }
        address += 4;
    }
    (top - address) as u32
}

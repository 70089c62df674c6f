//! Region markers for the `qemu-count` profiling tool (`../shared/tools/qemu-count`): with the
//! `qemu-count-markers` feature, each `Model::run` is bracketed by the hints `DBG #1` and
//! `DBG #2`, which that tool's QEMU plugin counts between. Without the feature they are empty;
//! the project's own benchmark (SysTick under `-icount`) never needs them.

/// Marks the start of a measured region.
#[inline(always)]
pub fn start() {
    #[cfg(feature = "qemu-count-markers")]
    // SAFETY: `DBG #1` is an architectural hint: it has no effect on registers, memory or flags.
    unsafe {
        core::arch::asm!(
            ".inst.w 0xf3af80f1",
            options(nomem, nostack, preserves_flags)
        )
    };
}

/// Marks the end of a measured region.
#[inline(always)]
pub fn stop() {
    #[cfg(feature = "qemu-count-markers")]
    // SAFETY: `DBG #2` is a hint, as in `start`.
    unsafe {
        core::arch::asm!(
            ".inst.w 0xf3af80f2",
            options(nomem, nostack, preserves_flags)
        )
    };
}

//! A 64-bit tick counter from SysTick: the 24-bit down-counter runs from the processor clock and
//! an exception counts its wraps.
//!
//! Under QEMU with `-icount shift=0` every instruction advances virtual time by 1 ns, so one tick
//! is `1e9 / sysclk_hz` instructions (40 on mps2-an386's 25 MHz clock); the host converts ticks
//! to instructions with the board's clock from `board.toml`.

use core::sync::atomic::{AtomicU32, Ordering};
use cortex_m::peripheral::syst::SystClkSource;
use cortex_m::peripheral::SYST;
use cortex_m_rt::exception;

/// SysTick reload value: the full 24-bit range, so a wrap is every 2^24 ticks.
const RELOAD: u32 = 0x00FF_FFFF;

/// Completed SysTick periods. Only the SysTick exception writes it (load then store, which every
/// Cortex-M has, unlike atomic read-modify-write on Armv6-M).
static WRAPS: AtomicU32 = AtomicU32::new(0);

#[exception]
fn SysTick() {
    WRAPS.store(
        WRAPS.load(Ordering::Relaxed).wrapping_add(1),
        Ordering::Relaxed,
    );
}

/// Starts the counter (and its wrap exception) from the processor clock.
pub fn start(mut syst: SYST) {
    syst.set_clock_source(SystClkSource::Core);
    syst.set_reload(RELOAD);
    syst.clear_current();
    syst.enable_interrupt();
    syst.enable_counter();
}

/// Ticks since [`start`].
#[inline(always)]
pub fn now() -> u64 {
    loop {
        let before = WRAPS.load(Ordering::Relaxed);
        let current = SYST::get_current();
        let after = WRAPS.load(Ordering::Relaxed);
        if before == after {
            return ((before as u64) << 24) | (RELOAD - (current & RELOAD)) as u64;
        }
    }
}

//! int8 fully connected for x86-64 hosts with AVX2, over row-major weights.
//!
//! The host runs blobs for `mote run`, evaluation and the exporter's accuracy report, so its
//! speed matters too. Four rows per pass share each widened input vector: 16 inputs are
//! sign-extended to i16 once (`VPMOVSXBW`), then per row one widening load of 16 weights,
//! `VPMADDWD` (pairs of i16 products summed into i32: at most 2·128·128, never saturating) and
//! `VPADDD`. The same wrapping i32 sums as the reference in another order: bit-exact.
//!
//! AVX2 is detected at run time with `CPUID` (the runtime has no `std`, so no
//! `is_x86_feature_detected!`), so one host binary runs everywhere.

use super::fully_connected::{constants, requantize, FullyConnectedView};
use core::arch::x86_64::{
    __cpuid, __cpuid_count, __m128i, __m256i, _mm256_add_epi32, _mm256_castsi256_si128,
    _mm256_cvtepi8_epi16, _mm256_extracti128_si256, _mm256_madd_epi16, _mm256_setzero_si256,
    _mm_add_epi32, _mm_cvtsi128_si32, _mm_hadd_epi32, _mm_loadu_si128, _xgetbv,
};
use core::sync::atomic::{AtomicU8, Ordering};

/// Inputs per vector step.
const LANES: usize = 16;

/// True when the CPU and the operating system support AVX2 (checked once, then cached).
pub fn available() -> bool {
    static STATE: AtomicU8 = AtomicU8::new(0);
    match STATE.load(Ordering::Relaxed) {
        1 => false,
        2 => true,
        _ => {
            let yes = detect();
            STATE.store(if yes { 2 } else { 1 }, Ordering::Relaxed);
            yes
        }
    }
}

fn detect() -> bool {
    // CPUID exists on every x86-64 CPU.
    let max_leaf = __cpuid(0).eax;
    let features = __cpuid(1).ecx;
    let (osxsave, avx) = (features & (1 << 27) != 0, features & (1 << 28) != 0);
    if max_leaf < 7 || !osxsave || !avx {
        return false;
    }
    // SAFETY: OSXSAVE (checked above) means the OS enabled XGETBV, which reads XCR0.
    let xcr0 = unsafe { read_xcr0() };
    // The OS must save the SSE and AVX register state (XCR0 bits 1 and 2).
    xcr0 & 0b110 == 0b110 && __cpuid_count(7, 0).ebx & (1 << 5) != 0
}

/// # Safety
/// The OS must have enabled `XGETBV` (CPUID.1:ECX.OSXSAVE).
#[target_feature(enable = "xsave")]
unsafe fn read_xcr0() -> u64 {
    // SAFETY: the caller checked OSXSAVE.
    unsafe { _xgetbv(0) }
}

/// Same contract as [`super::reference::fully_connected`]; falls back to it when AVX2 is absent.
pub fn fully_connected(layer: &FullyConnectedView<'_>, input: &[i8], output: &mut [i8]) {
    let n = layer.input_len.max(1);
    let Some(input) = input.get(..n).filter(|_| available()) else {
        return super::fully_connected::fully_connected(layer, input, output);
    };
    let blocks = layer.weights.chunks_exact(4 * n);
    let rest = blocks.remainder();
    let mut done = 0;
    for (rows, outs) in blocks.zip(output.chunks_exact_mut(4)) {
        let (rows01, rows23) = rows.split_at(2 * n);
        let (row0, row1) = rows01.split_at(n);
        let (row2, row3) = rows23.split_at(n);
        // SAFETY: `available()` confirmed AVX2 above.
        let dots = unsafe { dot4([row0, row1, row2, row3], input) };
        for (k, (out, dot)) in outs.iter_mut().zip(dots).enumerate() {
            *out = requantize(layer, dot, constants(layer, done + k));
        }
        done += 4;
    }
    for (k, row) in rest.chunks_exact(n).enumerate() {
        // SAFETY: as above.
        let [dot, ..] = unsafe { dot4([row, row, row, row], input) };
        if let Some(out) = output.get_mut(done + k) {
            *out = requantize(layer, dot, constants(layer, done + k));
        }
    }
}

/// Four dot products with `x`; every row is at least as long as `x`.
///
/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
unsafe fn dot4(rows: [&[i8]; 4], x: &[i8]) -> [i32; 4] {
    let vectors = x.len() / LANES;
    if rows.iter().any(|row| row.len() < x.len()) {
        return [0; 4];
    }
    let mut acc = [_mm256_setzero_si256(); 4];
    for v in 0..vectors {
        let at = v * LANES;
        // SAFETY: `at + LANES <= x.len() <= row.len()`, so each 16-byte unaligned load reads
        // inside its slice.
        let xv = unsafe { widen(x.as_ptr().add(at)) };
        for (acc, row) in acc.iter_mut().zip(rows) {
            // SAFETY: as above.
            let wv = unsafe { widen(row.as_ptr().add(at)) };
            *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(xv, wv));
        }
    }
    let mut dots = acc.map(|a| horizontal_sum(a));
    let tail = vectors * LANES;
    for (dot, row) in dots.iter_mut().zip(rows) {
        let products = row.iter().zip(x).skip(tail);
        *dot = products.fold(*dot, |acc, (&w, &x)| acc.wrapping_add(w as i32 * x as i32));
    }
    dots
}

/// Sixteen i8 at `p` sign-extended to sixteen i16.
///
/// # Safety
/// `p` must point to 16 readable bytes; the CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn widen(p: *const i8) -> __m256i {
    // SAFETY: the caller guarantees 16 readable bytes; `loadu` has no alignment requirement.
    _mm256_cvtepi8_epi16(unsafe { _mm_loadu_si128(p.cast::<__m128i>()) })
}

/// The wrapping sum of the eight i32 lanes.
#[inline]
#[target_feature(enable = "avx2")]
fn horizontal_sum(v: __m256i) -> i32 {
    let halves = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256::<1>(v));
    let pairs = _mm_hadd_epi32(halves, halves);
    _mm_cvtsi128_si32(_mm_hadd_epi32(pairs, pairs))
}

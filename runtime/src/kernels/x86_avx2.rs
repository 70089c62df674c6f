//! int8 fully connected for x86-64 hosts with AVX2, over row-major weights.
//!
//! The host runs blobs for `mote run`, evaluation and the exporter's accuracy report, so its
//! speed matters too. Four rows per pass share each widened input vector: 16 inputs are
//! sign-extended to i16 once (`VPMOVSXBW`), then per row one widening load of 16 weights,
//! `VPMADDWD` (pairs of i16 products summed into i32: at most 2·128·128, never saturating) and
//! `VPADDD`. The same wrapping i32 sums as the reference in another order: bit-exact.
//!
//! When no weight is -128 ([`FullyConnectedView::symmetric_weights`], the int8 spec's range),
//! a faster path takes 32 inputs per step: `VPMADDUBSW` multiplies `|x|` (unsigned, at most
//! 128) by `w·sign(x)` (at most 127 in magnitude, so the negation is exact) and adds pairs into
//! i16 without saturating (2·128·127 < 2^15), then `VPMADDWD` by ones widens to i32:
//! `Σ |x|·w·sign(x) = Σ x·w`, three operations per 32 MACs and row.
//!
//! AVX2 is detected at run time with `CPUID` (the runtime has no `std`, so no
//! `is_x86_feature_detected!`), so one host binary runs everywhere.

use super::fully_connected::{constants, requantize, FullyConnectedView};
use core::arch::x86_64::{
    __cpuid, __cpuid_count, __m128i, __m256i, _mm256_abs_epi8, _mm256_add_epi32, _mm256_add_epi64,
    _mm256_castsi256_si128, _mm256_cvtepi32_epi64, _mm256_cvtepi8_epi16, _mm256_extracti128_si256,
    _mm256_hadd_epi32, _mm256_loadu_si256, _mm256_madd_epi16, _mm256_maddubs_epi16,
    _mm256_mul_epi32, _mm256_permutevar8x32_epi32, _mm256_set1_epi16, _mm256_set1_epi64x,
    _mm256_setr_epi32, _mm256_setzero_si256, _mm256_sign_epi8, _mm256_sllv_epi64,
    _mm256_srlv_epi64, _mm256_sub_epi64, _mm_add_epi32, _mm_cvtepi8_epi32, _mm_cvtsi128_si32,
    _mm_cvtsi32_si128, _mm_loadu_si128, _mm_max_epi32, _mm_min_epi32, _mm_packs_epi16,
    _mm_packs_epi32, _mm_set1_epi32, _mm_setzero_si128, _mm_storeu_si128, _mm_sub_epi32, _xgetbv,
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
    // SAFETY: `available()` confirmed AVX2.
    unsafe { fully_connected_avx2(layer, input, output) }
}

/// The whole layer compiled for AVX2, so that the dot products and the requantisation inline
/// into one loop (a `target_feature` function cannot inline into a caller without it).
///
/// # Safety
/// The CPU must support AVX2; `input` holds exactly `max(layer.input_len, 1)` values.
#[target_feature(enable = "avx2")]
unsafe fn fully_connected_avx2(layer: &FullyConnectedView<'_>, input: &[i8], output: &mut [i8]) {
    let n = input.len();
    let blocks = layer.weights.chunks_exact(4 * n);
    let rest = blocks.remainder();
    let mut done = 0;
    let block_constants = layer
        .bias
        .chunks_exact(16)
        .zip(layer.multipliers.chunks_exact(16))
        .zip(layer.shifts.chunks_exact(4));
    for ((rows, outs), block) in blocks.zip(output.chunks_exact_mut(4)).zip(block_constants) {
        let (rows01, rows23) = rows.split_at(2 * n);
        let (row0, row1) = rows01.split_at(n);
        let (row2, row3) = rows23.split_at(n);
        // SAFETY: `available()` confirmed AVX2 above.
        let dots = unsafe {
            if layer.symmetric_weights {
                dot4_sign([row0, row1, row2, row3], input)
            } else {
                dot4([row0, row1, row2, row3], input)
            }
        };
        // SAFETY: as above.
        let bytes = unsafe { requantize4(layer, dots, block) };
        outs.copy_from_slice(&bytes);
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

/// [`requantize`] of four outputs at once: the 64-bit products in 64-bit lanes, the rounding
/// right shift done unsigned on values offset by 2^62 (AVX2 has no 64-bit arithmetic shift),
/// then offset, clamp and narrowing. The same integers as the scalar path for every input.
///
/// # Safety
/// The CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn requantize4(
    layer: &FullyConnectedView<'_>,
    dots: [i32; 4],
    ((bias, multipliers), shifts): ((&[u8], &[u8]), &[u8]),
) -> [i8; 4] {
    let (Ok(bias), Ok(multipliers), Ok(shifts)) = (
        <[u8; 16]>::try_from(bias),
        <[u8; 16]>::try_from(multipliers),
        <[u8; 4]>::try_from(shifts),
    ) else {
        return [0; 4];
    };
    // SAFETY (for the loads): each reads the 16 bytes of a local array.
    let (dots, bias, multipliers) = unsafe {
        (
            _mm_loadu_si128(dots.as_ptr().cast::<__m128i>()),
            _mm_loadu_si128(bias.as_ptr().cast::<__m128i>()),
            _mm_loadu_si128(multipliers.as_ptr().cast::<__m128i>()),
        )
    };
    let x = _mm256_cvtepi32_epi64(_mm_add_epi32(dots, bias));
    let product = _mm256_mul_epi32(x, _mm256_cvtepi32_epi64(multipliers));
    // total_shift = clamp(31 - shift, 1, 62), as the scalar path.
    let shifts = _mm_cvtepi8_epi32(_mm_cvtsi32_si128(i32::from_le_bytes(shifts)));
    let total = _mm_sub_epi32(_mm_set1_epi32(31), shifts);
    let total = _mm_min_epi32(_mm_max_epi32(total, _mm_set1_epi32(1)), _mm_set1_epi32(62));
    let total = _mm256_cvtepi32_epi64(total);
    let one = _mm256_set1_epi64x(1);
    let round = _mm256_sllv_epi64(one, _mm256_sub_epi64(total, one));
    // |product| < 2^62 and round <= 2^61, so product + round + 2^62 lies in (0, 2^64): shift it
    // unsigned, then take away 2^62 >> total (exact: total <= 62 divides 2^62).
    let offset = _mm256_set1_epi64x(1 << 62);
    let biased = _mm256_add_epi64(_mm256_add_epi64(product, round), offset);
    let shifted = _mm256_sub_epi64(
        _mm256_srlv_epi64(biased, total),
        _mm256_srlv_epi64(offset, total),
    );
    // The low 32 bits of each 64-bit lane, as the scalar path's `as i32`.
    let low = _mm256_permutevar8x32_epi32(shifted, _mm256_setr_epi32(0, 2, 4, 6, 0, 2, 4, 6));
    let scaled = _mm256_castsi256_si128(low);
    let out = _mm_add_epi32(scaled, _mm_set1_epi32(layer.output_offset));
    let out = _mm_max_epi32(out, _mm_set1_epi32(layer.activation_min as i32));
    let out = _mm_min_epi32(out, _mm_set1_epi32(layer.activation_max as i32));
    // Already within i8: the saturating packs only narrow.
    let packed = _mm_packs_epi16(_mm_packs_epi32(out, out), _mm_setzero_si128());
    (_mm_cvtsi128_si32(packed) as u32)
        .to_le_bytes()
        .map(|b| b as i8)
}

/// Four dot products with `x`; every row is at least as long as `x`.
///
/// # Safety
/// The CPU must support AVX2.
#[inline]
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
    let mut dots = horizontal_sums(acc);
    let tail = vectors * LANES;
    for (dot, row) in dots.iter_mut().zip(rows) {
        let products = row.iter().zip(x).skip(tail);
        *dot = products.fold(*dot, |acc, (&w, &x)| acc.wrapping_add(w as i32 * x as i32));
    }
    dots
}

/// [`dot4`] for rows without -128: 32 inputs per step with `VPMADDUBSW` (see the module docs).
///
/// # Safety
/// The CPU must support AVX2.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn dot4_sign(rows: [&[i8]; 4], x: &[i8]) -> [i32; 4] {
    const WIDE: usize = 32;
    let vectors = x.len() / WIDE;
    if rows.iter().any(|row| row.len() < x.len()) {
        return [0; 4];
    }
    let ones = _mm256_set1_epi16(1);
    let mut acc = [_mm256_setzero_si256(); 4];
    for v in 0..vectors {
        let at = v * WIDE;
        // SAFETY: `at + WIDE <= x.len() <= row.len()`, so each 32-byte unaligned load reads
        // inside its slice.
        let xv = unsafe { _mm256_loadu_si256(x.as_ptr().add(at).cast::<__m256i>()) };
        let magnitude = _mm256_abs_epi8(xv);
        for (acc, row) in acc.iter_mut().zip(rows) {
            // SAFETY: as above.
            let wv = unsafe { _mm256_loadu_si256(row.as_ptr().add(at).cast::<__m256i>()) };
            let pairs = _mm256_maddubs_epi16(magnitude, _mm256_sign_epi8(wv, xv));
            *acc = _mm256_add_epi32(*acc, _mm256_madd_epi16(pairs, ones));
        }
    }
    let mut dots = horizontal_sums(acc);
    let tail = vectors * WIDE;
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

/// The wrapping sums of the eight i32 lanes of each of four vectors, in one reduction tree.
#[inline]
#[target_feature(enable = "avx2")]
fn horizontal_sums(v: [__m256i; 4]) -> [i32; 4] {
    // Pairwise sums of 0 and 1, then of 2 and 3, then of those: lanes 0..4 and 4..8 hold the
    // halves of the four totals.
    let sums = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
    let totals = _mm_add_epi32(
        _mm256_castsi256_si128(sums),
        _mm256_extracti128_si256::<1>(sums),
    );
    let mut out = [0i32; 4];
    // SAFETY: `out` is 16 writable bytes; `storeu` has no alignment requirement.
    unsafe { _mm_storeu_si128(out.as_mut_ptr().cast::<__m128i>(), totals) };
    out
}

//! Scoring for x86-64 hosts with AVX2 (the host runs recommender blobs for `mote run`, the
//! exporter's recall check and evaluation). Per row and 16 values: one widening load of the
//! item bytes to i16 (`VPMOVSXBW`), `VPMADDWD` with the query's centred i16 values (pairs of
//! products summed into i32, at most 2·255·128: exact) and `VPADDD`; the query vectors are
//! loaded once per call. The same exact i32 sums as the reference in another order.
//!
//! AVX2 is detected at run time (CPUID, through the fully connected kernel's cached check), so
//! one host binary runs everywhere.

use super::{Query, MAX_QUERY_LEN};
use core::arch::x86_64::{
    __m256i, _mm256_add_epi32, _mm256_castsi256_si128, _mm256_cvtepi8_epi16,
    _mm256_extracti128_si256, _mm256_loadu_si256, _mm256_madd_epi16, _mm256_setzero_si256,
    _mm_add_epi32, _mm_cvtsi128_si32, _mm_loadu_si128, _mm_shuffle_epi32,
};

/// Values per vector step.
const LANES: usize = 16;

/// True when the CPU and the operating system support AVX2 (checked once, then cached).
pub fn available() -> bool {
    crate::kernels::x86_avx2::available()
}

/// Same contract as [`super::reference::scores`]; falls back to it when AVX2 is absent.
pub fn scores(query: &Query, table: &[i8], out: &mut [i32]) {
    if !available() {
        return super::reference::scores(query, table, out);
    }
    // SAFETY: `available()` confirmed AVX2.
    unsafe { scores_avx2(query, table, out) }
}

/// # Safety
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
unsafe fn scores_avx2(query: &Query, table: &[i8], out: &mut [i32]) {
    let n = query.len.max(1);
    let chunks = n / LANES;
    let centred = query.centred();
    let tail = centred.get(chunks * LANES..).unwrap_or(&[]);
    let mut q = [_mm256_setzero_si256(); MAX_QUERY_LEN / LANES];
    for (slot, values) in q.iter_mut().zip(query.centred.chunks_exact(LANES)) {
        // SAFETY: `values` holds 16 i16 (32 bytes); `loadu` has no alignment requirement.
        *slot = unsafe { _mm256_loadu_si256(values.as_ptr().cast::<__m256i>()) };
    }
    let q = q.get(..chunks).unwrap_or(&[]);
    for (row, score) in table.chunks_exact(n).zip(out) {
        let mut acc = _mm256_setzero_si256();
        for (bytes, &qv) in row.chunks_exact(LANES).zip(q) {
            // SAFETY: `bytes` holds 16 bytes; `loadu` has no alignment requirement.
            let v = unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) };
            acc = _mm256_add_epi32(acc, _mm256_madd_epi16(_mm256_cvtepi8_epi16(v), qv));
        }
        let sum = _mm_add_epi32(
            _mm256_castsi256_si128(acc),
            _mm256_extracti128_si256::<1>(acc),
        );
        let sum = _mm_add_epi32(sum, _mm_shuffle_epi32::<0b01_00_11_10>(sum));
        let sum = _mm_add_epi32(sum, _mm_shuffle_epi32::<0b10_11_00_01>(sum));
        let mut total = _mm_cvtsi128_si32(sum);
        for (&v, &c) in row.get(chunks * LANES..).unwrap_or(&[]).iter().zip(tail) {
            total += i32::from(c) * i32::from(v);
        }
        *score = total;
    }
}

//! int8 scoring of a table of rows against one query vector: the recommender's inner loop
//! (every item's row of the item table against the user vector).
//!
//! The score of row `v` is `Σ_k (u_k − z) · v_k`, where `u` is the int8 user vector and `z` its
//! zero point: an exact i32 (at most 64 · 255 · 128 in magnitude, far from overflow), so every
//! variant below gives the same value whatever order it adds in. [`Query`] prepares the user
//! side once per recommendation (centred i16 values, and the halfword pairs `SMLAD` reads);
//! [`scores`] then scores a block of rows with the fastest kernel this build has:
//!
//! - [`arm_dsp`]: Armv7E-M / Cortex-M33 DSP, `SXTB16` + `SMLAD` (`asm!`), four rows per pass;
//! - [`helium`]: Cortex-M55, plain Rust shaped so LLVM vectorises it for MVE;
//! - [`x86_avx2`]: x86-64 hosts with AVX2 (detected at run time), `VPMOVSXBW` + `VPMADDWD`;
//! - [`reference`]: the portable scalar loop every variant must equal (proptest below).

pub mod arm_dsp;
pub mod helium;
#[cfg(target_arch = "x86_64")]
pub mod x86_avx2;

use crate::Error;

/// Longest query (the widest user vector a recommender blob may have).
pub const MAX_QUERY_LEN: usize = 64;

/// The user side of the scores, prepared once for many rows.
#[derive(Debug, Clone)]
pub struct Query {
    len: usize,
    zero_point: i32,
    /// The int8 user vector, zero-padded to [`MAX_QUERY_LEN`].
    user: [i8; MAX_QUERY_LEN],
    /// `u_k − z`, in `-255..=255`, zero-padded.
    centred: [i16; MAX_QUERY_LEN],
    /// Per group of four values `k..k+4`: the halfword pairs `(c_k, c_{k+2})` and
    /// `(c_{k+1}, c_{k+3})` of `centred`, low halfword first, matching what `SXTB16` and
    /// `SXTB16 ROR #8` make of four item bytes.
    pairs: [u32; MAX_QUERY_LEN / 2],
}

impl Query {
    /// Prepares `user` (1 to [`MAX_QUERY_LEN`] values) with zero point `zero_point`
    /// (`-128..=127`): [`Error::OutputLength`] or [`Error::BadQuantParams`] otherwise.
    pub fn new(user: &[i8], zero_point: i32) -> Result<Query, Error> {
        if user.is_empty() || user.len() > MAX_QUERY_LEN {
            return Err(Error::OutputLength);
        }
        if !(-128..=127).contains(&zero_point) {
            return Err(Error::BadQuantParams);
        }
        let mut query = Query {
            len: user.len(),
            zero_point,
            user: [0; MAX_QUERY_LEN],
            centred: [0; MAX_QUERY_LEN],
            pairs: [0; MAX_QUERY_LEN / 2],
        };
        for ((u, c), &x) in query.user.iter_mut().zip(&mut query.centred).zip(user) {
            *u = x;
            *c = (i32::from(x) - zero_point) as i16;
        }
        for (pair, group) in query
            .pairs
            .chunks_exact_mut(2)
            .zip(query.centred.chunks_exact(4))
        {
            let half = |v: i16| u32::from(v as u16);
            pair[0] = half(group[0]) | half(group[2]) << 16;
            pair[1] = half(group[1]) | half(group[3]) << 16;
        }
        Ok(query)
    }

    /// Number of values (the row length of the tables it scores).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Always false: a query holds at least one value.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The zero point subtracted from the user values.
    pub fn zero_point(&self) -> i32 {
        self.zero_point
    }

    /// `u_k − z` for the `len` values.
    fn centred(&self) -> &[i16] {
        self.centred.get(..self.len).unwrap_or(&[])
    }
}

/// The portable scalar kernel every variant must equal.
pub mod reference {
    use super::Query;

    /// Scores the rows of `table` (each [`Query::len`] values) into `out`: row `r` gets
    /// `Σ_k (u_k − z) · table[r·len + k]`. Writes `min(out.len(), table.len() / len)` scores.
    pub fn scores(query: &Query, table: &[i8], out: &mut [i32]) {
        let centred = query.centred();
        for (row, score) in table.chunks_exact(query.len.max(1)).zip(out) {
            *score = row
                .iter()
                .zip(centred)
                .map(|(&v, &c)| i32::from(c) * i32::from(v))
                .sum();
        }
    }
}

/// [`reference::scores`] with the fastest kernel this build has (chosen at compile time from
/// the target, see `build.rs`; AVX2 at run time).
pub fn scores(query: &Query, table: &[i8], out: &mut [i32]) {
    #[cfg(mote_arm_dsp)]
    return arm_dsp::scores(query, table, out);
    #[cfg(mote_helium)]
    return helium::scores(query, table, out);
    #[cfg(target_arch = "x86_64")]
    if x86_avx2::available() {
        return x86_avx2::scores(query, table, out);
    }
    #[allow(unreachable_code)]
    reference::scores(query, table, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::vec::Vec;

    /// A kernel under test.
    type Kernel = fn(&Query, &[i8], &mut [i32]);

    fn variants() -> Vec<(&'static str, Kernel)> {
        let mut all: Vec<(&'static str, Kernel)> = std::vec![
            ("arm_dsp", arm_dsp::scores),
            ("helium", helium::scores),
            ("dispatch", scores),
        ];
        #[cfg(target_arch = "x86_64")]
        all.push(("x86_avx2", x86_avx2::scores));
        all
    }

    /// Values biased towards the extremes, where sign extension goes wrong first.
    fn extreme_i8() -> impl Strategy<Value = i8> {
        prop_oneof![Just(-128i8), Just(127), Just(-127), Just(0), any::<i8>()]
    }

    fn case() -> impl Strategy<Value = (Vec<i8>, i32, Vec<i8>, usize, usize)> {
        (1usize..=MAX_QUERY_LEN, 0usize..23).prop_flat_map(|(len, rows)| {
            (
                prop::collection::vec(extreme_i8(), len),
                prop_oneof![Just(-128i32), Just(127), -128i32..=127],
                // A few stray bytes after the last whole row must be ignored.
                prop::collection::vec(extreme_i8(), rows * len + 3),
                // Output room: fewer, exactly as many, or more scores than rows.
                0usize..rows + 3,
                // Start the table at this byte offset (misaligned loads).
                0usize..4,
            )
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn every_kernel_equals_the_reference((user, zp, table, room, shift) in case()) {
            let query = Query::new(&user, zp).unwrap();
            let mut buffer = std::vec![0i8; shift];
            buffer.extend_from_slice(&table);
            let table = &buffer[shift..];
            let mut want = std::vec![i32::MIN; room];
            reference::scores(&query, table, &mut want);
            // The reference is the definition.
            for (r, &score) in want.iter().enumerate().take(table.len() / user.len()) {
                let row = &table[r * user.len()..(r + 1) * user.len()];
                let direct: i32 = row.iter().zip(&user).map(|(&v, &u)| (u as i32 - zp) * v as i32).sum();
                prop_assert_eq!(score, direct);
            }
            for (name, kernel) in variants() {
                let mut got = std::vec![i32::MIN; room];
                kernel(&query, table, &mut got);
                prop_assert_eq!(&got, &want, "{}", name);
            }
        }
    }

    #[test]
    fn queries_out_of_range_are_errors() {
        assert_eq!(Query::new(&[], 0).unwrap_err(), Error::OutputLength);
        assert_eq!(
            Query::new(&[0; MAX_QUERY_LEN + 1], 0).unwrap_err(),
            Error::OutputLength
        );
        assert_eq!(Query::new(&[1], 128).unwrap_err(), Error::BadQuantParams);
        assert_eq!(Query::new(&[1], -129).unwrap_err(), Error::BadQuantParams);
        let q = Query::new(&[127, -128, 0, 5, 9], -128).unwrap();
        assert_eq!((q.len(), q.is_empty(), q.zero_point()), (5, false, -128));
        assert_eq!(q.centred(), &[255, 0, 128, 133, 137]);
        assert_eq!(q.pairs[0], 255 | 128 << 16);
        assert_eq!(q.pairs[1], 133 << 16);
    }

    #[test]
    fn largest_scores_do_not_overflow() {
        let query = Query::new(&[127; MAX_QUERY_LEN], -128).unwrap();
        let table = [-128i8; 2 * MAX_QUERY_LEN];
        for (name, kernel) in variants() {
            let mut out = [0i32; 2];
            kernel(&query, &table, &mut out);
            assert_eq!(out, [-255 * 128 * MAX_QUERY_LEN as i32; 2], "{name}");
        }
    }
}

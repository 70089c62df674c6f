//! int8 LOGISTIC (sigmoid), bit-exact with LiteRT's reference kernel.
//!
//! LiteRT's `BUILTIN_REF` (and default) int8 LOGISTIC is a table lookup: Prepare evaluates
//! `1 / (1 + exp(-x))` in float for each of the 256 input values and quantises the results;
//! Eval indexes the table with the input byte. The exporter computes that table
//! (`mote_exporter::activation_params::logistic`) and stores it in [`Elementwise::table`].

use crate::manifest::{Elementwise, QuantParams};
use crate::Error;

/// Output scale LiteRT requires of int8 logistic.
pub const OUTPUT_SCALE: f32 = 1.0 / 256.0;
/// Output zero point the int8 quantisation spec fixes for logistic.
pub const OUTPUT_ZERO_POINT: i32 = -128;

/// int8 logistic of each element: `output[i] = table(input[i])`.
pub fn logistic(p: &Elementwise, input: &[i8], output: &mut [i8]) {
    apply_table(&p.table, input, output);
}

/// Looks every input up in a 256-entry table stored as 16 rows of 16.
pub(crate) fn apply_table(table: &[[i8; 16]; 16], input: &[i8], output: &mut [i8]) {
    for (y, &x) in output.iter_mut().zip(input) {
        let b = x as u8;
        // Both indices are below 16 by construction, so this cannot go out of bounds.
        *y = table[usize::from(b >> 4)][usize::from(b & 15)];
    }
}

/// Checks the parameters of a logistic layer: a valid input quantisation (the table was made
/// for it) and the output quantisation the op fixes, 1/256 and -128 ([`Error::BadQuantParams`]).
/// The table itself can hold any values.
pub(crate) fn validate(p: &Elementwise) -> Result<(), Error> {
    check_input(p.input)?;
    if p.output.scale != OUTPUT_SCALE || p.output.zero_point != OUTPUT_ZERO_POINT {
        return Err(Error::BadQuantParams);
    }
    Ok(())
}

/// An int8 input quantisation: finite positive scale, zero point in `-128..=127`.
pub(crate) fn check_input(q: QuantParams) -> Result<(), Error> {
    let scale_ok = q.scale.is_finite() && q.scale > 0.0;
    if !scale_ok || !(-128..=127).contains(&q.zero_point) {
        return Err(Error::BadQuantParams);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn ramp_table() -> [[i8; 16]; 16] {
        let mut t = [[0i8; 16]; 16];
        for (hi, row) in t.iter_mut().enumerate() {
            for (lo, v) in row.iter_mut().enumerate() {
                // the table maps each byte to its bitwise complement, as a recognisable pattern
                *v = !((hi * 16 + lo) as u8) as i8;
            }
        }
        t
    }

    fn params(table: [[i8; 16]; 16]) -> Elementwise {
        Elementwise {
            len: 256,
            input: QuantParams {
                scale: 0.1,
                zero_point: 3,
            },
            output: QuantParams {
                scale: OUTPUT_SCALE,
                zero_point: OUTPUT_ZERO_POINT,
            },
            table,
        }
    }

    #[test]
    fn looks_up_every_byte() {
        let p = params(ramp_table());
        let input: std::vec::Vec<i8> = (-128..=127).collect();
        let mut out = [0i8; 256];
        logistic(&p, &input, &mut out);
        for (&x, &y) in input.iter().zip(&out) {
            assert_eq!(y, !(x as u8) as i8);
        }
    }

    #[test]
    fn validate_checks_quantisation() {
        let good = params(ramp_table());
        assert_eq!(validate(&good), Ok(()));
        let mut p = good;
        p.output.zero_point = 0;
        assert_eq!(validate(&p), Err(Error::BadQuantParams));
        let mut p = good;
        p.output.scale = 1.0 / 128.0;
        assert_eq!(validate(&p), Err(Error::BadQuantParams));
        let mut p = good;
        p.input.scale = f32::INFINITY;
        assert_eq!(validate(&p), Err(Error::BadQuantParams));
        let mut p = good;
        p.input.zero_point = 128;
        assert_eq!(validate(&p), Err(Error::BadQuantParams));
    }

    proptest! {
        #[test]
        fn never_panics(
            fill in any::<i8>(),
            input in proptest::collection::vec(any::<i8>(), 0..300),
            out_len in 0usize..300,
        ) {
            let p = params([[fill; 16]; 16]);
            let mut out = std::vec![0i8; out_len];
            logistic(&p, &input, &mut out);
            prop_assert!(out.iter().take(input.len()).all(|&y| y == fill));
        }
    }
}

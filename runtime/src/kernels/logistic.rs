//! int8 LOGISTIC (sigmoid), bit-exact with LiteRT's reference kernel.
//!
//! LiteRT's `BUILTIN_REF` (and default) int8 LOGISTIC is a table lookup: Prepare evaluates
//! `1 / (1 + exp(-x))` in float for each of the 256 input values and quantises the results;
//! Eval indexes the table with the input byte. The exporter computes that table
//! (`mote_exporter::activation_params::logistic`) and stores it in the section
//! [`Elementwise::table`].

use crate::manifest::Elementwise;
use crate::Error;

/// Output scale LiteRT requires of int8 logistic.
pub const OUTPUT_SCALE: f32 = 1.0 / 256.0;
/// Output zero point the int8 quantisation spec fixes for logistic.
pub const OUTPUT_ZERO_POINT: i32 = -128;

/// int8 logistic of each element: `output[i] = table[input[i] as u8]`, with the layer's table.
pub fn logistic(table: &[u8; 256], input: &[i8], output: &mut [i8]) {
    lookup(table, input, output);
}

/// Looks every input up in a 256-entry table indexed by the input's bits. Out of line, so that
/// logistic and tanh share one copy.
#[inline(never)]
pub(crate) fn lookup(table: &[u8; 256], input: &[i8], output: &mut [i8]) {
    for (y, &x) in output.iter_mut().zip(input) {
        // A u8 index into a 256-entry array cannot go out of bounds.
        *y = table[usize::from(x as u8)] as i8;
    }
}

/// Checks the parameters of a logistic layer: a valid input quantisation (the table was made
/// for it) and the output quantisation the op fixes, 1/256 and -128 ([`Error::BadQuantParams`]).
/// The table itself can hold any values.
pub(crate) fn validate(p: &Elementwise) -> Result<(), Error> {
    validate_lookup(p, OUTPUT_SCALE, OUTPUT_ZERO_POINT)
}

/// Checks a lookup-table layer: a valid input quantisation and the output quantisation its op
/// fixes ([`Error::BadQuantParams`] otherwise).
pub(crate) fn validate_lookup(p: &Elementwise, scale: f32, zero_point: i32) -> Result<(), Error> {
    p.input.check_int8()?;
    if p.output.scale != scale || p.output.zero_point != zero_point {
        return Err(Error::BadQuantParams);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{QuantParams, Section};
    use proptest::prelude::*;

    fn params() -> Elementwise {
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
            table: Section {
                offset: 0,
                len: 256,
            },
        }
    }

    #[test]
    fn looks_up_every_byte() {
        // The table maps each byte to its bitwise complement, a recognisable pattern.
        let mut table = [0u8; 256];
        for (i, v) in table.iter_mut().enumerate() {
            *v = !(i as u8);
        }
        let input: std::vec::Vec<i8> = (-128..=127).collect();
        let mut out = [0i8; 256];
        logistic(&table, &input, &mut out);
        for (&x, &y) in input.iter().zip(&out) {
            assert_eq!(y, !(x as u8) as i8);
        }
    }

    #[test]
    fn validate_checks_quantisation() {
        let good = params();
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
            fill in any::<u8>(),
            input in proptest::collection::vec(any::<i8>(), 0..300),
            out_len in 0usize..300,
        ) {
            let mut out = std::vec![0i8; out_len];
            logistic(&[fill; 256], &input, &mut out);
            prop_assert!(out.iter().take(input.len()).all(|&y| y == fill as i8));
        }
    }
}

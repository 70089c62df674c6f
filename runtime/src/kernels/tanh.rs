//! int8 TANH, bit-exact with LiteRT's reference kernel.
//!
//! As for LOGISTIC, LiteRT's `BUILTIN_REF` (and default) int8 TANH is a table lookup that
//! Prepare fills with the quantised float `tanh` of each of the 256 input values; the exporter
//! computes the table (`mote_exporter::activation_params::tanh`) and the kernel looks it up.

use super::logistic::{apply_table, check_input};
use crate::manifest::Elementwise;
use crate::Error;

/// Output scale the int8 quantisation spec fixes for tanh.
pub const OUTPUT_SCALE: f32 = 1.0 / 128.0;
/// Output zero point the int8 quantisation spec fixes for tanh.
pub const OUTPUT_ZERO_POINT: i32 = 0;

/// int8 tanh of each element: `output[i] = table(input[i])`.
pub fn tanh(p: &Elementwise, input: &[i8], output: &mut [i8]) {
    apply_table(&p.table, input, output);
}

/// Checks the parameters of a tanh layer: a valid input quantisation and the output
/// quantisation the op fixes, 1/128 and 0 ([`Error::BadQuantParams`]).
pub(crate) fn validate(p: &Elementwise) -> Result<(), Error> {
    check_input(p.input)?;
    if p.output.scale != OUTPUT_SCALE || p.output.zero_point != OUTPUT_ZERO_POINT {
        return Err(Error::BadQuantParams);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::QuantParams;
    use proptest::prelude::*;

    fn params(table: [[i8; 16]; 16]) -> Elementwise {
        Elementwise {
            len: 4,
            input: QuantParams {
                scale: 0.05,
                zero_point: 0,
            },
            output: QuantParams {
                scale: OUTPUT_SCALE,
                zero_point: OUTPUT_ZERO_POINT,
            },
            table,
        }
    }

    #[test]
    fn indexes_by_input_byte() {
        let mut table = [[0i8; 16]; 16];
        table[0][0] = 1; // input 0
        table[0][1] = 2; // input 1
        table[15][15] = 3; // input -1
        table[8][0] = 4; // input -128
        let mut out = [0i8; 4];
        tanh(&params(table), &[0, 1, -1, -128], &mut out);
        assert_eq!(out, [1, 2, 3, 4]);
    }

    #[test]
    fn validate_checks_quantisation() {
        let good = params([[0; 16]; 16]);
        assert_eq!(validate(&good), Ok(()));
        let mut p = good;
        p.output.zero_point = -128;
        assert_eq!(validate(&p), Err(Error::BadQuantParams));
        let mut p = good;
        p.input.scale = 0.0;
        assert_eq!(validate(&p), Err(Error::BadQuantParams));
    }

    proptest! {
        #[test]
        fn never_panics(
            fill in any::<i8>(),
            input in proptest::collection::vec(any::<i8>(), 0..300),
            out_len in 0usize..300,
        ) {
            let mut out = std::vec![0i8; out_len];
            tanh(&params([[fill; 16]; 16]), &input, &mut out);
        }
    }
}

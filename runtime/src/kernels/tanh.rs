//! int8 TANH, bit-exact with LiteRT's reference kernel.
//!
//! As for LOGISTIC, LiteRT's `BUILTIN_REF` (and default) int8 TANH is a table lookup that
//! Prepare fills with the quantised float `tanh` of each of the 256 input values; the exporter
//! computes the table (`mote_exporter::activation_params::tanh`) and the kernel looks it up.

use super::logistic::{lookup, validate_lookup};
use crate::manifest::Elementwise;
use crate::Error;

/// Output scale the int8 quantisation spec fixes for tanh.
pub const OUTPUT_SCALE: f32 = 1.0 / 128.0;
/// Output zero point the int8 quantisation spec fixes for tanh.
pub const OUTPUT_ZERO_POINT: i32 = 0;

/// int8 tanh of each element: `output[i] = table[input[i] as u8]`, with the layer's table.
pub fn tanh(table: &[u8; 256], input: &[i8], output: &mut [i8]) {
    lookup(table, input, output);
}

/// Checks the parameters of a tanh layer: a valid input quantisation and the output
/// quantisation the op fixes, 1/128 and 0 ([`Error::BadQuantParams`]).
pub(crate) fn validate(p: &Elementwise) -> Result<(), Error> {
    validate_lookup(p, OUTPUT_SCALE, OUTPUT_ZERO_POINT)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Section;
    use crate::QuantParams;

    #[test]
    fn indexes_by_input_byte() {
        let mut table = [0u8; 256];
        table[0] = 1; // input 0
        table[1] = 2; // input 1
        table[255] = 3; // input -1
        table[128] = 4; // input -128
        let mut out = [0i8; 4];
        tanh(&table, &[0, 1, -1, -128], &mut out);
        assert_eq!(out, [1, 2, 3, 4]);
    }

    #[test]
    fn validate_checks_quantisation() {
        let good = Elementwise {
            len: 4,
            input: QuantParams {
                scale: 0.05,
                zero_point: 0,
            },
            output: QuantParams {
                scale: OUTPUT_SCALE,
                zero_point: OUTPUT_ZERO_POINT,
            },
            table: Section {
                offset: 0,
                len: 256,
            },
        };
        assert_eq!(validate(&good), Ok(()));
        let mut p = good;
        p.output.zero_point = -128;
        assert_eq!(validate(&p), Err(Error::BadQuantParams));
        let mut p = good;
        p.input.scale = 0.0;
        assert_eq!(validate(&p), Err(Error::BadQuantParams));
    }
}

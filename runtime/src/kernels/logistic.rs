//! PLACEHOLDER being replaced by the LiteRT-exact int8 logistic kernel.

use crate::manifest::Elementwise;
use crate::Error;

/// int8 logistic.
pub fn logistic(_p: &Elementwise, _input: &[i8], _output: &mut [i8]) {}

/// Checks the parameters of a logistic layer.
pub(crate) fn validate(_p: &Elementwise) -> Result<(), Error> {
    Ok(())
}

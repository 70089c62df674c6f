//! PLACEHOLDER being replaced by the LiteRT-exact int8 tanh kernel.

use crate::manifest::Elementwise;
use crate::Error;

/// int8 tanh.
pub fn tanh(_p: &Elementwise, _input: &[i8], _output: &mut [i8]) {}

/// Checks the parameters of a tanh layer.
pub(crate) fn validate(_p: &Elementwise) -> Result<(), Error> {
    Ok(())
}

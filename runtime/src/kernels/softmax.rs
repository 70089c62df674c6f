//! PLACEHOLDER being replaced by the LiteRT-exact int8 softmax kernel.

use crate::manifest::Softmax;
use crate::Error;

/// int8 softmax.
pub fn softmax(_p: &Softmax, _input: &[i8], _output: &mut [i8]) {}

/// Checks the parameters of a softmax layer.
pub(crate) fn validate(_p: &Softmax) -> Result<(), Error> {
    Ok(())
}

//! Sparse Gaussian processes: the differentiable linear algebra, kernels, the SGPR and SVGP
//! models, their optimisers, standardisation, the interchange file and the Friedman #1 data.
//!
//! - [`linalg`]: Cholesky, triangular solves, log-determinant (plain and on the tape);
//! - [`ops`]: elementwise and structural tape ops (softplus, kernel profiles, distances, ...);
//! - [`kernels`]: RBF (ARD), Matern 3/2 and 5/2, linear, white, sums and products.

use core::fmt;

pub mod fit;
pub mod friedman;
pub mod inducing;
pub mod kernels;
pub mod lbfgs;
pub mod likelihood;
pub mod linalg;
pub mod ops;
pub mod params;
pub mod posterior;
pub mod sgpr;
pub mod standardise;
pub mod svgp;

pub use kernels::Kernel;

/// Why a GP could not be trained, loaded or evaluated.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum GpError {
    /// A matrix that must be positive definite (a kernel matrix plus jitter) is not.
    NotPositiveDefinite,
    /// A configuration, spec or parameter value is out of range (the message says which).
    Invalid(String),
    /// A parameter file could not be read or written.
    Io {
        /// The file.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// A parameter file is not valid JSON of the expected structure (serde's message, with
    /// line and column).
    Parse(String),
    /// A parameter file's `format_version` is not one this code knows.
    UnsupportedVersion(u32),
}

impl fmt::Display for GpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GpError::NotPositiveDefinite => write!(
                f,
                "a kernel matrix is not positive definite (try more jitter or other inducing points)"
            ),
            GpError::Invalid(message) => write!(f, "{message}"),
            GpError::Io { path, message } => write!(f, "cannot access {path}: {message}"),
            GpError::Parse(message) => write!(f, "not a valid GP parameter file: {message}"),
            GpError::UnsupportedVersion(v) => write!(
                f,
                "GP parameter format_version {v} is not supported (this build reads {})",
                params::FORMAT_VERSION
            ),
        }
    }
}

impl std::error::Error for GpError {}

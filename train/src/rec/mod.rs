//! Recommendations: interaction logs, a platform simulator, the item co-interaction graph, the
//! heterogeneous GNN (HGNN) trained by link prediction, and the evaluation scaffold.
//!
//! This is the host side of the 2T-HGNN recommender (issue 7): items are nodes of a graph whose
//! edges are co-interactions within a time window, typed by the pair of item types they join;
//! users stay out of the graph and are represented by the items they consumed.
//!
//! - [`data`]: streaming CSV loaders for interaction logs and item metadata ([`RecData`]);
//! - [`simulate`]: a deterministic platform simulator (music, podcasts, audiobooks);
//! - [`graph`]: co-interaction edges by type pair and hashed bag-of-words node features;
//! - [`sampler`]: the multi-link neighbour sampler (up to k neighbours per edge type);
//! - [`ops`]: the sparse tape ops (gather, segment mean, typed linear, row L2 norm, ...);
//! - [`hgnn`]: GraphSAGE-style heterogeneous layers and link-prediction training;
//! - [`two_tower`]: the user and item towers trained with in-batch negatives on top;
//! - [`eval`]: the per-user time split, hit-rate@k / NDCG@k and the baselines.

use core::fmt;

pub mod data;
pub mod eval;
pub mod graph;
pub mod hgnn;
pub mod ops;
pub mod sampler;
pub mod simulate;
pub mod two_tower;

pub use data::{Catalog, Interaction, RecData};

/// Why recommendation data could not be read or a recommender could not be built.
///
/// Line numbers are 1-based and count the header line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecError {
    /// A file could not be read or written.
    Io {
        /// The file.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// The header line is missing or does not name the expected columns.
    BadHeader {
        /// The file.
        path: String,
        /// The columns expected, comma-separated.
        expected: String,
        /// The header line found (empty if the file is empty).
        found: String,
    },
    /// A data line has the wrong number of fields.
    FieldCount {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What was expected, e.g. "4 or 5".
        expected: &'static str,
        /// Fields on this line.
        found: usize,
    },
    /// A field could not be parsed or is out of range.
    BadField {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// The column's name, e.g. "timestamp".
        field: &'static str,
        /// The offending text.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An interaction names an item absent from the item metadata.
    UnknownItem {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// The item id.
        item: String,
    },
    /// An item appears with a different type than the metadata gives it.
    TypeMismatch {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// The item id.
        item: String,
        /// The type in the item metadata.
        expected: String,
        /// The type on this line.
        found: String,
    },
    /// An item id appears twice in the item metadata.
    DuplicateItem {
        /// The file.
        path: String,
        /// 1-based line number.
        line: usize,
        /// The item id.
        item: String,
    },
    /// A file has a header but no data rows.
    NoRows {
        /// The file.
        path: String,
    },
    /// A configuration value or an input is out of range (the message says which).
    Invalid(String),
}

impl fmt::Display for RecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecError::Io { path, message } => write!(f, "{path}: {message}"),
            RecError::BadHeader {
                path,
                expected,
                found,
            } => write!(f, "{path}: line 1: expected the header {expected:?}, found {found:?}"),
            RecError::FieldCount {
                path,
                line,
                expected,
                found,
            } => write!(f, "{path}: line {line}: expected {expected} fields, found {found}"),
            RecError::BadField {
                path,
                line,
                field,
                text,
                reason,
            } => write!(f, "{path}: line {line}: field {field} = {text:?}: {reason}"),
            RecError::UnknownItem { path, line, item } => write!(
                f,
                "{path}: line {line}: field item = {item:?}: not in the item metadata"
            ),
            RecError::TypeMismatch {
                path,
                line,
                item,
                expected,
                found,
            } => write!(
                f,
                "{path}: line {line}: field item_type = {found:?}: item {item:?} has type {expected:?} in the item metadata"
            ),
            RecError::DuplicateItem { path, line, item } => {
                write!(f, "{path}: line {line}: field item = {item:?}: listed twice")
            }
            RecError::NoRows { path } => write!(f, "{path}: a header but no data rows"),
            RecError::Invalid(message) => f.write_str(message),
        }
    }
}

impl std::error::Error for RecError {}

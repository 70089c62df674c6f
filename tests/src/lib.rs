//! Shared helpers of mote's cross-crate tests (the tests themselves are in `tests/`).

pub use mote_exporter::synthetic::{random_mlp, SplitMix};
use std::path::PathBuf;

/// The folder holding committed fixtures.
pub fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Reads a CSV of integers (one row per line, no header), as the LiteRT fixtures are written.
pub fn read_i8_rows(path: &std::path::Path) -> Vec<Vec<i8>> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            l.split(',')
                .map(|v| v.trim().parse::<i8>().expect("int8 value"))
                .collect()
        })
        .collect()
}

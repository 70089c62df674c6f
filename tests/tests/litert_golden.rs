//! Golden vectors from LiteRT: every fixture model in `fixtures/litert/` is imported from its
//! `.tflite`, built into a `.mote` blob, parsed by the runtime and run on every input row; each
//! output byte must equal what LiteRT 2.3's reference kernels (BUILTIN_REF) produced.
//!
//! The fixtures and the script that made them: `fixtures/litert/generate.py`.

use std::path::{Path, PathBuf};

use mote_exporter::blob::{build, ProvenanceInfo};
use mote_exporter::tflite::{self, TfliteError};
use mote_runtime::Model;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/litert")
}

fn read(name: &str) -> Vec<u8> {
    let path = fixtures().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Rows of comma-separated int8 values, no header.
fn read_rows(name: &str) -> Vec<Vec<i8>> {
    let text = String::from_utf8(read(name)).expect("fixture CSV is UTF-8");
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .enumerate()
        .map(|(row, line)| {
            line.split(',')
                .map(|v| {
                    v.trim()
                        .parse::<i8>()
                        .unwrap_or_else(|e| panic!("{name} row {row}: {v:?}: {e}"))
                })
                .collect()
        })
        .collect()
}

/// Runs fixture `name` through import → blob → runtime and compares with LiteRT's outputs.
fn check(name: &str) {
    let graph = tflite::import(&read(&format!("{name}.tflite")))
        .unwrap_or_else(|e| panic!("{name}: import failed: {e}"));
    let provenance = ProvenanceInfo {
        source: format!("tests/fixtures/litert/{name}.tflite"),
        ..Default::default()
    };
    let blob = build(&graph, &provenance).unwrap_or_else(|e| panic!("{name}: build failed: {e}"));
    let model = Model::parse(&blob).unwrap_or_else(|e| panic!("{name}: parse failed: {e}"));

    let inputs = read_rows(&format!("{name}.input.csv"));
    let expected = read_rows(&format!("{name}.output.csv"));
    assert_eq!(
        inputs.len(),
        expected.len(),
        "{name}: input and output row counts differ"
    );
    assert!(
        inputs.len() >= 300,
        "{name}: only {} golden rows",
        inputs.len()
    );

    let mut arena = vec![0u8; model.arena_len()];
    let mut out = vec![0i8; model.output_len()];
    let mut differing_rows = 0;
    let mut first = None;
    let mut max_diff = 0;
    for (row, (input, want)) in inputs.iter().zip(&expected).enumerate() {
        assert_eq!(
            input.len(),
            model.input_len(),
            "{name}: row {row} input length"
        );
        assert_eq!(
            want.len(),
            model.output_len(),
            "{name}: row {row} output length"
        );
        model
            .run(input, &mut arena, &mut out)
            .unwrap_or_else(|e| panic!("{name}: row {row}: run failed: {e}"));
        if out != *want {
            differing_rows += 1;
            for (col, (got, exp)) in out.iter().zip(want).enumerate() {
                max_diff = max_diff.max((i32::from(*got) - i32::from(*exp)).abs());
                if got != exp && first.is_none() {
                    first = Some((row, col, *got, *exp));
                }
            }
        }
    }
    if let Some((row, col, got, exp)) = first {
        panic!(
            "{name}: {differing_rows} of {} rows differ from LiteRT (largest difference {max_diff}); \
             first at row {row}, column {col}: mote {got}, LiteRT {exp}",
            inputs.len()
        );
    }
}

#[test]
fn digits_relu_matches_litert() {
    check("digits_relu");
}

#[test]
fn diabetes_tanh_matches_litert() {
    check("diabetes_tanh");
}

#[test]
fn cancer_softmax_matches_litert() {
    check("cancer_softmax");
}

#[test]
fn digits_softmax_tanh_matches_litert() {
    check("digits_softmax_tanh");
}

#[test]
fn unsupported_op_is_refused_by_name() {
    let err = tflite::import(&read("unsupported_conv.tflite")).unwrap_err();
    assert!(
        matches!(&err, TfliteError::UnsupportedOp { index: 0, name } if name == "CONV_2D"),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        "operator 0 is CONV_2D, which mote does not support \
         (supported: FULLY_CONNECTED, LOGISTIC, TANH, SOFTMAX)"
    );
}

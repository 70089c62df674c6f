//! LOGISTIC, TANH and SOFTMAX against LiteRT's reference kernels, byte for byte.
//!
//! The fixtures in `tests/fixtures/ops/` hold LiteRT 2.3 `BUILTIN_REF` outputs for single-op int8
//! models with varied input quantisation (see `generate.py` there). For each case the exporter
//! computes the layer parameters from the quantisation alone, the runtime validates them and runs
//! its kernel, and every output byte must equal LiteRT's.

use mote_exporter::{ProvenanceInfo, QuantGraph, QuantOp};
use mote_runtime::{Model, QuantParams};
use std::path::{Path, PathBuf};

/// One fixture file.
struct Case {
    name: String,
    op: String,
    input: QuantParams,
    output: QuantParams,
    beta: f32,
    len: usize,
    rows: Vec<(Vec<i8>, Vec<i8>)>,
}

fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/ops")
}

fn parse(path: &Path) -> Case {
    let text = std::fs::read_to_string(path).unwrap();
    let mut fields = std::collections::HashMap::new();
    let mut rows = Vec::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((inputs, outputs)) = line.split_once('|') {
            let bytes =
                |s: &str| -> Vec<i8> { s.split_whitespace().map(|v| v.parse().unwrap()).collect() };
            rows.push((bytes(inputs), bytes(outputs)));
        } else {
            let (key, value) = line.split_once(' ').unwrap();
            fields.insert(key.to_string(), value.trim().to_string());
        }
    }
    let get = |k: &str| {
        fields
            .get(k)
            .unwrap_or_else(|| panic!("{path:?}: no {k}"))
            .clone()
    };
    let case = Case {
        name: path.file_name().unwrap().to_string_lossy().into_owned(),
        op: get("op"),
        input: QuantParams {
            scale: get("input_scale").parse().unwrap(),
            zero_point: get("input_zero_point").parse().unwrap(),
        },
        output: QuantParams {
            scale: get("output_scale").parse().unwrap(),
            zero_point: get("output_zero_point").parse().unwrap(),
        },
        beta: get("beta").parse().unwrap(),
        len: get("len").parse().unwrap(),
        rows,
    };
    assert!(!case.rows.is_empty(), "{}: no rows", case.name);
    for (x, y) in &case.rows {
        assert_eq!((x.len(), y.len()), (case.len, case.len), "{}", case.name);
    }
    case
}

fn cases() -> Vec<Case> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    paths.sort();
    paths.iter().map(|p| parse(p)).collect()
}

/// Runs one case as a one-layer blob (exporter parameters, blob writer, runtime parser and
/// kernel); returns the number of rows that differ from LiteRT.
fn run_case(case: &Case) -> usize {
    let (len, input, output) = (case.len, case.input, case.output);
    let op = match case.op.as_str() {
        "logistic" => QuantOp::Logistic { len, input, output },
        "tanh" => QuantOp::Tanh { len, input, output },
        "softmax" => QuantOp::Softmax {
            len,
            input,
            output,
            beta: case.beta,
        },
        other => panic!("{}: unknown op {other}", case.name),
    };
    let graph = QuantGraph {
        input_len: len,
        input,
        input_transform: None,
        ops: vec![op],
    };
    let blob = mote_exporter::build(&graph, &ProvenanceInfo::default())
        .unwrap_or_else(|e| panic!("{}: {e}", case.name));
    let model = Model::parse(&blob).unwrap();
    assert_eq!(model.output_quant(), case.output, "{}", case.name);
    let mut arena = vec![0u8; model.arena_len()];
    let mut mismatches = 0;
    for (x, want) in &case.rows {
        let mut got = vec![0i8; x.len()];
        model.run(x, &mut arena, &mut got).unwrap();
        if &got != want {
            if mismatches < 5 {
                eprintln!(
                    "{}: input {x:?}\n  got  {got:?}\n  want {want:?}",
                    case.name
                );
            }
            mismatches += 1;
        }
    }
    mismatches
}

#[test]
fn every_fixture_is_bit_exact_with_litert() {
    let cases = cases();
    let count = |op: &str| cases.iter().filter(|c| c.op == op).count();
    assert!(count("logistic") >= 4 && count("tanh") >= 4 && count("softmax") >= 4);
    let mut failed = Vec::new();
    for case in &cases {
        let mismatches = run_case(case);
        if mismatches > 0 {
            failed.push(format!(
                "{}: {mismatches} of {} rows differ",
                case.name,
                case.rows.len()
            ));
        }
    }
    assert!(failed.is_empty(), "{failed:#?}");
}

#[test]
fn elementwise_fixtures_cover_every_int8_input() {
    for case in cases().iter().filter(|c| c.op != "softmax") {
        let mut seen: Vec<i8> = case
            .rows
            .iter()
            .flat_map(|(x, _)| x.iter().copied())
            .collect();
        seen.sort();
        seen.dedup();
        assert_eq!(seen.len(), 256, "{}", case.name);
    }
}

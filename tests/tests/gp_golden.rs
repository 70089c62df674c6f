//! Golden test of GP import: parameter files written from GPy SGPR models by
//! `tests/fixtures/gp/generate.py`, and GPy's own predictions on the test rows. mote's f64
//! predictions from the same parameters must equal GPy's within 1e-6 relative (mean and
//! variance, with and without the noise). No Python needed: the fixtures are committed.

use mote_train::gp::params::GpParams;
use mote_train::gp::posterior::SparseGp;
use std::path::PathBuf;

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/gp")
        .join(name)
}

fn column(golden: &serde_json::Value, key: &str) -> Vec<f64> {
    golden[key]
        .as_array()
        .unwrap_or_else(|| panic!("golden file lacks {key}"))
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect()
}

/// Largest relative difference between mote's and GPy's mean and variance over the test rows.
fn max_relative_error(name: &str) -> f64 {
    let text = std::fs::read_to_string(fixture(&format!("{name}.golden.json"))).unwrap();
    let golden: serde_json::Value = serde_json::from_str(&text).unwrap();
    let params = GpParams::load(&fixture(golden["params"].as_str().unwrap())).unwrap();
    let model = SparseGp::new(params).unwrap();
    let rows: Vec<Vec<f64>> = golden["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect()
        })
        .collect();
    let expected = [
        column(&golden, "mean"),
        column(&golden, "var"),
        column(&golden, "latent_mean"),
        column(&golden, "latent_var"),
    ];
    let mut worst = 0.0f64;
    for (i, row) in rows.iter().enumerate() {
        let (m, v) = model.predict(row).unwrap();
        let (fm, fv) = model.predict_latent(row).unwrap();
        assert!(v > 0.0 && fv >= 0.0);
        for (got, want) in [m, v, fm, fv].into_iter().zip(&expected) {
            let rel = (got - want[i]).abs() / want[i].abs().max(1e-12);
            worst = worst.max(rel);
        }
    }
    worst
}

#[test]
fn diabetes_sgpr_matches_gpy() {
    let err = max_relative_error("diabetes_sgpr");
    println!("diabetes max relative error {err:e}");
    assert!(err < 1e-6, "max relative error {err}");
}

#[test]
fn toy2d_matern_plus_linear_sgpr_matches_gpy() {
    let err = max_relative_error("toy2d_sgpr");
    println!("toy2d max relative error {err:e}");
    assert!(err < 1e-6, "max relative error {err}");
}

#[test]
fn damaged_parameter_files_are_errors() {
    let text = std::fs::read_to_string(fixture("toy2d_sgpr.gp.json")).unwrap();
    assert!(GpParams::from_json(&text).is_ok());
    for (from, to) in [
        ("\"mote-gp\"", "\"other\""),
        ("\"format_version\": 1", "\"format_version\": 9"),
        ("\"variance\": ", "\"variance\": -"),
        ("\"q_mu\": [", "\"q_mu\": [1.0, "),
        ("\"jitter\"", "\"jiter\""),
    ] {
        let bad = text.replacen(from, to, 1);
        assert_ne!(bad, text, "{from}");
        assert!(
            GpParams::from_json(&bad).is_err(),
            "{from} -> {to} accepted"
        );
    }
    assert!(GpParams::from_json(&text[..text.len() / 2]).is_err());
    assert!(GpParams::load(&fixture("missing.gp.json")).is_err());
}

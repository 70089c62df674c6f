//! Whole export paths shared by the CLI and the tests: a checkpoint to a measured blob, and the
//! quickstart (train on the bundled digits, export, measure).

use crate::error::ExportError;
use crate::ptq::{quantize_checkpoint, RangeMethod};
use crate::report::{compare, Report};
use crate::{build_for, ProvenanceInfo, Target};
use mote_train::data::Dataset;
use mote_train::{Checkpoint, EpochReport, TrainConfig};

/// Quantises `checkpoint` calibrated on `train`, measures float against int8 on `test`, and
/// records those metrics and the training data's fingerprint in the blob's provenance; the
/// weights are packed for `target`.
pub fn export_checkpoint(
    checkpoint: &Checkpoint,
    train: &Dataset,
    test: &Dataset,
    range: RangeMethod,
    source: &str,
    target: Target,
) -> Result<(Vec<u8>, Report), ExportError> {
    let graph = quantize_checkpoint(checkpoint, &train.features, range)?;
    let mut provenance = ProvenanceInfo {
        source: source.to_string(),
        data_hash: train.fingerprint(),
        metrics: Vec::new(),
    };
    // Measure the blob, then record what was measured in it (metrics do not change the layers).
    let draft = build_for(&graph, &provenance, target)?;
    let report = compare(checkpoint, &draft, test).map_err(ExportError::SelfCheck)?;
    provenance.metrics = vec![
        (format!("float_{}", report.metric), report.float as f32),
        (format!("int8_{}", report.metric), report.int8 as f32),
    ];
    let blob = build_for(&graph, &provenance, target)?;
    let report = Report {
        blob_bytes: blob.len(),
        ..report
    };
    Ok((blob, report))
}

/// What the quickstart made.
pub struct Quickstart {
    /// The float model.
    pub checkpoint: Checkpoint,
    /// Its int8 blob.
    pub blob: Vec<u8>,
    /// Float against int8 on the held-out rows, and the blob's footprint.
    pub report: Report,
    /// Rows trained on.
    pub train_rows: usize,
    /// Rows held out.
    pub test_rows: usize,
}

/// The quickstart model: an MLP trained on the bundled digits (rows `i % 5 == 4` held out) with
/// the default [`TrainConfig`] and `seed`, exported with min/max calibration on the training rows.
pub fn quickstart(
    seed: Option<u64>,
    on_epoch: &mut dyn FnMut(&EpochReport),
) -> Result<Quickstart, ExportError> {
    let (train, test) = mote_train::data::digits().split_mod5();
    let mut cfg = TrainConfig::default();
    cfg.seed = seed.unwrap_or(cfg.seed);
    let checkpoint = mote_train::train_classifier(&train, train.num_classes(), &cfg, on_epoch);
    let (blob, report) = export_checkpoint(
        &checkpoint,
        &train,
        &test,
        RangeMethod::MinMax,
        "quickstart: bundled digits",
        Target::Portable,
    )?;
    Ok(Quickstart {
        checkpoint,
        blob,
        report,
        train_rows: train.len(),
        test_rows: test.len(),
    })
}

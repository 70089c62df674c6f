//! Exporting a moderation model: int8 embedding table, int8 MLP, policy and thresholds in one
//! blob (`ModelKind::Moderation`, see `runtime/FORMAT.md`).
//!
//! The embedding table is quantised symmetrically per column (`scale_d = max_b |E[b][d]| / 127`);
//! the MLP, with a logistic appended to its last layer so that the device's scores are
//! probabilities in steps of 1/256, is quantised like any checkpoint, calibrated on the mean
//! embeddings of the training messages computed exactly as the device computes them. A
//! category's probability threshold `t` becomes the int8 threshold `ceil(256·t) − 128`.

use crate::blob::{build_moderation, ProvenanceInfo};
use crate::error::ExportError;
use crate::ptq::{quantize_checkpoint, RangeMethod};
use crate::target::Target;
use mote_runtime::manifest::Section;
use mote_runtime::moderation::{
    Action, Bag, CategorySpec, Moderation, ModerationSpec, Table, MAX_CATEGORIES, MAX_EMBEDDING_DIM,
};
use mote_train::moderation::classifier::{
    score, CategoryScores, ModerationModel, TEST_FOLD, TRAIN_FOLDS,
};
use mote_train::moderation::{Decision, Messages};
use mote_train::{Activation, Checkpoint, Task};

/// Float against int8 on the held-out messages.
#[derive(Debug, Clone, PartialEq)]
pub struct ModerationReport {
    /// Per category, the float model at its thresholds.
    pub float: Vec<CategoryScores>,
    /// Per category, the blob run by the runtime.
    pub int8: Vec<CategoryScores>,
    /// Held-out messages scored.
    pub rows: usize,
    /// Messages on which float and int8 decisions differ in some category.
    pub disagreements: usize,
    /// Bytes of the blob.
    pub blob_bytes: usize,
    /// Bytes of scratch memory per message.
    pub arena_bytes: usize,
}

/// Options of [`export_moderation`].
#[derive(Debug, Clone, Default)]
pub struct ModerationExportOptions {
    /// Recorded in the blob as its source (e.g. the model file's path).
    pub source: String,
    /// Version of the prompt template that labelled the data (empty: labels came with it).
    pub template_version: String,
    /// Who labelled the data (`data` when labels came with it, else the teacher's name).
    pub label_source: String,
    /// The kernels' target (weight packing).
    pub target: Target,
}

/// The int8 embedding table (row-major) and its per-column scales.
fn quantize_embedding(model: &ModerationModel) -> (Vec<u8>, Vec<f32>) {
    let d = model.embedding_dim;
    let mut scales = vec![0f32; d];
    for row in model.embedding.chunks_exact(d) {
        for (s, &v) in scales.iter_mut().zip(row) {
            *s = s.max(v.abs());
        }
    }
    for s in &mut scales {
        *s = (*s / 127.0).max(f32::MIN_POSITIVE);
    }
    let table = model
        .embedding
        .chunks_exact(d)
        .flat_map(|row| {
            row.iter()
                .zip(&scales)
                .map(|(&v, &s)| (v / s).round().clamp(-127.0, 127.0) as i8 as u8)
        })
        .collect();
    (table, scales)
}

/// The MLP input the device computes for `text` (the runtime's own [`Bag`]): mean of the
/// int8 rows times the scales, then the shapes' presence.
fn device_bag(
    model: &ModerationModel,
    table: &[u8],
    scale_bytes: &[u8],
    text: &str,
) -> Result<Vec<f32>, ExportError> {
    let table = Table {
        rows: table,
        dim: model.embedding_dim,
    };
    let mut out = vec![0f32; model.embedding_dim + model.shapes.count_ones() as usize];
    let refused =
        |e| ExportError::Calibration(format!("the device's embedding bag refuses the model: {e}"));
    let mut bag = Bag::new(model.bucket_bits).map_err(refused)?;
    bag.push(table, text.as_bytes());
    bag.finish(table, scale_bytes, model.shapes, &mut out)
        .map_err(refused)?;
    Ok(out)
}

/// The int8 threshold for probability threshold `t` on the logistic's output (1/256, −128).
pub fn int8_threshold(t: f32) -> i16 {
    let q = (256.0 * f64::from(t)).ceil() - 128.0;
    q.clamp(-128.0, 128.0) as i16
}

/// Exports `model` to a moderation blob; `messages` (the training data) calibrates the
/// activation ranges on its training folds and gives the float vs int8 report on its held-out
/// fold. The report's figures are also recorded in the blob's provenance.
pub fn export_moderation(
    model: &ModerationModel,
    messages: &Messages,
    options: &ModerationExportOptions,
) -> Result<(Vec<u8>, ModerationReport), ExportError> {
    model
        .validate()
        .map_err(|e| ExportError::Calibration(e.to_string()))?;
    let categories = model.policy.categories.len();
    let inputs = model.embedding_dim + model.shapes.count_ones() as usize;
    if inputs > MAX_EMBEDDING_DIM || categories > MAX_CATEGORIES {
        return Err(ExportError::Calibration(format!(
            "the device takes at most {MAX_EMBEDDING_DIM} MLP inputs (embedding and shapes) \
             and {MAX_CATEGORIES} categories; the model has {inputs} and {categories}",
        )));
    }
    if messages.categories != model.policy.category_names() {
        return Err(ExportError::Calibration(
            "the messages' categories are not the model's".into(),
        ));
    }
    let (table, scales) = quantize_embedding(model);
    let scale_bytes: Vec<u8> = scales.iter().flat_map(|s| s.to_le_bytes()).collect();
    let train_rows = messages.folds(&TRAIN_FOLDS);
    let calibration: Vec<Vec<f32>> = train_rows
        .iter()
        .map(|&i| device_bag(model, &table, &scale_bytes, &messages.texts[i]))
        .collect::<Result<_, _>>()?;
    let mut layers = model.layers.clone();
    if let Some(last) = layers.last_mut() {
        last.activation = Activation::Sigmoid;
    }
    let checkpoint = Checkpoint {
        layers,
        task: Task::Classification {
            classes: categories,
        },
        meta: model.meta.clone().into_iter().collect(),
    };
    let graph = quantize_checkpoint(&checkpoint, &calibration, RangeMethod::MinMax)?;
    let mut category_specs = heapless::Vec::new();
    for (c, &t) in model.policy.categories.iter().zip(&model.thresholds) {
        let action = match c.decision {
            Decision::Allow => Action::Allow,
            Decision::Flag => Action::Flag,
            Decision::Block => Action::Block,
        };
        category_specs
            .push(CategorySpec {
                name: &c.name,
                action,
                threshold: int8_threshold(t),
            })
            .map_err(|_| ExportError::Calibration("too many categories".into()))?;
    }
    let policy_hash = model.policy.content_hash();
    let label_source = if options.label_source.is_empty() {
        "data"
    } else {
        &options.label_source
    };
    let spec = ModerationSpec {
        policy_id: &model.policy.id,
        policy_version: &model.policy.version,
        policy_hash: &policy_hash,
        template_version: &options.template_version,
        label_source,
        bucket_bits: model.bucket_bits,
        embedding: Section { offset: 0, len: 0 },
        embedding_scales: Section { offset: 0, len: 0 },
        categories: category_specs,
        shapes: model.shapes,
    };
    let mut provenance = ProvenanceInfo {
        source: options.source.clone(),
        data_hash: messages.fingerprint(),
        metrics: Vec::new(),
    };
    let draft = build_moderation(
        &graph,
        &provenance,
        options.target,
        &spec,
        &table,
        &scale_bytes,
    )?;
    let report = compare(model, &draft, messages)?;
    for ((c, f), q) in model
        .policy
        .categories
        .iter()
        .zip(&report.float)
        .zip(&report.int8)
    {
        provenance
            .metrics
            .push((format!("float_f1.{}", c.name), f.f1() as f32));
        provenance
            .metrics
            .push((format!("int8_f1.{}", c.name), q.f1() as f32));
    }
    provenance
        .metrics
        .truncate(mote_runtime::manifest::MAX_METRICS);
    let blob = build_moderation(
        &graph,
        &provenance,
        options.target,
        &spec,
        &table,
        &scale_bytes,
    )?;
    let report = ModerationReport {
        blob_bytes: blob.len(),
        ..report
    };
    Ok((blob, report))
}

/// Float model against the blob (through the runtime) on the held-out messages.
pub fn compare(
    model: &ModerationModel,
    blob: &[u8],
    messages: &Messages,
) -> Result<ModerationReport, ExportError> {
    let device = Moderation::parse(blob).map_err(ExportError::SelfCheck)?;
    let test = messages.subset(&messages.folds(&[TEST_FOLD]));
    let mut arena = vec![0u8; device.arena_len()];
    let mut scores = vec![0i8; device.categories()];
    let mut float_p = Vec::with_capacity(test.len());
    let mut int8_p = Vec::with_capacity(test.len());
    let mut disagreements = 0;
    for text in &test.texts {
        let p = model.probabilities(text);
        let verdict = device
            .moderate(text.as_bytes(), &mut arena, &mut scores)
            .map_err(ExportError::SelfCheck)?;
        let int8: Vec<f32> = (0..scores.len())
            .map(|c| if verdict.in_category(c) { 1.0 } else { 0.0 })
            .collect();
        let float: Vec<bool> = p
            .iter()
            .zip(&model.thresholds)
            .map(|(p, t)| p >= t)
            .collect();
        if float
            .iter()
            .enumerate()
            .any(|(c, &f)| f != verdict.in_category(c))
        {
            disagreements += 1;
        }
        float_p.push(p);
        int8_p.push(int8);
    }
    let halves = vec![0.5f32; model.thresholds.len()];
    Ok(ModerationReport {
        float: score(&float_p, &test.labels, &model.thresholds),
        int8: score(&int8_p, &test.labels, &halves),
        rows: test.len(),
        disagreements,
        blob_bytes: blob.len(),
        arena_bytes: device.arena_len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thresholds_map_onto_the_logistic_output() {
        assert_eq!(int8_threshold(0.5), 0);
        assert_eq!(int8_threshold(0.0), -128);
        assert_eq!(int8_threshold(1.0), 128);
        assert_eq!(int8_threshold(0.3), -51); // ceil(76.8) - 128
                                              // q >= threshold  <=>  (q + 128) / 256 >= t.
        for t in [0.1f32, 0.33, 0.5, 0.77, 0.999] {
            let th = int8_threshold(t);
            for q in -128i16..=127 {
                assert_eq!(
                    q >= th,
                    f64::from(q + 128) / 256.0 >= f64::from(t),
                    "{t} {q}"
                );
            }
        }
    }

    #[test]
    fn exports_a_trained_model_and_agrees_with_float() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/moderation");
        let text = std::fs::read_to_string(root.join("policy.toml")).unwrap();
        let policy = mote_train::moderation::Policy::parse(&text).unwrap();
        let messages = Messages::load(&root.join("messages.csv"), &policy).unwrap();
        let cfg = mote_train::moderation::ClassifierConfig {
            bucket_bits: 10,
            embedding_dim: 8,
            hidden: vec![8],
            epochs: 4,
            ..Default::default()
        };
        let trained =
            mote_train::moderation::classifier::train(&policy, &text, &messages, &cfg, &mut |_| {})
                .unwrap();
        let (blob, report) = export_moderation(
            &trained.model,
            &messages,
            &ModerationExportOptions {
                source: "test".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let device = Moderation::parse(&blob).unwrap();
        assert_eq!(device.spec().policy_hash, policy.content_hash());
        assert_eq!(device.spec().categories.len(), 4);
        assert_eq!(device.spec().label_source, "data");
        // int8 decisions follow float ones on nearly every held-out message.
        assert!(
            report.disagreements * 20 < report.rows,
            "{} of {}",
            report.disagreements,
            report.rows
        );
        // Streaming in pieces gives the same verdict as the whole message.
        let msg = "Congratulations!!! You won a FR33 iPhone, claim it at bit.ly/prize77";
        let mut arena = vec![0u8; device.arena_len()];
        let (mut a, mut b) = ([0i8; 4], [0i8; 4]);
        let whole = device.moderate(msg.as_bytes(), &mut arena, &mut a).unwrap();
        let mut m = device.start().unwrap();
        for chunk in msg.as_bytes().chunks(7) {
            m.push(chunk);
        }
        assert_eq!(m.finish(&mut arena, &mut b).unwrap(), whole);
        assert_eq!(a, b);
    }
}

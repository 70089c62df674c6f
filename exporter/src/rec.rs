//! Exporting a recommender: the two-tower model's user tower as an int8 MLP, with the int8 item
//! embeddings (for the user features), item types, the int8 item table and item ids in one blob
//! (`ModelKind::Recommender`, see `runtime/FORMAT.md`).
//!
//! Both tables are quantised symmetrically with one scale per table (`max |value| / 127`). The
//! user tower is quantised like any checkpoint, calibrated on the user features of training
//! users. Item ids in the blob are the catalogue's item indices (`0..N`).
//!
//! [`recall_against_float`] measures what the device loses: recall@k of the int8 device
//! ranking (the runtime's [`Recommender::recommend`]) against the float host ranking.

use crate::blob::{build_recommender, ProvenanceInfo, RecommenderTables};
use crate::error::ExportError;
use crate::ptq::{quantize_checkpoint, RangeMethod};
use crate::target::Target;
use mote_runtime::manifest::Section;
use mote_runtime::recommend::{
    RecommenderSpec, MAX_ITEMS, MAX_RECENT, MAX_REC_EMBEDDING, MAX_REC_OUTPUT, MAX_REC_TYPES,
};
use mote_runtime::Recommender;
use mote_train::rec::eval::TimeSplit;
use mote_train::rec::two_tower::{user_feature_len, user_features, TwoTower};
use mote_train::{Checkpoint, DenseLayer, Task};
use std::collections::HashSet;

/// The ranking depth of the device-against-host check.
pub const RECALL_K: usize = 10;

/// Options of [`export_recommender`].
#[derive(Debug, Clone, Default)]
pub struct RecExportOptions {
    /// Recorded in the blob as its source.
    pub source: String,
    /// Recorded in the blob as the training data's fingerprint.
    pub data_hash: String,
    /// The kernels' target (weight packing).
    pub target: Target,
    /// At most this many test users are compared (0: all).
    pub max_users: usize,
}

/// The int8 device ranking against the float host ranking.
#[derive(Debug, Clone, PartialEq)]
pub struct RecReport {
    /// Mean over test users of `|device top-k ∩ host top-k| / k`, `k = RECALL_K`.
    pub recall_at_k: f64,
    /// Test users compared.
    pub users: usize,
    /// Bytes of the blob.
    pub blob_bytes: usize,
    /// Bytes of scratch memory per recommendation.
    pub arena_bytes: usize,
}

/// One scale for a whole table (`max |v| / 127`) and the int8 values.
fn quantize_table(values: &[f64]) -> (Vec<u8>, f32) {
    let max = values.iter().fold(0f64, |m, v| m.max(v.abs()));
    let scale = ((max / 127.0) as f32).max(f32::MIN_POSITIVE);
    let q = values
        .iter()
        .map(|&v| (v as f32 / scale).round().clamp(-127.0, 127.0) as i8 as u8)
        .collect();
    (q, scale)
}

/// The user tower as a checkpoint (weights transposed to one row per output channel).
fn user_tower_checkpoint(model: &TwoTower) -> Checkpoint {
    let layers = model
        .user_tower
        .layers
        .iter()
        .map(|dense| {
            let (input_len, output_len) = (dense.weight.rows, dense.weight.cols);
            let mut weight = vec![0f32; input_len * output_len];
            for i in 0..input_len {
                for o in 0..output_len {
                    weight[o * input_len + i] = dense.weight.data[i * output_len + o] as f32;
                }
            }
            DenseLayer {
                input_len,
                output_len,
                weight,
                bias: dense.bias.data.iter().map(|&b| b as f32).collect(),
                activation: dense.activation,
            }
        })
        .collect();
    Checkpoint {
        layers,
        task: Task::Regression,
        meta: Default::default(),
    }
}

/// Users with training history and held-out interactions, in user order, at most `max` (0: all).
fn test_users(split: &TimeSplit, max: usize) -> Vec<usize> {
    let users = (0..split.num_users())
        .filter(|&u| !split.user_train(u).is_empty() && !split.user_test(u).is_empty());
    if max == 0 {
        users.collect()
    } else {
        users.take(max).collect()
    }
}

/// Exports the user tower and the item table of `model`, trained on the training part of
/// `split`; the report compares the blob's ranking with the float one on the test users. The
/// recall is also recorded in the blob's provenance (`int8_recall_at_10`).
pub fn export_recommender(
    model: &TwoTower,
    split: &TimeSplit,
    options: &RecExportOptions,
) -> Result<(Vec<u8>, RecReport), ExportError> {
    let n = model.item_table.rows;
    let (d, t) = (model.item_embeddings.cols, model.num_types);
    let out = model.item_table.cols;
    if n == 0
        || n as u64 > u64::from(MAX_ITEMS)
        || d > MAX_REC_EMBEDDING
        || t > MAX_REC_TYPES
        || out > MAX_REC_OUTPUT
        || model.recent == 0
        || model.recent > usize::from(MAX_RECENT)
    {
        return Err(ExportError::Calibration(format!(
            "the device takes 1..={MAX_ITEMS} items, embeddings up to {MAX_REC_EMBEDDING} wide, \
             up to {MAX_REC_TYPES} types, outputs up to {MAX_REC_OUTPUT} wide and a window of \
             1..={MAX_RECENT}; the model has {n} items, {d}, {t}, {out} and {}",
            model.recent
        )));
    }
    if model.item_embeddings.rows != n || model.item_type.len() != n {
        return Err(ExportError::Calibration(
            "the item embeddings, types and table differ in length".into(),
        ));
    }
    let (embedding, embedding_scale) = quantize_table(&model.item_embeddings.data);
    let (item_table, item_table_scale) = quantize_table(&model.item_table.data);
    let item_ids: Vec<u8> = (0..n as u32).flat_map(|i| i.to_le_bytes()).collect();
    // Calibration: the user features of training users over their whole training history.
    let len = user_feature_len(d, t);
    let mut row = vec![0f64; len];
    let calibration: Vec<Vec<f32>> = (0..split.num_users())
        .filter(|&u| !split.user_train(u).is_empty())
        .take(4000)
        .map(|u| {
            let h = split.user_train(u);
            user_features(
                h,
                &model.item_embeddings,
                &model.item_type,
                t,
                model.recent,
                &mut row,
            );
            row.iter().map(|&v| v as f32).collect()
        })
        .collect();
    let graph = quantize_checkpoint(
        &user_tower_checkpoint(model),
        &calibration,
        RangeMethod::MinMax,
    )?;
    let types = u8::try_from(t).map_err(|_| ExportError::Calibration("too many types".into()))?;
    let spec = RecommenderSpec {
        items: n as u32,
        embedding_dim: d as u32,
        types,
        recent: model.recent as u16,
        embedding: Section { offset: 0, len: 0 },
        embedding_scale,
        item_types: Section { offset: 0, len: 0 },
        item_table: Section { offset: 0, len: 0 },
        item_table_scale,
        item_ids: Section { offset: 0, len: 0 },
    };
    let tables = RecommenderTables {
        embedding: &embedding,
        item_types: &model.item_type,
        item_table: &item_table,
        item_ids: &item_ids,
    };
    let mut provenance = ProvenanceInfo {
        source: options.source.clone(),
        data_hash: options.data_hash.clone(),
        metrics: Vec::new(),
    };
    let draft = build_recommender(&graph, &provenance, options.target, &spec, tables)?;
    let report = recall_against_float(model, &draft, split, options.max_users)?;
    provenance
        .metrics
        .push(("int8_recall_at_10".into(), report.recall_at_k as f32));
    let blob = build_recommender(&graph, &provenance, options.target, &spec, tables)?;
    Ok((
        blob.clone(),
        RecReport {
            blob_bytes: blob.len(),
            ..report
        },
    ))
}

/// The float host's top `k` rows for a user vector, skipping `consumed` (best first; equal
/// scores keep the lower row first).
fn host_top(model: &TwoTower, user: &[f64], consumed: &HashSet<u32>, k: usize) -> Vec<u32> {
    let mut scored: Vec<(f64, u32)> = model
        .item_table
        .data
        .chunks_exact(model.item_table.cols)
        .enumerate()
        .filter(|(i, _)| !consumed.contains(&(*i as u32)))
        .map(|(i, row)| (row.iter().zip(user).map(|(a, b)| a * b).sum(), i as u32))
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    scored.into_iter().take(k).map(|(_, i)| i).collect()
}

/// Recall@[`RECALL_K`] of the blob's ranking (run by the runtime) against the float model's on
/// the test users of `split` (at most `max_users`, 0: all); both skip the user's training items.
pub fn recall_against_float(
    model: &TwoTower,
    blob: &[u8],
    split: &TimeSplit,
    max_users: usize,
) -> Result<RecReport, ExportError> {
    let device = Recommender::parse(blob).map_err(ExportError::SelfCheck)?;
    let mut arena = vec![0u8; device.arena_len()];
    let mut top = heapless::Vec::<_, RECALL_K>::new();
    let users = test_users(split, max_users);
    let mut total = 0.0;
    for &u in &users {
        let history = split.user_train(u);
        let ids: Vec<u32> = history.iter().map(|x| x.item).collect();
        let consumed: HashSet<u32> = ids.iter().copied().collect();
        let host = host_top(model, &model.user_vector(history), &consumed, RECALL_K);
        device
            .recommend(&ids, &ids, &mut arena, &mut top)
            .map_err(ExportError::SelfCheck)?;
        let hits = top.iter().filter(|r| host.contains(&r.item)).count();
        total += hits as f64 / host.len().max(1) as f64;
    }
    Ok(RecReport {
        recall_at_k: total / users.len().max(1) as f64,
        users: users.len(),
        blob_bytes: blob.len(),
        arena_bytes: device.arena_len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mote_train::rec::graph::text_features;
    use mote_train::rec::simulate::{SimConfig, Simulator};
    use mote_train::rec::two_tower::TwoTowerConfig;

    fn small_model() -> (TwoTower, TimeSplit) {
        let sim = Simulator::new(SimConfig::for_users(400, 3)).unwrap();
        let data = sim.generate();
        let split = TimeSplit::last_fraction(&data, 0.2).unwrap();
        let f = text_features(&data.catalog, 16);
        let config = TwoTowerConfig {
            hidden: vec![16],
            output: 16,
            batch: 32,
            steps: 60,
            ..TwoTowerConfig::default()
        };
        let model = TwoTower::train(&data.catalog, &split, &f, &f, &config, |_, _| {}).unwrap();
        (model, split)
    }

    #[test]
    fn exports_parses_and_ranks_like_the_float_model() {
        let (model, split) = small_model();
        let (blob, report) = export_recommender(
            &model,
            &split,
            &RecExportOptions {
                source: "test".into(),
                ..Default::default()
            },
        )
        .unwrap();
        let device = Recommender::parse(&blob).unwrap();
        assert_eq!(device.items(), model.item_table.rows);
        assert!(report.users > 20, "{report:?}");
        assert!(report.recall_at_k >= 0.9, "{report:?}");
        // The exclusion list is honoured and results are best first.
        let history: Vec<u32> = split.user_train(0).iter().map(|x| x.item).collect();
        let mut arena = vec![0u8; device.arena_len()];
        let mut top = heapless::Vec::<_, 10>::new();
        device
            .recommend(&history, &history, &mut arena, &mut top)
            .unwrap();
        assert_eq!(top.len(), 10);
        assert!(top.iter().all(|r| !history.contains(&r.item)));
        assert!(top.windows(2).all(|w| w[0].score >= w[1].score));
        // Ids the blob lacks are ignored.
        let mut with_unknown = history.clone();
        with_unknown.insert(0, u32::MAX);
        let mut again = heapless::Vec::<_, 10>::new();
        device
            .recommend(&with_unknown, &history, &mut arena, &mut again)
            .unwrap();
        assert_eq!(top, again);
        // Parse-time validation of the spec's sections (CRC resealed, so the check is reached).
        let reseal = |bad: &mut Vec<u8>| {
            let crc = mote_runtime::crc32::crc32(&bad[mote_runtime::header::CRC_START..]);
            bad[12..16].copy_from_slice(&crc.to_le_bytes());
        };
        let spec = *device.spec();
        let mut bad = blob.clone();
        let ids = spec.item_ids.offset as usize;
        bad.copy_within(ids..ids + 4, ids + 4); // ids 0, 0, 2, ...: not increasing
        reseal(&mut bad);
        assert_eq!(
            Recommender::parse(&bad).unwrap_err(),
            mote_runtime::Error::BadRecommenderSpec
        );
        let mut bad = blob.clone();
        bad[spec.item_types.offset as usize] = spec.types;
        reseal(&mut bad);
        assert_eq!(
            Recommender::parse(&bad).unwrap_err(),
            mote_runtime::Error::BadRecommenderSpec
        );
        // A plain MLP blob is not a recommender.
        let mlp = mote_runtime::Model::parse(&blob).unwrap();
        assert!(mlp.moderation_spec().unwrap().is_none());
        // Robustness: every truncation is an error; bit flips (CRC resealed or not) never panic.
        for cut in (0..blob.len()).step_by(7) {
            assert!(Recommender::parse(&blob[..cut]).is_err());
        }
        for i in (0..blob.len()).step_by(3) {
            let mut bad = blob.clone();
            bad[i] ^= 1 << (i % 8);
            assert!(Recommender::parse(&bad).is_err(), "byte {i}");
            let crc = mote_runtime::crc32::crc32(&bad[mote_runtime::header::CRC_START..]);
            bad[12..16].copy_from_slice(&crc.to_le_bytes());
            if let Ok(d) = Recommender::parse(&bad) {
                let mut arena = vec![0u8; d.arena_len()];
                let _ = d.recommend(&history, &history, &mut arena, &mut top);
            };
        }
    }
}

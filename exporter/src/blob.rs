//! Writing a `.mote` blob: header, postcard manifest, 16-byte-aligned tensor sections
//! (layout in `runtime/FORMAT.md`).

use crate::error::ExportError;
use crate::graph::QuantGraph;
use crate::lower::{lower, sections_mut, Lowered};
use crate::target::Target;
use mote_runtime::header::{align_up, Header, CRC_START, FORMAT_VERSION, HEADER_LEN};
use mote_runtime::manifest::{
    Layer, Manifest, Metric, Metrics, ModelKind, Provenance, Section, TensorInfo, MAX_METRICS,
};
use mote_runtime::moderation::ModerationSpec;
use mote_runtime::plan::Plan;
use mote_runtime::recommend::RecommenderSpec;
use mote_runtime::{crc32::crc32, Model};

/// Where a model came from, recorded in the blob.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProvenanceInfo {
    /// What the model was made from (a checkpoint or `.tflite` path, or a description).
    pub source: String,
    /// Hex digest of the training data, or empty when unknown.
    pub data_hash: String,
    /// Measurements to record, e.g. `("int8_accuracy", 0.97)`.
    pub metrics: Vec<(String, f32)>,
}

/// The name and version of this exporter, as recorded in every blob.
pub const PRODUCER: &str = concat!("mote-exporter ", env!("CARGO_PKG_VERSION"));

/// Lowers `graph` and writes it as a blob for any core ([`Target::Portable`]); the result has
/// passed [`Model::parse`].
pub fn build(graph: &QuantGraph, provenance: &ProvenanceInfo) -> Result<Vec<u8>, ExportError> {
    build_for(graph, provenance, Target::Portable)
}

/// [`build`], with the weights packed the way `target`'s fastest kernel reads them.
pub fn build_for(
    graph: &QuantGraph,
    provenance: &ProvenanceInfo,
    target: Target,
) -> Result<Vec<u8>, ExportError> {
    build_inner(graph, provenance, target, Extension::None)
}

/// A moderation blob (`ModelKind::Moderation`): `graph` is the MLP after the embedding bag,
/// `spec` the policy, featurizer and categories (its two sections are placed here), `embedding`
/// the int8 table and `scales` its little-endian f32 column scales.
pub fn build_moderation(
    graph: &QuantGraph,
    provenance: &ProvenanceInfo,
    target: Target,
    spec: &ModerationSpec<'_>,
    embedding: &[u8],
    scales: &[u8],
) -> Result<Vec<u8>, ExportError> {
    build_inner(
        graph,
        provenance,
        target,
        Extension::Moderation(Box::new(spec.clone()), vec![embedding, scales]),
    )
}

/// The contents of a recommender blob's tables, in their stored form (see `runtime/FORMAT.md`).
#[derive(Debug, Clone, Copy)]
pub struct RecommenderTables<'t> {
    /// int8 item embeddings, `N · d` bytes.
    pub embedding: &'t [u8],
    /// `N` item types.
    pub item_types: &'t [u8],
    /// int8 item table, `N · output` bytes.
    pub item_table: &'t [u8],
    /// `N` little-endian u32 ids.
    pub item_ids: &'t [u8],
}

/// A recommender blob (`ModelKind::Recommender`): `graph` is the user tower, `spec` the tables'
/// shapes and scales (its four sections are placed here), `tables` their bytes.
pub fn build_recommender(
    graph: &QuantGraph,
    provenance: &ProvenanceInfo,
    target: Target,
    spec: &RecommenderSpec,
    tables: RecommenderTables<'_>,
) -> Result<Vec<u8>, ExportError> {
    let payloads = vec![
        tables.embedding,
        tables.item_types,
        tables.item_table,
        tables.item_ids,
    ];
    build_inner(
        graph,
        provenance,
        target,
        Extension::Recommender(*spec, payloads),
    )
}

/// What follows the layers, with its sections' payloads (in the order of the spec's sections).
enum Extension<'s, 'p> {
    None,
    Moderation(Box<ModerationSpec<'s>>, Vec<&'p [u8]>),
    Recommender(RecommenderSpec, Vec<&'p [u8]>),
}

impl Extension<'_, '_> {
    /// The spec's sections, in payload order.
    fn sections_mut(&mut self) -> Vec<&mut Section> {
        match self {
            Extension::None => Vec::new(),
            Extension::Moderation(spec, _) => vec![&mut spec.embedding, &mut spec.embedding_scales],
            Extension::Recommender(spec, _) => vec![
                &mut spec.embedding,
                &mut spec.item_types,
                &mut spec.item_table,
                &mut spec.item_ids,
            ],
        }
    }

    fn payloads(&self) -> Vec<&[u8]> {
        match self {
            Extension::None => Vec::new(),
            Extension::Moderation(_, p) | Extension::Recommender(_, p) => p.clone(),
        }
    }

    fn kind(&self) -> ModelKind {
        match self {
            Extension::None => ModelKind::Mlp,
            Extension::Moderation(..) => ModelKind::Moderation,
            Extension::Recommender(..) => ModelKind::Recommender,
        }
    }
}

fn build_inner(
    graph: &QuantGraph,
    provenance: &ProvenanceInfo,
    target: Target,
    mut extension: Extension<'_, '_>,
) -> Result<Vec<u8>, ExportError> {
    let mut lowered = lower(graph, target.weight_layout())?;
    // The extension's sections refer to payloads by index until they are placed.
    let payloads: Vec<Vec<u8>> = extension.payloads().iter().map(|p| p.to_vec()).collect();
    for (section, payload) in extension.sections_mut().into_iter().zip(payloads) {
        *section = Section {
            offset: lowered.payloads.len() as u32,
            len: payload.len() as u32,
        };
        lowered.payloads.push(payload);
    }
    let output = graph.ops.last().ok_or(ExportError::EmptyGraph)?;
    let metrics = metrics(provenance)?;
    let metrics = Metrics::new(&metrics).ok_or(ExportError::TooManyMetrics)?;
    let mut manifest = Manifest {
        kind: extension.kind(),
        input: TensorInfo {
            len: graph.input_len as u32,
            quant: graph.input,
        },
        input_transform: None,
        output: TensorInfo {
            len: output.output_len() as u32,
            quant: output.output_quant(),
        },
        arena_len: Plan::new(lowered.layers.iter().map(Layer::output_len)).arena_len() as u32,
        provenance: Provenance {
            producer: PRODUCER,
            source: &provenance.source,
            data_hash: &provenance.data_hash,
            metrics,
        },
    };
    let bytes = place_and_write(&mut manifest, &lowered, &extension)?;
    Model::parse(&bytes).map_err(ExportError::SelfCheck)?;
    Ok(bytes)
}

/// The provenance's metrics as a manifest's [`Metrics`] borrow them; at most [`MAX_METRICS`].
pub(crate) fn metrics(provenance: &ProvenanceInfo) -> Result<Vec<Metric<'_>>, ExportError> {
    if provenance.metrics.len() > MAX_METRICS {
        return Err(ExportError::TooManyMetrics);
    }
    Ok(provenance
        .metrics
        .iter()
        .map(|(name, value)| Metric {
            name,
            value: *value,
        })
        .collect())
}

/// Assigns section offsets after the manifest and writes the blob. The manifest's length depends
/// on the offsets (postcard uses varints), so this repeats until the layout is stable.
fn place_and_write(
    manifest: &mut Manifest<'_>,
    lowered: &Lowered,
    extension: &Extension<'_, '_>,
) -> Result<Vec<u8>, ExportError> {
    assemble(&lowered.payloads, |offsets| {
        let mut layers = lowered.layers.clone();
        let mut input_transform = lowered.input_transform;
        let sections = layers.iter_mut().flat_map(sections_mut);
        for section in sections.chain(input_transform.as_mut()) {
            section.offset = offsets[section.offset as usize] as u32;
        }
        manifest.input_transform = input_transform;
        // The manifest, then the layers as a postcard sequence, then a moderation or
        // recommender spec if any (FORMAT.md).
        let mut extension = match extension {
            Extension::None => Extension::None,
            Extension::Moderation(spec, _) => Extension::Moderation(spec.clone(), Vec::new()),
            Extension::Recommender(spec, _) => Extension::Recommender(*spec, Vec::new()),
        };
        for section in extension.sections_mut() {
            section.offset = offsets[section.offset as usize] as u32;
        }
        match &extension {
            Extension::None => postcard::to_allocvec(&(&*manifest, &layers)),
            Extension::Moderation(spec, _) => postcard::to_allocvec(&(&*manifest, &layers, spec)),
            Extension::Recommender(spec, _) => postcard::to_allocvec(&(&*manifest, &layers, spec)),
        }
        .map_err(|e| ExportError::Encode(e.to_string()))
    })
}

/// Writes a blob: the header, the manifest `encode` returns for the payloads' offsets (from the
/// blob start, each 16-aligned after the manifest), then the payloads. Postcard's varints make
/// the manifest's length depend on the offsets, so this repeats until the layout is stable.
pub(crate) fn assemble(
    payloads: &[Vec<u8>],
    mut encode: impl FnMut(&[usize]) -> Result<Vec<u8>, ExportError>,
) -> Result<Vec<u8>, ExportError> {
    let mut data_start = align_up(HEADER_LEN);
    for _ in 0..8 {
        let mut offsets = Vec::with_capacity(payloads.len());
        let mut end = data_start;
        for payload in payloads {
            let offset = align_up(end);
            offsets.push(offset);
            end = offset + payload.len();
        }
        // No padding after the last section: every byte of a blob means something.
        let total = end;
        let encoded = encode(&offsets)?;
        let needed = align_up(HEADER_LEN + encoded.len());
        if needed > data_start {
            data_start = needed;
            continue;
        }
        // Sections start at `data_start`; the gap after the manifest (if any) stays zero.
        let mut blob = vec![0u8; total.max(HEADER_LEN + encoded.len())];
        blob[HEADER_LEN..HEADER_LEN + encoded.len()].copy_from_slice(&encoded);
        for (payload, &offset) in payloads.iter().zip(&offsets) {
            blob[offset..offset + payload.len()].copy_from_slice(payload);
        }
        let mut header = Header {
            version: FORMAT_VERSION,
            flags: 0,
            total_len: blob.len() as u32,
            crc: 0,
            manifest_len: encoded.len() as u32,
        };
        // The CRC covers bytes 16.. (manifest length and reserved bytes included), so write the
        // header once without it, then again with it.
        let mut head = [0u8; HEADER_LEN];
        header.write(&mut head);
        blob[..HEADER_LEN].copy_from_slice(&head);
        header.crc = crc32(&blob[CRC_START..]);
        header.write(&mut head);
        blob[..HEADER_LEN].copy_from_slice(&head);
        return Ok(blob);
    }
    Err(ExportError::Encode("section layout did not settle".into()))
}

//! `mote inspect`: what is inside a blob.

use super::{read_file, Result};
use mote_runtime::header::Header;
use mote_runtime::manifest::Layer;
use mote_runtime::Model;
use std::path::PathBuf;

/// Arguments of `mote inspect`.
#[derive(clap::Args)]
pub struct Args {
    /// The .mote blob.
    blob: PathBuf,
}

/// Prints the header, layers, quantisation, sizes and provenance of a blob.
pub fn run(args: Args) -> Result {
    let bytes = read_file(&args.blob)?;
    if let Ok(gp) = mote_runtime::GpModel::parse(&bytes) {
        return inspect_gp(&args, &bytes, &gp);
    }
    let model = Model::parse(&bytes).map_err(|e| {
        let hint = if bytes.get(4..8) == Some(b"TFL3") {
            " (this is a .tflite file: import it with `mote export --tflite`)"
        } else {
            ""
        };
        format!("{}: {e}{hint}", args.blob.display())
    })?;
    let header = Header::parse(&bytes).map_err(|e| e.to_string())?;
    let m = model.manifest();
    outln!("{}", args.blob.display());
    outln!(
        "  format v{}, {} bytes, crc32 {:08x}, manifest {} bytes",
        header.version,
        header.total_len,
        header.crc,
        header.manifest_len
    );
    outln!("  kind        {:?}", m.kind);
    outln!(
        "  input       {} x int8  scale {:e}  zero_point {}",
        m.input.len,
        m.input.quant.scale,
        m.input.quant.zero_point
    );
    outln!(
        "  output      {} x int8  scale {:e}  zero_point {}",
        m.output.len,
        m.output.quant.scale,
        m.output.quant.zero_point
    );
    if let Some(t) = m.input_transform {
        outln!(
            "  transform   per-feature (x - offset) * scale before quantising ({} B section)",
            t.len
        );
    }
    outln!("  arena       {} bytes", model.arena_len());
    outln!("  MACs        {} per inference", model.macs());
    outln!("  layers");
    for (i, layer) in model.layers().enumerate() {
        let out = layer.output_quant();
        out!(
            "    {i:>2} {:<16} {:>5} -> {:<5} out scale {:e} zp {:>4}",
            layer.op_name(),
            layer.input_len(),
            layer.output_len(),
            out.scale,
            out.zero_point
        );
        match layer {
            Layer::FullyConnected(fc) => {
                let shifts = model.section(fc.shifts).map_err(|e| e.to_string())?;
                let (lo, hi) = shifts
                    .iter()
                    .map(|&s| s as i8)
                    .fold((i8::MAX, i8::MIN), |(lo, hi), s| (lo.min(s), hi.max(s)));
                outln!(
                    "  {:?} clamp [{}, {}]  weights {} B ({:?}, per-channel, shifts {lo}..{hi})",
                    fc.activation,
                    fc.activation_min,
                    fc.activation_max,
                    fc.weights.len,
                    fc.layout
                );
            }
            Layer::Logistic(p) | Layer::Tanh(p) => outln!(
                "  input scale {:e} zp {}, 256-entry lookup table",
                p.input.scale,
                p.input.zero_point
            ),
            Layer::Softmax(p) => outln!(
                "  beta multiplier {} shift {} diff_min {}",
                p.input_beta_multiplier,
                p.input_beta_left_shift,
                p.diff_min
            ),
        }
    }
    provenance(&m.provenance);
    if let Some(spec) = model.moderation_spec().map_err(|e| e.to_string())? {
        outln!("  moderation");
        outln!(
            "    policy    {} version {}",
            spec.policy_id,
            spec.policy_version
        );
        outln!("    policy    sha256:{}", spec.policy_hash);
        let template = if spec.template_version.is_empty() {
            "none (labels came with the data)"
        } else {
            spec.template_version
        };
        outln!("    template  {template}");
        outln!("    labels    {}", spec.label_source);
        outln!(
            "    features  2^{} buckets, int8 embedding {} B + {} B column scales",
            spec.bucket_bits,
            spec.embedding.len,
            spec.embedding_scales.len
        );
        let shapes = mote_train::moderation::model_file::shape_names(spec.shapes);
        outln!(
            "    shapes    {}",
            if shapes.is_empty() {
                "none (the MLP reads the mean embedding only)"
            } else {
                &shapes
            }
        );
        for c in &spec.categories {
            let threshold = if c.threshold > 127 {
                "never".to_string()
            } else {
                format!(
                    "score >= {} (p >= {:.4})",
                    c.threshold,
                    mote_runtime::moderation::score_probability(c.threshold)
                )
            };
            outln!("    {:<16} {:?} when {threshold}", c.name, c.action);
        }
    }
    Ok(())
}

fn provenance(p: &mote_runtime::manifest::Provenance<'_>) {
    outln!("  provenance");
    outln!("    producer  {}", p.producer);
    outln!("    source    {}", p.source);
    if !p.data_hash.is_empty() {
        outln!("    data      sha256:{}", p.data_hash);
    }
    for metric in &p.metrics {
        outln!("    {:<9} {}", metric.name, metric.value);
    }
}

/// A GP blob: sizes, kernel, number format, sections, arena, provenance.
fn inspect_gp(args: &Args, bytes: &[u8], gp: &mote_runtime::GpModel<'_>) -> Result {
    use mote_runtime::manifest::GpNumbers;
    let header = Header::parse(bytes).map_err(|e| e.to_string())?;
    let (m, spec) = (gp.manifest(), gp.spec());
    outln!("{}", args.blob.display());
    outln!(
        "  format v{}, {} bytes, crc32 {:08x}, manifest {} bytes",
        header.version,
        header.total_len,
        header.crc,
        header.manifest_len
    );
    outln!("  kind        {:?}", m.kind);
    let numbers = match spec.numbers {
        GpNumbers::F32 => "f32 (cores with an FPU)".to_string(),
        GpNumbers::Fixed => format!(
            "fixed point (int16 inputs in steps of 2^-{} lengthscales, Q15 kernel values, 64-bit sums)",
            spec.input_shift
        ),
    };
    outln!("  numbers     {numbers}");
    outln!(
        "  kernel      {:?}, variance {} (standardised units), ARD over {} inputs",
        spec.kernel,
        spec.kernel_variance,
        gp.input_len()
    );
    outln!("  inducing    {} points", gp.inducing());
    if gp.mean_spec().is_some() {
        outln!("  prior mean  linear in the raw inputs (f32)");
    }
    outln!(
        "  input       {} x f32 (raw features; standardised in the blob)",
        gp.input_len()
    );
    outln!("  output      {} x (mean, variance) f32", gp.output_len());
    outln!("  arena       {} bytes", gp.arena_len());
    outln!("  MACs        {} per prediction", gp.macs());
    outln!("  sections");
    for (name, section) in [
        ("input affine", spec.input_affine),
        ("inducing inputs", spec.inducing_inputs),
        ("cholesky (4-row blocks)", spec.chol),
        ("1/diagonal", spec.chol_inv_diag),
        ("mean weights", spec.mean_weights),
        ("variance factor", spec.var_factor),
        ("output affine", spec.output_affine),
    ]
    .into_iter()
    .chain(gp.mean_spec().map(|m| ("linear mean", m.linear_mean)))
    {
        outln!(
            "    {name:<24} {:>7} B at {:#x}",
            section.len,
            section.offset
        );
    }
    provenance(&m.provenance);
    Ok(())
}

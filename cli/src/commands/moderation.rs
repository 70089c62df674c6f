//! `mote train moderation` and `mote eval moderation`: the policy-driven text classifier.

use super::Result;
use mote_exporter::moderation::{export_moderation, ModerationExportOptions, ModerationReport};
use mote_train::moderation::classifier::{
    self, CategoryScores, ClassifierConfig, ModerationModel, ThresholdRule, CALIBRATION_FOLDS,
    TEST_FOLD,
};
use mote_train::moderation::teacher::LabelProvenance;
use mote_train::moderation::{Messages, Policy};
use std::path::{Path, PathBuf};

/// Arguments of `mote train moderation`.
#[derive(clap::Args)]
pub struct TrainArgs {
    /// The policy file (docs/moderation-policy.md).
    #[arg(long)]
    policy: PathBuf,
    /// Labelled messages: CSV or JSONL with a `text` column and one 0/1 column per policy
    /// category, and optionally a `group` column (template or source) that calibration keeps
    /// together. Rows with index % 5 == 4 are held out, the rest train; thresholds are
    /// calibrated on out-of-fold scores of the training rows.
    #[arg(long)]
    data: PathBuf,
    /// Where to write the model (safetensors; see train/src/moderation/model_file.rs); its
    /// int8 blob goes beside it with the extension .mote.
    #[arg(long, short)]
    out: PathBuf,
    /// Features hash into 2^bits buckets.
    #[arg(long, default_value_t = mote_runtime::text::DEFAULT_BUCKET_BITS)]
    bits: u8,
    /// Embedding length.
    #[arg(long, default_value_t = 16)]
    dim: usize,
    /// Hidden layer widths, comma-separated (empty for none).
    #[arg(long, value_delimiter = ',', default_value = "32")]
    hidden: Vec<usize>,
    /// Passes over the training messages.
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// Messages per Adam step.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Adam learning rate.
    #[arg(long, default_value_t = 5e-3)]
    lr: f64,
    /// L2 weight decay on embeddings and weights.
    #[arg(long, default_value_t = 1e-5)]
    weight_decay: f64,
    /// Standard deviation of the initial embedding values.
    #[arg(long, default_value_t = classifier::INIT_SCALE)]
    init_scale: f64,
    /// Do not weight positives by negatives / positives.
    #[arg(long)]
    no_class_weighting: bool,
    /// Shapes whose presence the MLP reads beside the mean embedding, comma-separated
    /// (caps, bang, email, phone, address; empty for none).
    #[arg(long, default_value = "caps,bang,email,phone,address", value_parser = parse_shapes)]
    shapes: u8,
    /// How each category's threshold is picked among those whose calibration precision
    /// reaches the policy's target: `f1` (best F1) or `recall` (most recall).
    #[arg(long, default_value = "f1", value_parser = parse_rule)]
    threshold_rule: ThresholdRule,
    /// Seed of initialisation and shuffling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

fn parse_rule(name: &str) -> std::result::Result<ThresholdRule, String> {
    ThresholdRule::parse(name).ok_or_else(|| format!("`{name}`: expected f1 or recall"))
}

fn parse_shapes(names: &str) -> std::result::Result<u8, String> {
    mote_train::moderation::model_file::parse_shapes(names).ok_or_else(|| {
        format!("`{names}`: expected distinct names among caps, bang, email, phone, address")
    })
}

/// Arguments of `mote eval moderation`.
#[derive(clap::Args)]
pub struct EvalArgs {
    /// A model written by `mote train moderation`.
    #[arg(long)]
    model: PathBuf,
    /// Labelled messages (as for training); scored on the held-out rows (index % 5 == 4).
    #[arg(long)]
    data: PathBuf,
    /// Also list up to this many misclassified held-out messages per category.
    #[arg(long, default_value_t = 0)]
    show_errors: usize,
}

/// Reads a policy file, keeping its text, with `path:line:column:` errors.
fn load_policy(path: &Path) -> Result<(Policy, String)> {
    let policy = super::policy::load(path)?;
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Ok((policy, text))
}

fn load_messages(path: &Path, policy: &Policy) -> Result<Messages> {
    Messages::load(path, policy).map_err(|e| match e {
        mote_train::moderation::MessagesError::Io { .. } => e.to_string(),
        _ => format!("{}: {e}", path.display()),
    })
}

fn print_counts(messages: &Messages) {
    let counts: Vec<String> = messages
        .categories
        .iter()
        .zip(messages.positives())
        .map(|(c, n)| format!("{c} {n}"))
        .collect();
    outln!(
        "{} messages: {}, clean {}",
        messages.len(),
        counts.join(", "),
        messages.clean()
    );
}

/// Exports `model` to an int8 blob and prints float against int8 on the held-out rows.
pub fn export(
    model: &ModerationModel,
    messages: &Messages,
    source: &str,
) -> Result<(Vec<u8>, ModerationReport)> {
    // Labels from a teacher (`mote label`) are recorded by `run_train` in the model's meta.
    let meta = |k: &str| model.meta.get(k).cloned().unwrap_or_default();
    let options = ModerationExportOptions {
        source: source.to_string(),
        template_version: meta("template_version"),
        label_source: meta("label_source"),
        ..Default::default()
    };
    let (blob, report) = export_moderation(model, messages, &options).map_err(|e| e.to_string())?;
    print_comparison(model, &report);
    Ok((blob, report))
}

/// Float against int8 per category, with the blob's footprint.
fn print_comparison(model: &ModerationModel, report: &ModerationReport) {
    outln!(
        "float vs int8 on the held-out rows ({}): decisions differ on {} message(s)",
        report.rows,
        report.disagreements
    );
    outln!(
        "  {:<16} {:>7} {:>7} {:>7}   {:>7} {:>7} {:>7}",
        "category",
        "P fp",
        "R fp",
        "F1 fp",
        "P int8",
        "R int8",
        "F1 int8"
    );
    for ((c, f), q) in model
        .policy
        .categories
        .iter()
        .zip(&report.float)
        .zip(&report.int8)
    {
        outln!(
            "  {:<16} {:>7.4} {:>7.4} {:>7.4}   {:>7.4} {:>7.4} {:>7.4}",
            c.name,
            f.precision(),
            f.recall(),
            f.f1(),
            q.precision(),
            q.recall(),
            q.f1()
        );
    }
    outln!(
        "  blob {} bytes, arena {} bytes",
        report.blob_bytes,
        report.arena_bytes
    );
}

/// Prints per-category precision, recall and F1 with the threshold and decision.
fn print_scores(model: &ModerationModel, scores: &[CategoryScores], rows: usize) {
    outln!("held-out rows (index % 5 == {TEST_FOLD}): {rows}, float model, calibrated thresholds");
    outln!(
        "  {:<16} {:<8} {:>6} {:>9} {:>9} {:>7} {:>7} {:>7}",
        "category",
        "decision",
        "target",
        "threshold",
        "support",
        "P",
        "R",
        "F1"
    );
    for ((c, s), t) in model
        .policy
        .categories
        .iter()
        .zip(scores)
        .zip(&model.thresholds)
    {
        outln!(
            "  {:<16} {:<8} {:>6.2} {:>9.4} {:>9} {:>7.4} {:>7.4} {:>7.4}",
            c.name,
            c.decision.name(),
            c.target_precision,
            t,
            s.support(),
            s.precision(),
            s.recall(),
            s.f1()
        );
    }
    let f1: f64 = scores.iter().map(CategoryScores::f1).sum::<f64>() / scores.len() as f64;
    outln!("  macro F1 {f1:.4}");
}

/// Trains, calibrates, reports on the held-out rows and saves the model.
pub fn run_train(args: TrainArgs) -> Result {
    let (policy, policy_text) = load_policy(&args.policy)?;
    let messages = load_messages(&args.data, &policy)?;
    print_counts(&messages);
    let teacher = LabelProvenance::load_for(&args.data)?;
    if let Some(t) = &teacher {
        if t.policy_hash != policy.content_hash() {
            return Err(format!(
                "{} was labelled by {} under policy {} {} (sha256 {}), not under {} (sha256 {}); \
                 relabel it with `mote label` or train with the policy it was labelled under",
                args.data.display(),
                t.teacher_model,
                t.policy_id,
                t.policy_version,
                t.policy_hash,
                args.policy.display(),
                policy.content_hash()
            ));
        }
        outln!(
            "labels by teacher {} (template {}, see {})",
            t.teacher_model,
            t.template_version,
            LabelProvenance::path_for(&args.data).display()
        );
    }
    let cfg = ClassifierConfig {
        bucket_bits: args.bits,
        embedding_dim: args.dim,
        hidden: args.hidden.clone(),
        epochs: args.epochs,
        batch_size: args.batch_size,
        learning_rate: args.lr,
        weight_decay: args.weight_decay,
        init_scale: args.init_scale,
        class_weighting: !args.no_class_weighting,
        shapes: args.shapes,
        threshold_rule: args.threshold_rule,
        seed: args.seed,
    };
    let (bar, mut on_epoch) = super::train::progress_bar(cfg.epochs);
    let trained = classifier::train(&policy, &policy_text, &messages, &cfg, &mut on_epoch)?;
    bar.finish();
    outln!(
        "calibration (out-of-fold scores of the training rows, {CALIBRATION_FOLDS} folds{}):",
        if messages.groups.len() == messages.len() {
            " by group"
        } else {
            ""
        }
    );
    for (c, cal) in policy.categories.iter().zip(&trained.calibration) {
        outln!(
            "  {:<16} threshold {:.4}  precision {:.4} (target {}, {}% bound {:.4})  recall {:.4}{}",
            c.name,
            cal.threshold,
            cal.precision,
            c.target_precision,
            classifier::BOUND_CONFIDENCE * 100.0,
            cal.precision_bound,
            cal.recall,
            if cal.reached {
                ""
            } else {
                "  [target not reached: best precision kept]"
            }
        );
    }
    let mut model = trained.model;
    let test = messages.subset(&messages.folds(&[TEST_FOLD]));
    let scores = model.evaluate(&test);
    print_scores(&model, &scores, test.len());
    for (c, s) in policy.categories.iter().zip(&scores) {
        model
            .meta
            .insert(format!("test_f1.{}", c.name), format!("{:.4}", s.f1()));
    }
    model
        .meta
        .insert("data_path".into(), args.data.display().to_string());
    if let Some(t) = teacher {
        model.meta.insert("label_source".into(), t.teacher_model);
        model
            .meta
            .insert("template_version".into(), t.template_version);
        model.meta.insert("teacher_url".into(), t.teacher_url);
    }
    model.save(&args.out).map_err(|e| e.to_string())?;
    let blob_path = args.out.with_extension("mote");
    let (blob, _) = export(&model, &messages, &args.out.display().to_string())?;
    super::write_file(&blob_path, &blob)?;
    outln!("blob -> {} ({} bytes)", blob_path.display(), blob.len());
    outln!(
        "model -> {} (policy {} {}, sha256 {})",
        args.out.display(),
        policy.id,
        policy.version,
        policy.content_hash()
    );
    Ok(())
}

/// Scores a saved model on the held-out rows of a data set.
pub fn run_eval(args: EvalArgs) -> Result {
    let model =
        ModerationModel::load(&args.model).map_err(|e| format!("{}: {e}", args.model.display()))?;
    let messages = load_messages(&args.data, &model.policy)?;
    let test = messages.subset(&messages.folds(&[TEST_FOLD]));
    outln!(
        "{}: policy {} {} (sha256 {})",
        args.model.display(),
        model.policy.id,
        model.policy.version,
        model.policy.content_hash()
    );
    print_counts(&messages);
    let scores = model.evaluate(&test);
    print_scores(&model, &scores, test.len());
    if args.show_errors > 0 {
        let probabilities: Vec<Vec<f32>> =
            test.texts.iter().map(|t| model.probabilities(t)).collect();
        for (c, category) in model.policy.categories.iter().enumerate() {
            let threshold = model.thresholds[c];
            let wrong = test
                .texts
                .iter()
                .zip(&probabilities)
                .zip(&test.labels)
                .filter(|((_, p), y)| (p[c] >= threshold) != y[c])
                .take(args.show_errors);
            for ((text, p), y) in wrong {
                let kind = if y[c] { "missed" } else { "false alarm" };
                outln!("  {} {kind} (p {:.3}): {text:?}", category.name, p[c]);
            }
        }
    }
    export(&model, &messages, &args.model.display().to_string())?;
    Ok(())
}

//! `mote label`: a teacher model labels messages by the policy (docs/moderation.md, "Teacher
//! labelling").

use super::Result;
use indicatif::{ProgressBar, ProgressStyle};
use mote_train::moderation::messages::read_texts;
use mote_train::moderation::teacher::{
    flip_rates, LabelCache, LabelProvenance, Labeller, PromptFormat, Teacher, TeacherConfig,
    TEMPLATE_VERSION,
};
use mote_train::moderation::Messages;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `mote label`.
#[derive(clap::Args)]
pub struct Args {
    /// The policy file (docs/moderation-policy.md).
    #[arg(long)]
    policy: PathBuf,
    /// Messages to label: CSV or JSONL with a `text` (or `comment_text`) column; other
    /// columns are ignored.
    #[arg(long)]
    input: PathBuf,
    /// Base URL of an OpenAI-compatible server (plain http), e.g. http://127.0.0.1:8080;
    /// requests go to {URL}/v1/chat/completions.
    #[arg(long)]
    teacher: String,
    /// Model name sent to the server and recorded as the labels' source.
    #[arg(long, default_value = "default")]
    model: String,
    /// Where to write the labelled CSV (text + one 0/1 column per category); its provenance
    /// goes beside it as <out>.teacher.json.
    #[arg(long, short, default_value = "labelled.csv")]
    out: PathBuf,
    /// Answer cache directory (keyed by policy hash, template version, format, model, text).
    #[arg(long, default_value = ".mote-cache/labels")]
    cache: PathBuf,
    /// Ask the teacher every time (neither read nor write the cache).
    #[arg(long)]
    no_cache: bool,
    /// Render the policy in N prompt formats (1 to 16) and report each category's label
    /// flip rate across them; the CSV holds the labels of format 0 (the canonical one).
    #[arg(long, default_value_t = 1)]
    variants: usize,
    /// Most requests per second (0: no limit).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Further attempts after a transport error, 429, 5xx or an unparseable answer.
    #[arg(long, default_value_t = 4)]
    retries: u32,
    /// Wait before the first retry, in milliseconds (doubled each time, at most 30 s).
    #[arg(long, default_value_t = 500)]
    backoff_ms: u64,
    /// Timeout of one request, in seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
}

/// Labels the input, writes the CSV and its provenance, prints the variants report.
pub fn run(args: Args) -> Result {
    if !(1..=mote_train::moderation::teacher::prompt::MAX_VARIANTS).contains(&args.variants) {
        return Err(format!(
            "--variants must be 1 to {}, found {}",
            mote_train::moderation::teacher::prompt::MAX_VARIANTS,
            args.variants
        ));
    }
    if !(args.rate >= 0.0 && args.rate.is_finite()) {
        return Err(format!("--rate must be a number >= 0, found {}", args.rate));
    }
    let policy = super::policy::load(&args.policy)?;
    let texts = read_texts(&args.input).map_err(|e| match e {
        mote_train::moderation::MessagesError::Io { .. } => e.to_string(),
        _ => format!("{}: {e}", args.input.display()),
    })?;
    let config = TeacherConfig {
        url: args.teacher.clone(),
        model: args.model.clone(),
        retries: args.retries,
        backoff: Duration::from_millis(args.backoff_ms),
        rate: (args.rate > 0.0).then_some(args.rate),
        timeout: Duration::from_secs(args.timeout.max(1)),
    };
    let teacher = Teacher::new(config).map_err(|e| e.to_string())?;
    let endpoint = teacher.endpoint();
    let cache = (!args.no_cache).then(|| LabelCache::new(&args.cache));
    let formats = PromptFormat::variants(args.variants);
    outln!(
        "labelling {} message(s) x {} prompt format(s) with {} at {endpoint}",
        texts.len(),
        formats.len(),
        args.model
    );
    outln!(
        "policy {} {} (sha256 {}), template {TEMPLATE_VERSION}",
        policy.id,
        policy.version,
        policy.content_hash()
    );
    let mut labeller = Labeller::new(&policy, teacher, cache);
    let bar = ProgressBar::new((texts.len() * formats.len()) as u64);
    if let Ok(style) = ProgressStyle::with_template("labelling {bar:30} {pos}/{len} ({elapsed})") {
        bar.set_style(style);
    }
    let result = labeller.label_all(&formats, &texts, &mut |done, _| {
        bar.set_position(done as u64)
    });
    bar.finish_and_clear();
    let stats = labeller.teacher.stats;
    let summary = format!(
        "teacher: {} request(s), {} retried ({} transport error(s), {} 429/5xx, {} unparseable \
         answer(s)); cache: {} hit(s){}",
        stats.requests,
        stats.retries,
        stats.transport_errors,
        stats.busy_or_server_errors,
        stats.bad_answers,
        labeller.cache_hits,
        if args.no_cache {
            " (disabled)".to_string()
        } else {
            format!(" in {}", args.cache.display())
        }
    );
    let labels = match result {
        Ok(labels) => labels,
        Err(e) => {
            outln!("{summary}");
            return Err(format!(
                "{e}\n(answers received so far are cached; rerun to continue)"
            ));
        }
    };
    outln!("{summary}");
    let messages = Messages {
        categories: policy.categories.iter().map(|c| c.name.clone()).collect(),
        texts,
        labels: labels[0].clone(),
        groups: Vec::new(),
    };
    let rates = flip_rates(&labels, policy.categories.len());
    if formats.len() > 1 {
        outln!("format sensitivity over {} prompt formats:", formats.len());
        for (i, f) in formats.iter().enumerate() {
            outln!("  {i:>2} {}", f.name());
        }
        outln!(
            "  {:<16} {:>9} {:>9} {:>10}",
            "category",
            "flipped",
            "flip rate",
            "positives"
        );
        for (c, r) in policy.categories.iter().zip(&rates) {
            outln!(
                "  {:<16} {:>9} {:>9.4} {:>10}",
                c.name,
                format!("{}/{}", r.flipped, r.texts),
                r.rate(),
                if r.positives_min == r.positives_max {
                    r.positives_min.to_string()
                } else {
                    format!("{}-{}", r.positives_min, r.positives_max)
                }
            );
        }
    }
    let counts: Vec<String> = messages
        .categories
        .iter()
        .zip(messages.positives())
        .map(|(c, n)| format!("{c} {n}"))
        .collect();
    super::write_file(&args.out, messages.to_csv().as_bytes())?;
    outln!(
        "labels -> {} ({} messages: {}, clean {})",
        args.out.display(),
        messages.len(),
        counts.join(", "),
        messages.clean()
    );
    let provenance = LabelProvenance {
        template_version: TEMPLATE_VERSION.into(),
        format: formats[0].name(),
        teacher_model: args.model.clone(),
        teacher_url: endpoint,
        policy_id: policy.id.clone(),
        policy_version: policy.version.clone(),
        policy_hash: policy.content_hash(),
        rows: messages.len(),
        variants: formats.len(),
        flip_rates: if formats.len() > 1 {
            policy
                .categories
                .iter()
                .zip(&rates)
                .map(|(c, r)| (c.name.clone(), r.rate()))
                .collect()
        } else {
            Default::default()
        },
    };
    let side = LabelProvenance::path_for(&args.out);
    super::write_file(&side, provenance.to_json().as_bytes())?;
    outln!("provenance -> {}", side.display());
    Ok(())
}

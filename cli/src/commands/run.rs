//! `mote run`: run a blob on CSV rows through the runtime (MLP outputs, a GP's predictive
//! mean and standard deviation per output, a recommender's top 10 items per history, or a
//! moderation blob's per-category probabilities, hits and action per message).

use super::{read_file, Result};
use crate::table::{read_rows, write_rows};
use mote_exporter::evaluate::Runner;
use mote_runtime::moderation::{score_probability, Moderation};
use mote_train::moderation::messages::{csv_field, read_texts};
use std::path::PathBuf;

/// Arguments of `mote run`.
#[derive(clap::Args)]
#[command(after_help = MODERATION_HELP)]
pub struct Args {
    /// The .mote blob.
    blob: PathBuf,
    /// CSV of input rows: real-valued features, or raw int8 values with --quantized. A CSV
    /// with the target as an extra last column (as `data/*.csv`) is accepted for GP blobs.
    /// For a moderation blob: CSV or JSONL with a `text` (or `comment_text`) column.
    #[arg(long)]
    input: PathBuf,
    /// Where to write the output rows as CSV (required for MLP blobs; GP, recommender and
    /// moderation blobs print to standard output without it).
    #[arg(long)]
    output: Option<PathBuf>,
    /// Rows are raw int8 values in and out, for byte-for-byte comparison with other runtimes.
    #[arg(long)]
    quantized: bool,
    /// For a recommender blob: the map from the blob's item ids to the item ids of the data's
    /// CSV (`id,item,item_type`, written by `mote rec export` beside the blob); default
    /// `BLOB.items.csv` if it exists. Without one, histories and results are the blob's ids.
    #[arg(long)]
    items: Option<PathBuf>,
}

/// How `mote run` treats a moderation blob (shown after the options in `--help`).
const MODERATION_HELP: &str = "\
Moderation blobs (from `mote train moderation`): every message of --input goes through the
device's code (featurizer, embedding bag, int8 MLP, thresholds; text past the device's feature
limit is ignored). Output CSV, one row per message:
  text,<category>,<category>_hit,...,action
where <category> is the probability (q + 128) / 256 of the category's int8 score q (4
decimals), <category>_hit is 1 when q reaches the blob's threshold, and action is the
strictest action (allow, flag or block) among the hit categories.";

/// Where `mote rec export --blob BLOB` writes the blob's item map: `BLOB.items.csv`.
pub fn item_map_path(blob: &std::path::Path) -> PathBuf {
    let mut name = blob.as_os_str().to_owned();
    name.push(".items.csv");
    PathBuf::from(name)
}

/// The text of an item map: `id,item,item_type`, one line per blob item id (row order).
pub fn item_map_text(items: &[(u32, &str, &str)]) -> String {
    let mut text = String::from("id,item,item_type\n");
    for (id, item, item_type) in items {
        text.push_str(&format!("{id},{item},{item_type}\n"));
    }
    text
}

/// A recommender blob's item map read back: blob id to CSV item id and the reverse.
struct ItemMap {
    to_csv: std::collections::HashMap<u32, String>,
    to_blob: std::collections::HashMap<String, u32>,
}

fn read_item_map(path: &std::path::Path) -> Result<ItemMap> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut map = ItemMap {
        to_csv: Default::default(),
        to_blob: Default::default(),
    };
    for (i, line) in text.lines().enumerate().skip(1) {
        let bad = || {
            format!(
                "{}: line {}: expected `id,item,item_type`",
                path.display(),
                i + 1
            )
        };
        let (id, rest) = line.split_once(',').ok_or_else(bad)?;
        let (item, _) = rest.rsplit_once(',').ok_or_else(bad)?;
        let id: u32 = id.trim().parse().map_err(|_| bad())?;
        map.to_csv.insert(id, item.to_string());
        map.to_blob.insert(item.to_string(), id);
    }
    Ok(map)
}

/// Recommends for every line of `--input` (one history per line: item ids, oldest first,
/// comma-separated; an empty line is an empty history), excluding the history, and writes the
/// top 10 as `item:score` pairs, best first, one line per history.
fn run_recommender(rec: &mote_runtime::Recommender<'_>, args: &Args) -> Result {
    if args.quantized {
        return Err("--quantized applies to int8 MLP blobs, not recommender blobs".into());
    }
    let default_map = item_map_path(&args.blob);
    let map_path = match &args.items {
        Some(path) => Some(path.clone()),
        None => default_map.is_file().then_some(default_map),
    };
    let map = map_path.as_deref().map(read_item_map).transpose()?;
    let input = std::fs::read_to_string(&args.input)
        .map_err(|e| format!("cannot read {}: {e}", args.input.display()))?;
    let mut arena = vec![0u8; rec.arena_len()];
    let mut top = heapless::Vec::<mote_runtime::Recommendation, 10>::new();
    let mut text = String::new();
    let mut rows = 0;
    for (i, line) in input.lines().enumerate() {
        let where_ = || format!("{}: line {}", args.input.display(), i + 1);
        let history = line
            .split(',')
            .map(str::trim)
            .filter(|id| !id.is_empty())
            .map(|id| match &map {
                Some(map) => map.to_blob.get(id).copied().ok_or_else(|| {
                    format!("{}: item `{id}` is not in the blob's item map", where_())
                }),
                None => id
                    .parse::<u32>()
                    .map_err(|_| format!("{}: `{id}` is not an item id (u32)", where_())),
            })
            .collect::<Result<Vec<u32>>>()?;
        rec.recommend(&history, &history, &mut arena, &mut top)
            .map_err(|e| format!("{}: {e}", where_()))?;
        let items: Vec<String> = top
            .iter()
            .map(|r| match map.as_ref().and_then(|m| m.to_csv.get(&r.item)) {
                Some(item) => format!("{item}:{}", r.score),
                None => format!("{}:{}", r.item, r.score),
            })
            .collect();
        text.push_str(&items.join(","));
        text.push('\n');
        rows += 1;
    }
    match &args.output {
        Some(path) => {
            super::write_file(path, text.as_bytes())?;
            eprintln!("recommended for {rows} histories -> {}", path.display());
        }
        None => out!("{text}"),
    }
    Ok(())
}

/// The output header of a moderation run: `text`, each category's probability then its hit,
/// `action`.
fn moderation_header(moderation: &Moderation<'_>) -> String {
    let mut header = String::from("text");
    for c in &moderation.spec().categories {
        header.push_str(&format!(",{0},{0}_hit", csv_field(c.name)));
    }
    header.push_str(",action\n");
    header
}

/// Moderates every message of `--input` with the device's code path and writes one CSV row per
/// message (see [`MODERATION_HELP`]).
fn run_moderation(moderation: &Moderation<'_>, args: &Args) -> Result {
    if args.quantized {
        return Err(
            "--quantized applies to int8 MLP blobs, not moderation blobs (their input is text)"
                .into(),
        );
    }
    let texts = read_texts(&args.input).map_err(|e| match e {
        mote_train::moderation::MessagesError::Io { .. } => e.to_string(),
        _ => format!("{}: {e}", args.input.display()),
    })?;
    let mut arena = vec![0u8; moderation.arena_len()];
    let mut scores = vec![0i8; moderation.categories()];
    let mut text = moderation_header(moderation);
    for (i, message) in texts.iter().enumerate() {
        let verdict = moderation
            .moderate(message.as_bytes(), &mut arena, &mut scores)
            .map_err(|e| format!("{}: message {}: {e}", args.input.display(), i + 1))?;
        text.push_str(&csv_field(message));
        for (c, &q) in scores.iter().enumerate() {
            let hit = u8::from(verdict.in_category(c));
            text.push_str(&format!(",{:.4},{hit}", score_probability(q.into())));
        }
        text.push(',');
        text.push_str(verdict.action.name());
        text.push('\n');
    }
    match &args.output {
        Some(path) => {
            super::write_file(path, text.as_bytes())?;
            eprintln!("moderated {} messages -> {}", texts.len(), path.display());
        }
        None => out!("{text}"),
    }
    Ok(())
}

/// Runs every input row and writes one output row per input row.
pub fn run(args: Args) -> Result {
    let blob = read_file(&args.blob)?;
    if let Ok(gp) = mote_runtime::GpModel::parse(&blob) {
        return run_gp(&gp, &args);
    }
    if let Ok(rec) = mote_runtime::Recommender::parse(&blob) {
        return run_recommender(&rec, &args);
    }
    if let Ok(moderation) = Moderation::parse(&blob) {
        return run_moderation(&moderation, &args);
    }
    let output = args
        .output
        .clone()
        .ok_or("--output is required for MLP blobs")?;
    let mut runner = Runner::new(&blob).map_err(|e| format!("{}: {e}", args.blob.display()))?;
    let expected = runner.model().input_len();
    let check = |i: usize, len: usize| -> Result {
        if len == expected {
            Ok(())
        } else {
            Err(format!(
                "{}: row {} has {len} values; the model takes {expected}",
                args.input.display(),
                i + 1
            ))
        }
    };
    let written = if args.quantized {
        let rows: Vec<Vec<i8>> = read_rows(&args.input)?;
        let mut outputs = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            check(i, row.len())?;
            outputs.push(
                runner
                    .run_quantized(row)
                    .map_err(|e| e.to_string())?
                    .to_vec(),
            );
        }
        write_rows(&output, &outputs)?;
        outputs.len()
    } else {
        let rows: Vec<Vec<f32>> = read_rows(&args.input)?;
        let mut outputs = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            check(i, row.len())?;
            outputs.push(runner.run_real(row).map_err(|e| e.to_string())?);
        }
        write_rows(&output, &outputs)?;
        outputs.len()
    };
    eprintln!("ran {written} rows -> {}", output.display());
    Ok(())
}

/// Predicts every row with a GP blob: columns `mean` and `sd` per output (`mean_1`, `sd_1`, …
/// for several), with a header, to `--output` or standard output.
fn run_gp(gp: &mote_runtime::GpModel<'_>, args: &Args) -> Result {
    if args.quantized {
        return Err("--quantized applies to int8 MLP blobs, not GP blobs".into());
    }
    let rows: Vec<Vec<f32>> = read_rows(&args.input)?;
    let (d, p) = (gp.input_len(), gp.output_len());
    let mut arena = vec![0u8; gp.arena_len()];
    let (mut mean, mut var) = (vec![0.0f32; p], vec![0.0f32; p]);
    let mut text = if p == 1 {
        "mean,sd\n".to_string()
    } else {
        (1..=p)
            .map(|i| format!("mean_{i},sd_{i}"))
            .collect::<Vec<_>>()
            .join(",")
            + "\n"
    };
    for (i, row) in rows.iter().enumerate() {
        // Data files carry the target as a last column: ignore it.
        let features = match row.len() {
            n if n == d => &row[..],
            n if n == d + 1 => &row[..d],
            n => {
                return Err(format!(
                    "{}: row {} has {n} values; the model takes {d}",
                    args.input.display(),
                    i + 1
                ))
            }
        };
        gp.run(features, &mut arena, &mut mean, &mut var)
            .map_err(|e| format!("{}: row {}: {e}", args.input.display(), i + 1))?;
        let columns: Vec<String> = mean
            .iter()
            .zip(&var)
            .map(|(m, v)| format!("{m},{}", v.sqrt()))
            .collect();
        text.push_str(&columns.join(","));
        text.push('\n');
    }
    match &args.output {
        Some(path) => {
            super::write_file(path, text.as_bytes())?;
            eprintln!("ran {} rows -> {}", rows.len(), path.display());
        }
        None => out!("{text}"),
    }
    Ok(())
}

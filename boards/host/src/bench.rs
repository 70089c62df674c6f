//! `mote bench`: instruction counts, flash and RAM of a blob on an emulated board.
//!
//! QEMU runs with `-icount shift=0`, so each instruction advances virtual time by exactly 1 ns
//! and SysTick, clocked at the board's `sysclk_hz`, ticks once every `1e9 / sysclk_hz`
//! instructions (40 on mps2-an386). Figures are therefore **instruction counts** (not cycles),
//! exact up to one tick per measured interval.

use crate::elf::{Elf, Sections};
use crate::error::io;
use crate::{device, firmware, qemu, Board, BoardError};
use mote_runtime::manifest::ModelKind;
use mote_runtime::{AnyModel, GpModel};
use serde::Serialize;

/// What `mote bench` reports.
#[derive(Debug, Clone, Serialize)]
pub struct BenchReport {
    /// The board.
    pub board: String,
    /// What the numbers count, spelled out for readers of the JSON.
    pub unit: &'static str,
    /// Instructions per SysTick tick: the resolution of each measured interval.
    pub instructions_per_tick: f64,
    /// Bytes of the blob (in the model partition, not counted in `flash_bytes`).
    pub blob_bytes: u64,
    /// Input rows the inference figure is averaged over.
    pub rows: u64,
    /// Multiply-accumulates per inference.
    pub macs: u64,
    /// Items a recommender blob scores per inference (0 for other blobs).
    pub items: u64,
    /// Instructions `Model::parse` took (it validates the whole blob, CRC included).
    pub parse_instructions: u64,
    /// Instructions of one `Model::run`, mean over the rows.
    pub inference_instructions: f64,
    /// `inference_instructions / macs`.
    pub instructions_per_mac: f64,
    /// Per layer, mean over the rows (from a build that reads the clock after each layer, so
    /// each figure includes that read: a few instructions).
    pub layers: Vec<LayerBench>,
    /// Flash the firmware takes: vectors + text + rodata + data's initial values (blob apart).
    pub flash_bytes: u64,
    /// RAM: data + bss (without the firmware's unused buffer capacity) + arena + one output row
    /// + the measured stack high-water mark.
    pub ram_bytes: u64,
    /// The breakdown of `flash_bytes` and `ram_bytes`.
    pub memory: Memory,
}

/// One layer's share of an inference.
#[derive(Debug, Clone, Serialize)]
pub struct LayerBench {
    /// Position in the model.
    pub index: usize,
    /// The op (`FULLY_CONNECTED`, ...).
    pub op: String,
    /// Multiply-accumulates of this layer.
    pub macs: u64,
    /// Instructions, mean over the rows.
    pub instructions: f64,
}

/// Where the flash and RAM bytes go.
#[derive(Debug, Clone, Serialize)]
pub struct Memory {
    /// Section sizes of the firmware ELF.
    pub sections: Sections,
    /// bss without the firmware's model buffers (`MOTE_BUFFERS`).
    pub bss_without_buffers: u64,
    /// Bytes of arena the model uses.
    pub arena: u64,
    /// Bytes of one output row.
    pub output: u64,
    /// Deepest stack use seen (stack painting), bytes.
    pub stack: u64,
}

/// What the runtime adds to the flash of a firmware that runs an MLP blob.
#[derive(Debug, Clone, Serialize)]
pub struct Footprint {
    /// The board.
    pub board: String,
    /// Sections of `mote-footprint` without the runtime.
    pub bare: Sections,
    /// Sections of `mote-footprint` parsing, validating and running a blob with the runtime.
    pub with_runtime: Sections,
    /// The runtime's cargo features in `with_runtime`.
    pub features: Vec<String>,
    /// `text + rodata` of `with_runtime` minus that of `bare`: the runtime's code and constants
    /// (parse, validation, every kernel an MLP blob can name).
    pub runtime_bytes: u64,
}

/// Builds the footprint probe (`firmware/footprint`) for `board_name` without the runtime and
/// with it (its cargo `features`, e.g. only the weight layout the board's kernel reads), and
/// compares their sizes.
pub fn footprint(board_name: &str, features: &[&str]) -> Result<Footprint, BoardError> {
    let board = Board::load(board_name)?;
    let sections = |runtime: Option<&[&str]>| -> Result<Sections, BoardError> {
        let path = firmware::build_footprint(&board, runtime)?;
        let bytes = std::fs::read(&path).map_err(io(format!("{}", path.display())))?;
        Ok(Elf::parse(&bytes)?.sections())
    };
    let (bare, with_runtime) = (sections(None)?, sections(Some(features))?);
    let code = |s: &Sections| s.text + s.rodata;
    Ok(Footprint {
        board: board.name.clone(),
        runtime_bytes: code(&with_runtime).saturating_sub(code(&bare)),
        features: features.iter().map(|f| f.to_string()).collect(),
        bare,
        with_runtime,
    })
}

/// Length of the messages a moderation blob is benchmarked on (a long social-media post).
pub const MESSAGE_BYTES: usize = 280;

/// `count` deterministic chat-like messages of exactly `len` bytes each (words, digits,
/// punctuation and the odd leetspeak spelling), as rows for a moderation blob.
pub fn message_rows(count: usize, len: usize) -> Vec<Vec<i8>> {
    const WORDS: &[&str] = &[
        "hey", "did", "you", "see", "the", "game", "last", "night", "free", "prize", "click",
        "here", "call", "me", "at", "555-0142", "w1n", "NOW!!!", "so", "cool", "what", "a",
        "loser", "lol", "meet", "tomorrow", "my", "address", "is", "12", "oak", "street", "sooooo",
        "good", "thanks", "for", "sharing", "this", "totally", "agree",
    ];
    let mut state = 0x6d6f_7465_u64;
    (0..count)
        .map(|_| {
            let mut text = String::new();
            while text.len() < len {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let word = WORDS[(state >> 33) as usize % WORDS.len()];
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(word);
            }
            text.truncate(len);
            text.bytes().map(|b| b as i8).collect()
        })
        .collect()
}

/// Input rows used when the caller gives none: deterministic pseudo-random int8 values.
pub const DEFAULT_ROWS: usize = 16;

/// Longest history of the rows a recommender blob is benchmarked on (lengths vary from 0).
pub const HISTORY_LEN: usize = 32;

/// Builds the firmware for `board_name` (cached by cargo), runs `blob` under QEMU with
/// `-icount shift=0` on `rows` (or [`DEFAULT_ROWS`] pseudo-random rows), and measures.
pub fn bench(
    board_name: &str,
    blob: &[u8],
    rows: Option<&[Vec<i8>]>,
) -> Result<BenchReport, BoardError> {
    let board = Board::load(board_name)?;
    let sysclk_hz = board.qemu()?.sysclk_hz;
    let model = AnyModel::parse(blob).map_err(BoardError::Blob)?;
    // Per layer: the op's multiply-accumulates (a GP reports itself as one layer, a
    // recommender as two: the user tower, then scoring every item and keeping the top k).
    let recommender = match &model {
        AnyModel::Mlp(m) if m.manifest().kind == ModelKind::Recommender => {
            Some(mote_runtime::Recommender::parse(blob).map_err(BoardError::Blob)?)
        }
        _ => None,
    };
    let (layer_macs, macs): (Vec<u64>, u64) = match (&model, &recommender) {
        (_, Some(r)) => {
            let scoring = r.items() as u64 * r.model().output_len() as u64;
            (vec![r.model().macs(), scoring], r.model().macs() + scoring)
        }
        (AnyModel::Mlp(m), None) => (m.layers().map(|l| l.macs()).collect(), m.macs()),
        (AnyModel::SparseGp(gp), None) => (vec![gp.macs()], gp.macs()),
    };
    let generated;
    let rows = match rows {
        Some(rows) => rows,
        None => {
            generated = match &model {
                _ if recommender.is_some() => recommender
                    .as_ref()
                    .map(|r| crate::rec::history_rows(r, DEFAULT_ROWS, HISTORY_LEN))
                    .unwrap_or_default(),
                AnyModel::Mlp(m) if m.manifest().kind == ModelKind::Moderation => {
                    message_rows(DEFAULT_ROWS, MESSAGE_BYTES)
                }
                AnyModel::Mlp(m) => pseudo_random_rows(DEFAULT_ROWS, m.input_len()),
                AnyModel::SparseGp(gp) => gp_rows(gp, DEFAULT_ROWS),
            };
            &generated
        }
    };
    let options = qemu::Options {
        icount: true,
        ..qemu::Options::default()
    };
    // Totals come from the plain firmware; per-layer figures from a second build that reads
    // the clock after every layer (`Model::run_observed`), which adds a few instructions each.
    let run = device::run_rows(&board, blob, rows, options)?;
    let timed = firmware::Features {
        layer_timing: true,
        ..Default::default()
    };
    let layer_run = device::run_rows_with(&board, timed, blob, rows, options)?;
    let elf_bytes = std::fs::read(&run.elf).map_err(io(format!("{}", run.elf.display())))?;
    let elf = Elf::parse(&elf_bytes)?;
    let sections = elf.sections();
    let (_, buffers) = elf.symbol("MOTE_BUFFERS")?;

    let per_tick = 1e9 / sysclk_hz as f64;
    let n = run.row_ticks.len().max(1) as f64;
    let inference = run.row_ticks.iter().sum::<u64>() as f64 * per_tick / n;
    let layers = layer_run
        .layer_ticks
        .iter()
        .zip(layer_macs)
        .enumerate()
        .map(|(index, ((op, ticks), macs))| LayerBench {
            index,
            op: op.clone(),
            macs,
            instructions: *ticks as f64 * per_tick / n,
        })
        .collect();
    let bss_without_buffers = sections.bss.saturating_sub(buffers);
    let memory = Memory {
        sections,
        bss_without_buffers,
        arena: run.arena_len,
        output: run.output_len,
        stack: run.stack_bytes,
    };
    Ok(BenchReport {
        board: board.name.clone(),
        unit: "instructions (QEMU -icount shift=0, counted with SysTick), not cycles",
        instructions_per_tick: per_tick,
        blob_bytes: blob.len() as u64,
        rows: run.row_ticks.len() as u64,
        macs,
        items: recommender.as_ref().map_or(0, |r| r.items() as u64),
        parse_instructions: (run.parse_ticks as f64 * per_tick).round() as u64,
        inference_instructions: inference,
        instructions_per_mac: inference / macs.max(1) as f64,
        layers,
        flash_bytes: sections.flash(),
        ram_bytes: sections.data
            + bss_without_buffers
            + memory.arena
            + memory.output
            + memory.stack,
        memory,
    })
}

impl BenchReport {
    /// The report as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
    }
}

impl std::fmt::Display for BenchReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{}: instruction counts (QEMU -icount shift=0; SysTick resolution {} instructions), not cycles",
            self.board, self.instructions_per_tick
        )?;
        writeln!(
            f,
            "  blob        {} bytes, {} MACs per inference",
            self.blob_bytes, self.macs
        )?;
        writeln!(f, "  parse       {} instructions", self.parse_instructions)?;
        writeln!(
            f,
            "  inference   {:.0} instructions (mean of {} rows), {:.2} instructions/MAC",
            self.inference_instructions, self.rows, self.instructions_per_mac
        )?;
        for layer in &self.layers {
            writeln!(
                f,
                "    layer {:>2} {:<16} {:>10.0} instructions  {:>8} MACs",
                layer.index, layer.op, layer.instructions, layer.macs
            )?;
        }
        if let (Some(scoring), true) = (self.layers.get(1), self.items > 0) {
            writeln!(
                f,
                "  scoring     {:.0} instructions for {} items + top-10: {:.2} per item, {:.3} per MAC",
                scoring.instructions,
                self.items,
                scoring.instructions / self.items as f64,
                scoring.instructions / scoring.macs.max(1) as f64
            )?;
        }
        let s = &self.memory.sections;
        writeln!(
            f,
            "  flash       {} bytes (text {} + rodata {} + vectors {} + data {}; blob apart)",
            self.flash_bytes, s.text, s.rodata, s.vector_table, s.data
        )?;
        write!(
            f,
            "  RAM         {} bytes (data {} + bss {} + arena {} + output {} + stack {})",
            self.ram_bytes,
            s.data,
            self.memory.bss_without_buffers,
            self.memory.arena,
            self.memory.output,
            self.memory.stack
        )
    }
}

/// `count` rows of real features for a GP blob, as the little-endian f32 bytes the firmware
/// reads: each feature at a fixed-seed pseudo-random point within ±2 lengthscales of the
/// standardised origin (where the training data and the inducing points are).
pub fn gp_rows(model: &GpModel<'_>, count: usize) -> Vec<Vec<i8>> {
    let steps = pseudo_random_rows(count, model.input_len());
    steps
        .iter()
        .map(|row| {
            let features: Vec<f32> = row
                .iter()
                .zip(model.input_affine())
                .map(|(&step, (offset, factor))| offset + (step as f32 / 64.0) / factor)
                .collect();
            f32_row_bytes(&features)
        })
        .collect()
}

/// A row of f32 features as the little-endian bytes (viewed as int8) of a GP row.
pub fn f32_row_bytes(features: &[f32]) -> Vec<i8> {
    features
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .map(|b| b as i8)
        .collect()
}

/// `count` rows of `len` int8 values from a fixed-seed SplitMix64.
pub fn pseudo_random_rows(count: usize, len: usize) -> Vec<Vec<i8>> {
    let mut state = 0x6d6f_7465_u64;
    let mut next = move || {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) as u8 as i8
    };
    (0..count)
        .map(|_| (0..len).map(|_| next()).collect())
        .collect()
}

//! On-device moderation: text in, one decision per policy category out, no allocation.
//!
//! A moderation blob (`ModelKind::Moderation`, see `FORMAT.md`) holds an int8 MLP like any
//! other blob plus a [`ModerationSpec`] after its layers: the policy's id, version and hash,
//! the featurizer's bucket bits, an int8 embedding table with one f32 scale per column, and per
//! category its name, action and int8 threshold. [`Moderation::moderate`] streams the text
//! through the featurizer ([`crate::text`], the code the host trained with), sums the embedding
//! rows of the features (at most [`MAX_FEATURES`] of them: longer input is cut there, so the
//! work and the state stay bounded), takes their mean, appends the presence of the spec's
//! shapes (email address, phone number, ...), quantises that, runs the MLP and compares each
//! category's score with its threshold.

use crate::manifest::Section;
use crate::model::SectionCheck;
use crate::text::{FeatureSink, Featurizer, Shape, MAX_BUCKET_BITS, MIN_BUCKET_BITS};
use crate::{Error, Model};
use heapless::Vec;
use serde::{Deserialize, Serialize};

/// Longest MLP input (embedding vector and shapes) a moderation blob may have.
pub const MAX_EMBEDDING_DIM: usize = 64;
/// Most categories a moderation blob may have.
pub const MAX_CATEGORIES: usize = 16;
/// Longest category name, in bytes.
pub const MAX_CATEGORY_NAME: usize = 32;
/// Features counted per message; later ones are ignored (about 40 KB of typical text).
pub const MAX_FEATURES: u32 = 65_535;

/// What to do with a message in a category, mildest first (ordered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Action {
    /// Let it through (the category is still reported).
    Allow,
    /// Let it through, marked for review.
    Flag,
    /// Stop it.
    Block,
}

impl Action {
    /// The action's name in a policy file and in tool output: `allow`, `flag`, `block`.
    pub fn name(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Flag => "flag",
            Action::Block => "block",
        }
    }
}

/// The probability an int8 category score (or threshold) stands for: the model ends in a
/// logistic whose output steps are 1/256 from −128, so `q` means `(q + 128) / 256`.
pub fn score_probability(q: i16) -> f32 {
    (f32::from(q) + 128.0) / 256.0
}

/// One policy category as the device sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CategorySpec<'a> {
    /// The policy's name for the category.
    pub name: &'a str,
    /// What to do when the message is in it.
    pub action: Action,
    /// The message is in the category when its int8 score (the model's output) is `>=` this;
    /// in `-128..=128` (128: never).
    pub threshold: i16,
}

/// Everything a moderation blob adds to an MLP blob; encoded after the layers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModerationSpec<'a> {
    /// The policy's id.
    pub policy_id: &'a str,
    /// The policy's version.
    pub policy_version: &'a str,
    /// The policy's content hash (hex SHA-256, see `docs/moderation-policy.md`).
    pub policy_hash: &'a str,
    /// Version of the prompt template that labelled the data, or empty for labels from data.
    pub template_version: &'a str,
    /// Who labelled the training data: a teacher model's name, or `data` for given labels.
    pub label_source: &'a str,
    /// Features hash into `2^bucket_bits` buckets.
    pub bucket_bits: u8,
    /// int8 embedding table: `2^bucket_bits` rows of `dim` values, where `dim` is `input.len`
    /// less the number of [`ModerationSpec::shapes`].
    pub embedding: Section,
    /// `dim` little-endian f32 scales, one per embedding column.
    pub embedding_scales: Section,
    /// The categories, in the order of the model's outputs.
    #[serde(borrow)]
    pub categories: Vec<CategorySpec<'a>, MAX_CATEGORIES>,
    /// [`Shape`] bits: the MLP's input is the mean embedding followed by, for each shape set
    /// here in bit order, 1 when the message has it and 0 when not.
    pub shapes: u8,
}

impl ModerationSpec<'_> {
    /// Columns of the embedding table: the MLP's `input_len` less one per shape.
    pub fn embedding_dim(&self, input_len: usize) -> usize {
        input_len.saturating_sub(self.shapes.count_ones() as usize)
    }
}

/// The outcome of moderating one message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Verdict {
    /// The strictest action among the categories the message is in (`Allow` when none).
    pub action: Action,
    /// Bit `c` is set when the message is in category `c`.
    pub categories: u16,
    /// Features counted (at most [`MAX_FEATURES`]).
    pub features: u32,
}

impl Verdict {
    /// Whether the message is in category `index`.
    pub fn in_category(&self, index: usize) -> bool {
        index < 16 && self.categories & (1 << index) != 0
    }
}

/// Checks a decoded spec against the blob and the model's shapes (called by `Model::parse`).
pub(crate) fn validate_spec(
    spec: &ModerationSpec<'_>,
    dim: u32,
    outputs: u32,
    sections: &SectionCheck<'_>,
) -> Result<(), Error> {
    if !(MIN_BUCKET_BITS..=MAX_BUCKET_BITS).contains(&spec.bucket_bits)
        || dim as usize > MAX_EMBEDDING_DIM
    {
        return Err(Error::BadDimension);
    }
    if spec.shapes >> Shape::ALL.len() != 0 {
        return Err(Error::BadModerationSpec);
    }
    let dim = spec.embedding_dim(dim as usize) as u32;
    if dim == 0 {
        return Err(Error::BadDimension);
    }
    let rows = 1u32 << spec.bucket_bits;
    let elements = rows.checked_mul(dim).ok_or(Error::BadDimension)?;
    sections.check(spec.embedding, elements, 1)?;
    let scales = sections.check(spec.embedding_scales, dim, 4)?;
    if le_f32s(scales).any(|s| !(s.is_finite() && s > 0.0)) {
        return Err(Error::BadQuantParams);
    }
    if spec.categories.is_empty() || spec.categories.len() != outputs as usize {
        return Err(Error::BadModerationSpec);
    }
    for c in &spec.categories {
        if c.name.is_empty()
            || c.name.len() > MAX_CATEGORY_NAME
            || !(-128..=128).contains(&c.threshold)
        {
            return Err(Error::BadModerationSpec);
        }
    }
    Ok(())
}

fn le_f32s(bytes: &[u8]) -> impl Iterator<Item = f32> + '_ {
    crate::kernels::le_i32s(bytes).map(|bits| f32::from_bits(bits as u32))
}

/// A parsed moderation blob.
#[derive(Debug, Clone)]
pub struct Moderation<'a> {
    model: Model<'a>,
    spec: ModerationSpec<'a>,
}

impl<'a> Moderation<'a> {
    /// Parses and validates a moderation blob ([`Error::UnsupportedModelKind`] for other kinds).
    pub fn parse(blob: &'a [u8]) -> Result<Moderation<'a>, Error> {
        let model = Model::parse(blob)?;
        let spec = model
            .moderation_spec()?
            .ok_or(Error::UnsupportedModelKind)?;
        Ok(Moderation { model, spec })
    }

    /// The policy, featurizer and categories.
    pub fn spec(&self) -> &ModerationSpec<'a> {
        &self.spec
    }

    /// The MLP after the embedding bag.
    pub fn model(&self) -> &Model<'a> {
        &self.model
    }

    /// Number of categories (and of scores [`Moderation::moderate`] writes).
    pub fn categories(&self) -> usize {
        self.spec.categories.len()
    }

    /// Bytes of scratch memory [`Moderation::moderate`] needs.
    pub fn arena_len(&self) -> usize {
        self.model.arena_len()
    }

    /// Starts moderating a message that arrives in pieces.
    pub fn start(&self) -> Result<Moderator<'_, 'a>, Error> {
        Ok(Moderator {
            moderation: self,
            bag: Bag::new(self.spec.bucket_bits)?,
        })
    }

    /// Moderates a whole message: writes one int8 score per category into `scores` (the
    /// model's output, a probability in steps of 1/256 from −128) and returns the verdict.
    pub fn moderate(
        &self,
        text: &[u8],
        arena: &mut [u8],
        scores: &mut [i8],
    ) -> Result<Verdict, Error> {
        let mut moderator = self.start()?;
        moderator.push(text);
        moderator.finish(arena, scores)
    }

    /// The embedding table and its column count.
    fn table(&self) -> Result<Table<'a>, Error> {
        Ok(Table {
            rows: self.model.section(self.spec.embedding)?,
            dim: self.spec.embedding_dim(self.model.input_len()),
        })
    }
}

/// Moderation of one message in progress: bounded state, no allocation.
#[derive(Debug, Clone)]
pub struct Moderator<'m, 'a> {
    moderation: &'m Moderation<'a>,
    bag: Bag,
}

impl Moderator<'_, '_> {
    /// Feeds the next bytes of the message (any split gives the same verdict).
    pub fn push(&mut self, bytes: &[u8]) {
        if let Ok(table) = self.moderation.table() {
            self.bag.push(table, bytes);
        }
    }

    /// Ends the message: runs the model and decides. `arena` needs
    /// [`Moderation::arena_len`] bytes, `scores` one entry per category.
    pub fn finish(self, arena: &mut [u8], scores: &mut [i8]) -> Result<Verdict, Error> {
        let m = self.moderation;
        let scales = m.model.section(m.spec.embedding_scales)?;
        let mut features = [0f32; MAX_EMBEDDING_DIM];
        let features = features
            .get_mut(..m.model.input_len())
            .ok_or(Error::InputLength)?;
        let count = self
            .bag
            .finish(m.table()?, scales, m.spec.shapes, features)?;
        let mut input = [0i8; MAX_EMBEDDING_DIM];
        let input = input.get_mut(..features.len()).ok_or(Error::InputLength)?;
        m.model.quantize_input(features, input)?;
        m.model.run(input, arena, scores)?;
        let mut verdict = Verdict {
            action: Action::Allow,
            categories: 0,
            features: count,
        };
        for (index, (c, &score)) in m.spec.categories.iter().zip(scores.iter()).enumerate() {
            if i16::from(score) >= c.threshold {
                verdict.categories |= 1 << index;
                verdict.action = verdict.action.max(c.action);
            }
        }
        Ok(verdict)
    }
}

/// An int8 embedding table: rows of `dim` values, row `b` for bucket `b`.
#[derive(Debug, Clone, Copy)]
pub struct Table<'t> {
    /// The rows, concatenated.
    pub rows: &'t [u8],
    /// Values per row.
    pub dim: usize,
}

/// The embedding bag of one message in progress: the featurizer, the sums of the features'
/// int8 rows, how many were counted and which shapes were seen. What the device computes
/// before the MLP; public so that a host tool computes the very same input.
#[derive(Debug, Clone)]
pub struct Bag {
    featurizer: Featurizer,
    sink: BagSink,
}

/// The sums of a bag. Rows are added four int8 values at a time into 16-bit lanes of `packed`
/// (SWAR in plain `u32` arithmetic, the same on every target): each value is biased by 128 to
/// `0..=255`, so a lane holds at most [`FLUSH_ROWS`] of them (`256 · 255 < 2^16`) before
/// [`BagSink::flush`] moves it, less the bias, into the i32 `sums`. The result is exactly the
/// plain i32 sum of the rows, at about a third of the instructions per row.
#[derive(Debug, Clone)]
struct BagSink {
    sums: [i32; MAX_EMBEDDING_DIM],
    /// For each group of four columns `4j..4j+4`: word `2j` holds the lanes of columns `4j`
    /// (low half) and `4j+2`, word `2j+1` those of `4j+1` and `4j+3`.
    packed: [u32; MAX_EMBEDDING_DIM / 2],
    /// Rows added to `packed` since the last flush, and their length.
    pending: u32,
    pending_dim: usize,
    count: u32,
    shapes: u8,
}

/// Rows a 16-bit lane of [`BagSink::packed`] holds: `256 · 255 <= u16::MAX`.
const FLUSH_ROWS: u32 = 256;

/// The bias that maps an int8 to `0..=255`, in each byte (`x ^ 0x80 = x + 128`).
const BIAS: u32 = 0x8080_8080;

/// The even bytes of a word, in 16-bit lanes.
const LANES: u32 = 0x00FF_00FF;

impl BagSink {
    /// Adds `row` (at most [`MAX_EMBEDDING_DIM`] values) to the sums.
    #[inline(always)]
    fn add(&mut self, row: &[u8]) {
        if row.len() != self.pending_dim {
            // A table of another width (not in one message of a blob): start afresh.
            self.flush();
            self.pending_dim = row.len();
        }
        let quads = row.chunks_exact(4);
        let tail = quads.remainder();
        let tail_start = row.len() - tail.len();
        for (quad, lanes) in quads.zip(self.packed.chunks_exact_mut(2)) {
            let w = u32::from_le_bytes([quad[0], quad[1], quad[2], quad[3]]) ^ BIAS;
            lanes[0] = lanes[0].wrapping_add(w & LANES);
            lanes[1] = lanes[1].wrapping_add((w >> 8) & LANES);
        }
        if let Some(sums) = self.sums.get_mut(tail_start..) {
            for (sum, &v) in sums.iter_mut().zip(tail) {
                *sum += i32::from(v as i8);
            }
        }
        self.pending += 1;
        if self.pending == FLUSH_ROWS {
            self.flush();
        }
    }

    /// Moves the lanes into `sums`, less the bias of the rows they hold, and empties them.
    fn flush(&mut self) {
        let bias = 128 * self.pending as i32;
        for (sums, lanes) in self
            .sums
            .chunks_exact_mut(4)
            .zip(self.packed.chunks_exact_mut(2))
            .take(self.pending_dim / 4)
        {
            let (even, odd) = (lanes[0], lanes[1]);
            sums[0] += (even & 0xFFFF) as i32 - bias;
            sums[1] += (odd & 0xFFFF) as i32 - bias;
            sums[2] += (even >> 16) as i32 - bias;
            sums[3] += (odd >> 16) as i32 - bias;
            lanes[0] = 0;
            lanes[1] = 0;
        }
        self.pending = 0;
    }
}

/// The sums of a bag with the table it reads, as the featurizer's sink.
struct Adder<'s, 't> {
    state: &'s mut BagSink,
    table: Table<'t>,
}

impl FeatureSink for Adder<'_, '_> {
    /// The sums do not depend on when the shapes come.
    const ORDERED: bool = false;

    /// Adds embedding row `bucket` to the sums, unless [`MAX_FEATURES`] were counted already.
    fn feature(&mut self, bucket: u32) {
        let state = &mut *self.state;
        if state.count >= MAX_FEATURES {
            return;
        }
        state.count += 1;
        let dim = self.table.dim;
        let start = bucket as usize * dim;
        if let Some(row) = self.table.rows.get(start..start + dim) {
            state.add(row);
        }
    }

    /// Adds the rows of `buckets`, as [`Adder::feature`] for each; for the default width (16
    /// columns) with the lanes in registers across the rows (another specialised width costs
    /// about 1.6 KB of flash).
    fn features(&mut self, buckets: &[u32]) {
        match self.table.dim {
            16 => self.add_rows::<16>(buckets),
            _ => {
                for &bucket in buckets {
                    self.feature(bucket);
                }
            }
        }
    }

    fn shape(&mut self, shape: Shape) {
        self.state.shapes |= shape.bit();
    }
}

impl Adder<'_, '_> {
    /// [`Adder::features`] for a table of width `D` (a multiple of 4, at most
    /// [`MAX_EMBEDDING_DIM`]): the same sums, with the lanes in local variables.
    #[inline(always)]
    fn add_rows<const D: usize>(&mut self, buckets: &[u32]) {
        let state = &mut *self.state;
        if state.pending_dim != D {
            state.flush();
            state.pending_dim = D;
        }
        // Features past MAX_FEATURES are not counted.
        let room = MAX_FEATURES.saturating_sub(state.count) as usize;
        let buckets = buckets.get(..room).unwrap_or(buckets);
        state.count += buckets.len() as u32;
        let rows = self.table.rows;
        let used = D / 2;
        for chunk in buckets.chunks(FLUSH_ROWS as usize / 4) {
            if state.pending + chunk.len() as u32 > FLUSH_ROWS {
                state.flush();
            }
            let mut lanes = [0u32; MAX_EMBEDDING_DIM / 2];
            for (lane, &packed) in lanes.iter_mut().zip(&state.packed).take(used) {
                *lane = packed;
            }
            let mut outside = 0;
            for &bucket in chunk {
                let start = bucket as usize * D;
                let Some(row) = rows.get(start..start + D) else {
                    outside += 1;
                    continue;
                };
                for (quad, pair) in row.chunks_exact(4).zip(lanes.chunks_exact_mut(2)) {
                    let w = u32::from_le_bytes([quad[0], quad[1], quad[2], quad[3]]) ^ BIAS;
                    pair[0] = pair[0].wrapping_add(w & LANES);
                    pair[1] = pair[1].wrapping_add((w >> 8) & LANES);
                }
            }
            for (packed, &lane) in state.packed.iter_mut().zip(&lanes).take(used) {
                *packed = lane;
            }
            state.pending += chunk.len() as u32 - outside;
        }
    }
}

impl Bag {
    /// An empty bag whose featurizer hashes into `2^bits` buckets.
    pub fn new(bits: u8) -> Result<Bag, Error> {
        Ok(Bag {
            featurizer: Featurizer::new(bits)?,
            sink: BagSink {
                sums: [0; MAX_EMBEDDING_DIM],
                packed: [0; MAX_EMBEDDING_DIM / 2],
                pending: 0,
                pending_dim: 0,
                count: 0,
                shapes: 0,
            },
        })
    }

    /// Feeds the next bytes of the message, adding their features' rows of `table`.
    pub fn push(&mut self, table: Table<'_>, bytes: &[u8]) {
        let mut adder = Adder {
            state: &mut self.sink,
            table,
        };
        self.featurizer.push(bytes, &mut adder);
    }

    /// Ends the message and writes the MLP's real-valued input into `out`: per column `d` of
    /// `table`, `sum_d · scale_d / count` in f32 (0 without features; `scales` holds
    /// little-endian f32s), then for each shape of the mask `shapes`, in bit order, 1 or 0.
    /// `out` must hold exactly those values. Returns the features counted.
    pub fn finish(
        mut self,
        table: Table<'_>,
        scales: &[u8],
        shapes: u8,
        out: &mut [f32],
    ) -> Result<u32, Error> {
        let mut adder = Adder {
            state: &mut self.sink,
            table,
        };
        self.featurizer.finish(&mut adder);
        if out.len() != table.dim + shapes.count_ones() as usize || table.dim > MAX_EMBEDDING_DIM {
            return Err(Error::InputLength);
        }
        self.sink.flush();
        let state = &self.sink;
        let (mean, flags) = out.split_at_mut(table.dim);
        let n = state.count as f32;
        for ((x, &s), scale) in mean.iter_mut().zip(&state.sums).zip(le_f32s(scales)) {
            *x = if state.count > 0 {
                s as f32 * scale / n
            } else {
                0.0
            };
        }
        for (x, shape) in flags.iter_mut().zip(Shape::in_mask(shapes)) {
            *x = if state.shapes & shape.bit() != 0 {
                1.0
            } else {
                0.0
            };
        }
        Ok(state.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int8_scores_map_onto_probabilities_in_steps_of_1_256() {
        assert_eq!(score_probability(-128), 0.0);
        assert_eq!(score_probability(0), 0.5);
        assert_eq!(score_probability(127), 255.0 / 256.0);
        assert_eq!(score_probability(128), 1.0);
        assert_eq!(std::format!("{:.4}", score_probability(-127)), "0.0039");
    }

    #[test]
    fn actions_print_in_lower_case() {
        let names = [Action::Allow, Action::Flag, Action::Block].map(Action::name);
        assert_eq!(names, ["allow", "flag", "block"]);
    }
    use proptest::prelude::*;
    use std::vec;
    use std::vec::Vec;

    /// The sums and count of `features` the plain way: each row widened to i32 and added.
    fn plain_sums(table: Table<'_>, features: &[u32]) -> ([i32; MAX_EMBEDDING_DIM], u32) {
        let mut sums = [0i32; MAX_EMBEDDING_DIM];
        let mut count = 0;
        for &bucket in features {
            if count >= MAX_FEATURES {
                break;
            }
            count += 1;
            let start = bucket as usize * table.dim;
            if let Some(row) = table.rows.get(start..start + table.dim) {
                for (sum, &w) in sums.iter_mut().zip(row) {
                    *sum += i32::from(w as i8);
                }
            }
        }
        (sums, count)
    }

    /// The sums and count of `features` through the bag's packed lanes, handed over one by one
    /// (`batch` 0) or in batches of `batch` (as the featurizer does per word).
    fn bag_sums(
        table: Table<'_>,
        features: &[u32],
        batch: usize,
    ) -> ([i32; MAX_EMBEDDING_DIM], u32) {
        let mut bag = Bag::new(4).unwrap();
        let mut adder = Adder {
            state: &mut bag.sink,
            table,
        };
        if batch == 0 {
            for &bucket in features {
                adder.feature(bucket);
            }
        } else {
            for chunk in features.chunks(batch) {
                adder.features(chunk);
            }
        }
        bag.sink.flush();
        (bag.sink.sums, bag.sink.count)
    }

    #[test]
    fn packed_sums_are_exact_at_the_feature_limit() {
        // The extreme rows, more features than counted: every lane flushes at its fullest.
        for dim in [16, 20] {
            let rows: Vec<u8> = [(-128i8) as u8, 127, 0, 1]
                .iter()
                .flat_map(|&v| core::iter::repeat_n(v, dim))
                .collect();
            let table = Table { rows: &rows, dim };
            for pattern in [&[0u32][..], &[1], &[0, 1, 1, 3, 2, 0, 0]] {
                let features: Vec<u32> = pattern.iter().copied().cycle().take(70_000).collect();
                for batch in [0, 1, 33] {
                    let (sums, count) = bag_sums(table, &features, batch);
                    assert_eq!((sums, count), plain_sums(table, &features));
                    assert_eq!(count, MAX_FEATURES);
                }
            }
            let all_low = vec![0u32; 70_000];
            assert_eq!(
                bag_sums(table, &all_low, 7).0[0],
                -128 * MAX_FEATURES as i32
            );
        }
    }

    proptest! {
        #[test]
        fn packed_sums_equal_plain_i32_sums(
            dim in prop_oneof![Just(8usize), Just(16), Just(32), 1usize..=70],
            seed in proptest::collection::vec(any::<u8>(), 1..64),
            features in proptest::collection::vec(0u32..20, 0..1200),
            batch in 0usize..40,
        ) {
            // 16 rows (buckets 16..20 are past the table: counted, nothing added).
            let rows: Vec<u8> = (0..16 * dim)
                .map(|i| seed[i % seed.len()].wrapping_mul(i as u8 | 1) ^ (i / seed.len()) as u8)
                .collect();
            let table = Table { rows: &rows, dim };
            prop_assert_eq!(bag_sums(table, &features, batch), plain_sums(table, &features));
        }

        #[test]
        fn tables_of_different_widths_in_one_bag_sum_exactly(
            first in proptest::collection::vec(0u32..16, 0..400),
            second in proptest::collection::vec(0u32..16, 0..400),
        ) {
            let rows: Vec<u8> = (0..16 * 12).map(|i| (i * 37 % 256) as u8).collect();
            let (wide, narrow) = (Table { rows: &rows, dim: 16 }, Table { rows: &rows, dim: 6 });
            let mut bag = Bag::new(4).unwrap();
            for (table, features) in [(wide, &first), (narrow, &second), (wide, &first)] {
                let mut adder = Adder { state: &mut bag.sink, table };
                let (batched, single) = features.split_at(features.len() / 2);
                adder.features(batched);
                for &bucket in single.iter() {
                    adder.feature(bucket);
                }
            }
            bag.sink.flush();
            let (a, _) = plain_sums(wide, &first);
            let (b, _) = plain_sums(narrow, &second);
            let expected: Vec<i32> = a.iter().zip(b).map(|(x, y)| 2 * x + y).collect();
            prop_assert_eq!(&bag.sink.sums[..], &expected[..]);
        }
    }

    /// Every row of a 16-bucket table is `[1, -2]`, so the mean is that row times the scales
    /// whatever the features; the shapes follow in bit order.
    #[test]
    fn bag_is_the_scaled_mean_then_the_shapes() {
        let rows: std::vec::Vec<u8> = (0..16).flat_map(|_| [1u8, (-2i8) as u8]).collect();
        let table = Table {
            rows: &rows,
            dim: 2,
        };
        let scales: std::vec::Vec<u8> = [0.5f32, 0.25]
            .iter()
            .flat_map(|s| s.to_le_bytes())
            .collect();
        let shapes = Shape::Caps.bit() | Shape::Email.bit() | Shape::Phone.bit();
        let mut bag = Bag::new(4).unwrap();
        bag.push(table, b"MAIL jane.doe@exam");
        bag.push(table, b"ple.com");
        let mut out = [0f32; 5];
        let count = bag.finish(table, &scales, shapes, &mut out).unwrap();
        assert!(count > 0);
        assert_eq!(out, [0.5, -0.5, 1.0, 1.0, 0.0]);
        // No features: zeros; a wrongly sized output is refused.
        let mut out = [9f32; 3];
        Bag::new(4)
            .unwrap()
            .finish(table, &scales, Shape::Bang.bit(), &mut out)
            .unwrap();
        assert_eq!(out, [0.0, 0.0, 0.0]);
        let mut short = [0f32; 2];
        assert_eq!(
            Bag::new(4)
                .unwrap()
                .finish(table, &scales, Shape::Bang.bit(), &mut short),
            Err(Error::InputLength)
        );
    }
}

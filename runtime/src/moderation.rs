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

#[derive(Debug, Clone)]
struct BagSink {
    sums: [i32; MAX_EMBEDDING_DIM],
    count: u32,
    shapes: u8,
}

/// The sums of a bag with the table it reads, as the featurizer's sink.
struct Adder<'s, 't> {
    state: &'s mut BagSink,
    table: Table<'t>,
}

impl FeatureSink for Adder<'_, '_> {
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
            for (sum, &w) in state.sums.iter_mut().zip(row) {
                *sum += i32::from(w as i8);
            }
        }
    }

    fn shape(&mut self, shape: Shape) {
        self.state.shapes |= shape.bit();
    }
}

impl Bag {
    /// An empty bag whose featurizer hashes into `2^bits` buckets.
    pub fn new(bits: u8) -> Result<Bag, Error> {
        Ok(Bag {
            featurizer: Featurizer::new(bits)?,
            sink: BagSink {
                sums: [0; MAX_EMBEDDING_DIM],
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
        let state = &self.sink;
        if out.len() != table.dim + shapes.count_ones() as usize || table.dim > MAX_EMBEDDING_DIM {
            return Err(Error::InputLength);
        }
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

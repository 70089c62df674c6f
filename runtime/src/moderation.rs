//! On-device moderation: text in, one decision per policy category out, no allocation.
//!
//! A moderation blob (`ModelKind::Moderation`, see `FORMAT.md`) holds an int8 MLP like any
//! other blob plus a [`ModerationSpec`] after its layers: the policy's id, version and hash,
//! the featurizer's bucket bits, an int8 embedding table with one f32 scale per column, and per
//! category its name, action and int8 threshold. [`Moderation::moderate`] streams the text
//! through the featurizer ([`crate::text`], the code the host trained with), sums the embedding
//! rows of the features (at most [`MAX_FEATURES`] of them: longer input is cut there, so the
//! work and the state stay bounded), takes their mean, quantises it, runs the MLP and compares
//! each category's score with its threshold.

use crate::manifest::Section;
use crate::model::SectionCheck;
use crate::text::{Featurizer, MAX_BUCKET_BITS, MIN_BUCKET_BITS};
use crate::{Error, Model};
use heapless::Vec;
use serde::{Deserialize, Serialize};

/// Longest embedding vector (the MLP's input) a moderation blob may have.
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
    /// int8 embedding table: `2^bucket_bits` rows of `input.len` values.
    pub embedding: Section,
    /// `input.len` little-endian f32 scales, one per embedding column.
    pub embedding_scales: Section,
    /// The categories, in the order of the model's outputs.
    #[serde(borrow)]
    pub categories: Vec<CategorySpec<'a>, MAX_CATEGORIES>,
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
            featurizer: Featurizer::new(self.spec.bucket_bits)?,
            sums: [0; MAX_EMBEDDING_DIM],
            count: 0,
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

    fn embedding(&self) -> Result<&'a [u8], Error> {
        self.model.section(self.spec.embedding)
    }
}

/// Moderation of one message in progress: bounded state, no allocation.
#[derive(Debug, Clone)]
pub struct Moderator<'m, 'a> {
    moderation: &'m Moderation<'a>,
    featurizer: Featurizer,
    sums: [i32; MAX_EMBEDDING_DIM],
    count: u32,
}

impl Moderator<'_, '_> {
    /// Feeds the next bytes of the message (any split gives the same verdict).
    pub fn push(&mut self, bytes: &[u8]) {
        let dim = self.moderation.model.input_len();
        let table = self.moderation.embedding().unwrap_or(&[]);
        let (sums, count) = (&mut self.sums, &mut self.count);
        let mut add = |bucket: u32| accumulate(table, dim, bucket, sums, count);
        self.featurizer.push(bytes, &mut add);
    }

    /// Ends the message: runs the model and decides. `arena` needs
    /// [`Moderation::arena_len`] bytes, `scores` one entry per category.
    pub fn finish(mut self, arena: &mut [u8], scores: &mut [i8]) -> Result<Verdict, Error> {
        let m = self.moderation;
        let dim = m.model.input_len();
        let table = m.embedding()?;
        {
            let (sums, count) = (&mut self.sums, &mut self.count);
            let mut add = |bucket: u32| accumulate(table, dim, bucket, sums, count);
            self.featurizer.finish(&mut add);
        }
        let scales = m.model.section(m.spec.embedding_scales)?;
        let mut mean = [0f32; MAX_EMBEDDING_DIM];
        if self.count > 0 {
            let n = self.count as f32;
            for ((x, &s), scale) in mean.iter_mut().zip(&self.sums).zip(le_f32s(scales)) {
                *x = s as f32 * scale / n;
            }
        }
        let mut input = [0i8; MAX_EMBEDDING_DIM];
        let features = mean.get(..dim).ok_or(Error::InputLength)?;
        let input = input.get_mut(..dim).ok_or(Error::InputLength)?;
        m.model.quantize_input(features, input)?;
        m.model.run(input, arena, scores)?;
        let mut verdict = Verdict {
            action: Action::Allow,
            categories: 0,
            features: self.count,
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

/// Adds embedding row `bucket` to `sums`, unless [`MAX_FEATURES`] were counted already.
fn accumulate(
    table: &[u8],
    dim: usize,
    bucket: u32,
    sums: &mut [i32; MAX_EMBEDDING_DIM],
    count: &mut u32,
) {
    if *count >= MAX_FEATURES {
        return;
    }
    *count += 1;
    let start = bucket as usize * dim;
    if let Some(row) = table.get(start..start + dim) {
        for (sum, &w) in sums.iter_mut().zip(row) {
            *sum += i32::from(w as i8);
        }
    }
}

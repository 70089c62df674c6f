//! On-device recommendations: a user's item history in, the top-k items out, no allocation.
//!
//! A recommender blob (`ModelKind::Recommender`, see `FORMAT.md`) holds the two-tower model's
//! **user tower** as an int8 MLP like any other blob, plus a [`RecommenderSpec`] after its
//! layers with what the device needs around it: the int8 item embedding table the user
//! features are built from (one scale for the table), every item's type, the int8 **item
//! table** (the item tower's unit outputs, one scale for the table) and the item ids.
//!
//! [`Recommender::recommend`] aggregates the history into user features (mean embedding of the
//! last `recent` items, mean per item type, type shares, `ln(1 + history length) / 5`, exactly
//! as the host trained on), quantises them, runs the user tower, scores every item with an int8
//! dot product against the user vector and keeps the best `K` in a fixed-size sorted array,
//! skipping the excluded (already consumed) items.
//!
//! The scoring loop runs the int8 dot product kernels of [`crate::kernels::dot`] (Armv7E-M
//! DSP, Helium, AVX2 or portable) over blocks of [`SCORE_BLOCK`] rows.

use crate::kernels;
use crate::manifest::Section;
use crate::model::SectionCheck;
use crate::{Error, Model};
use serde::{Deserialize, Serialize};

/// Widest item embedding (the HGNN output) a recommender blob may have.
pub const MAX_REC_EMBEDDING: usize = 64;
/// Most item types a recommender blob may have.
pub const MAX_REC_TYPES: usize = 8;
/// Widest user and item vectors (the towers' output) a recommender blob may have.
pub const MAX_REC_OUTPUT: usize = 64;
/// Longest user feature vector: `d · (1 + t) + t + 1` at the largest `d` and `t`.
pub const MAX_USER_FEATURES: usize = MAX_REC_EMBEDDING * (1 + MAX_REC_TYPES) + MAX_REC_TYPES + 1;
/// Most items a recommender blob may hold.
pub const MAX_ITEMS: u32 = 1 << 20;
/// Longest user window (`recent`).
pub const MAX_RECENT: u16 = 1024;
/// Items scored per kernel call (the scores sit on the stack: 4 bytes each).
pub const SCORE_BLOCK: usize = 64;

/// Everything a recommender blob adds to the user tower's MLP blob; encoded after the layers.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct RecommenderSpec {
    /// Number of items `N` (rows of both tables).
    pub items: u32,
    /// Width `d` of the item embeddings the user features are built from.
    pub embedding_dim: u32,
    /// Number of item types `t`.
    pub types: u8,
    /// The user features see the last `recent` items of the history.
    pub recent: u16,
    /// int8 item embeddings: `N` rows of `d`; real value `embedding_scale · q`.
    pub embedding: Section,
    /// Scale of the whole embedding table (finite, `> 0`).
    pub embedding_scale: f32,
    /// `N` bytes: each item's type, `< t`.
    pub item_types: Section,
    /// int8 item table: `N` rows of `output.len` (the item tower's unit outputs); real value
    /// `item_table_scale · q`.
    pub item_table: Section,
    /// Scale of the whole item table (finite, `> 0`).
    pub item_table_scale: f32,
    /// `N` little-endian u32 item ids, strictly increasing (row `r` is item `item_ids[r]`).
    pub item_ids: Section,
}

/// One recommended item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub struct Recommendation {
    /// The item's id.
    pub item: u32,
    /// Its int8 score: `Σ_k (u_k − zero_point) · v_k`, proportional to the cosine of the user
    /// and item vectors (higher is better).
    pub score: i32,
}

/// Length of the user feature vector for embedding width `d` and `t` item types.
pub const fn user_feature_len(d: usize, t: usize) -> usize {
    d * (1 + t) + t + 1
}

/// Checks a decoded spec against the blob and the model's shapes (called by `Model::parse`).
pub(crate) fn validate_spec(
    spec: &RecommenderSpec,
    input_len: u32,
    output_len: u32,
    sections: &SectionCheck<'_>,
) -> Result<(), Error> {
    let (d, t) = (spec.embedding_dim as usize, spec.types as usize);
    if spec.items == 0
        || spec.items > MAX_ITEMS
        || d == 0
        || d > MAX_REC_EMBEDDING
        || t == 0
        || t > MAX_REC_TYPES
        || output_len as usize > MAX_REC_OUTPUT
        || input_len as usize != user_feature_len(d, t)
    {
        return Err(Error::BadDimension);
    }
    if spec.recent == 0 || spec.recent > MAX_RECENT {
        return Err(Error::BadRecommenderSpec);
    }
    for scale in [spec.embedding_scale, spec.item_table_scale] {
        if !(scale.is_finite() && scale > 0.0) {
            return Err(Error::BadQuantParams);
        }
    }
    let n = spec.items;
    let embedding = n.checked_mul(d as u32).ok_or(Error::BadDimension)?;
    sections.check(spec.embedding, embedding, 1)?;
    let table = n.checked_mul(output_len).ok_or(Error::BadDimension)?;
    sections.check(spec.item_table, table, 1)?;
    let types = sections.check(spec.item_types, n, 1)?;
    if types.iter().any(|&ty| ty >= spec.types) {
        return Err(Error::BadRecommenderSpec);
    }
    let ids = sections.check(spec.item_ids, n, 4)?;
    let mut previous: Option<u32> = None;
    for id in kernels::le_i32s(ids).map(|v| v as u32) {
        if previous.is_some_and(|p| id <= p) {
            return Err(Error::BadRecommenderSpec);
        }
        previous = Some(id);
    }
    Ok(())
}

/// A parsed recommender blob.
#[derive(Debug, Clone)]
pub struct Recommender<'a> {
    model: Model<'a>,
    spec: RecommenderSpec,
    embedding: &'a [i8],
    item_types: &'a [u8],
    item_table: &'a [i8],
    item_ids: &'a [u8],
}

impl<'a> Recommender<'a> {
    /// Parses and validates a recommender blob ([`Error::UnsupportedModelKind`] for other
    /// kinds).
    pub fn parse(blob: &'a [u8]) -> Result<Recommender<'a>, Error> {
        let model = Model::parse(blob)?;
        let spec = model
            .recommender_spec()?
            .ok_or(Error::UnsupportedModelKind)?;
        Ok(Recommender {
            embedding: kernels::bytes_as_i8(model.section(spec.embedding)?),
            item_types: model.section(spec.item_types)?,
            item_table: kernels::bytes_as_i8(model.section(spec.item_table)?),
            item_ids: model.section(spec.item_ids)?,
            model,
            spec,
        })
    }

    /// The tables' shapes and scales.
    pub fn spec(&self) -> &RecommenderSpec {
        &self.spec
    }

    /// The user tower.
    pub fn model(&self) -> &Model<'a> {
        &self.model
    }

    /// Number of items scored.
    pub fn items(&self) -> usize {
        self.spec.items as usize
    }

    /// Bytes of scratch memory [`Recommender::recommend`] needs (the user tower's arena).
    pub fn arena_len(&self) -> usize {
        self.model.arena_len()
    }

    /// The id of the item in row `row`.
    pub fn item_id(&self, row: usize) -> Option<u32> {
        let bytes = self.item_ids.get(4 * row..4 * row + 4)?;
        Some(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }

    /// The row of item `id` (binary search over the sorted ids), `None` if the blob lacks it.
    pub fn row_of(&self, id: u32) -> Option<usize> {
        let (mut lo, mut hi) = (0usize, self.items());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.item_id(mid)? {
                m if m < id => lo = mid + 1,
                m if m > id => hi = mid,
                _ => return Some(mid),
            }
        }
        None
    }

    /// The user features for `history` (item ids, oldest first) into `out`
    /// ([`user_feature_len`] long). Ids the blob does not hold are ignored.
    pub fn user_features(&self, history: &[u32], out: &mut [f32]) -> Result<(), Error> {
        let (d, t) = (self.spec.embedding_dim as usize, self.spec.types as usize);
        let out = out
            .get_mut(..user_feature_len(d, t))
            .ok_or(Error::InputLength)?;
        out.fill(0.0);
        let mut all = [0i32; MAX_REC_EMBEDDING];
        let mut per_type = [[0i32; MAX_REC_EMBEDDING]; MAX_REC_TYPES];
        let mut counts = [0u32; MAX_REC_TYPES];
        let known = history.iter().filter_map(|&id| self.row_of(id));
        let length = known.clone().count();
        let mut in_window = 0u32;
        for row in known.skip(length.saturating_sub(self.spec.recent as usize)) {
            let ty = usize::from(*self.item_types.get(row).ok_or(Error::ShapeMismatch)?);
            let embedding = self
                .embedding
                .get(row * d..(row + 1) * d)
                .ok_or(Error::ShapeMismatch)?;
            let sums = per_type.get_mut(ty).ok_or(Error::ShapeMismatch)?;
            for ((a, s), &e) in all.iter_mut().zip(sums.iter_mut()).zip(embedding) {
                *a += i32::from(e);
                *s += i32::from(e);
            }
            if let Some(c) = counts.get_mut(ty) {
                *c += 1;
            }
            in_window += 1;
        }
        let scale = self.spec.embedding_scale;
        let (means, rest) = out.split_at_mut(d * (1 + t));
        let mut chunks = means.chunks_exact_mut(d);
        if let Some(mean) = chunks.next() {
            if in_window > 0 {
                for (x, &s) in mean.iter_mut().zip(&all) {
                    *x = s as f32 * scale / in_window as f32;
                }
            }
        }
        for ((mean, sums), &n) in chunks.zip(&per_type).zip(&counts) {
            if n > 0 {
                for (x, &s) in mean.iter_mut().zip(sums) {
                    *x = s as f32 * scale / n as f32;
                }
            }
        }
        for (share, &n) in rest.iter_mut().zip(&counts[..t]) {
            *share = n as f32 / in_window.max(1) as f32;
        }
        if let Some(last) = rest.last_mut() {
            *last = libm::logf(1.0 + length as f32) / 5.0;
        }
        Ok(())
    }

    /// Recommends the best `K` items for `history` (item ids, oldest first) into `top` (best
    /// first; equal scores keep the lower row first), skipping the items of `exclude` (for
    /// example the history itself). `arena` needs [`Recommender::arena_len`] bytes. Items of
    /// `history` the blob does not hold are ignored. The two steps, [`Recommender::user_vector`]
    /// and [`Recommender::top_k`], are public so a caller can time them apart.
    pub fn recommend<const K: usize>(
        &self,
        history: &[u32],
        exclude: &[u32],
        arena: &mut [u8],
        top: &mut heapless::Vec<Recommendation, K>,
    ) -> Result<(), Error> {
        top.clear();
        let mut user = [0i8; MAX_REC_OUTPUT];
        let user = user
            .get_mut(..self.model.output_len())
            .ok_or(Error::OutputLength)?;
        self.user_vector(history, arena, user)?;
        self.top_k(user, exclude, top)
    }

    /// The int8 user vector for `history` (the user tower's output, [`Model::output_len`]
    /// values, into `user`): user features, quantised, through the tower. `arena` needs
    /// [`Recommender::arena_len`] bytes.
    pub fn user_vector(
        &self,
        history: &[u32],
        arena: &mut [u8],
        user: &mut [i8],
    ) -> Result<(), Error> {
        let (d, t) = (self.spec.embedding_dim as usize, self.spec.types as usize);
        let len = user_feature_len(d, t);
        let mut features = [0f32; MAX_USER_FEATURES];
        let features = features.get_mut(..len).ok_or(Error::InputLength)?;
        self.user_features(history, features)?;
        let mut input = [0i8; MAX_USER_FEATURES];
        let input = input.get_mut(..len).ok_or(Error::InputLength)?;
        self.model.quantize_input(features, input)?;
        self.model.run(input, arena, user)
    }

    /// Scores every item against the int8 `user` vector (from [`Recommender::user_vector`])
    /// with the SIMD dot product ([`kernels::dot`]) and keeps the best `K` in `top` (best
    /// first; equal scores keep the lower row first), skipping the items of `exclude`.
    pub fn top_k<const K: usize>(
        &self,
        user: &[i8],
        exclude: &[u32],
        top: &mut heapless::Vec<Recommendation, K>,
    ) -> Result<(), Error> {
        top.clear();
        if user.len() != self.model.output_len() {
            return Err(Error::OutputLength);
        }
        let query = kernels::dot::Query::new(user, self.model.output_quant().zero_point)?;
        if K == 0 {
            return Ok(());
        }
        let out_len = query.len();
        let mut scores = [0i32; SCORE_BLOCK];
        let mut first_row = 0usize;
        let mut floor = i32::MIN;
        for block in self.item_table.chunks(SCORE_BLOCK * out_len) {
            let rows = block.len() / out_len;
            let scores = scores.get_mut(..rows).ok_or(Error::ShapeMismatch)?;
            kernels::dot::scores(&query, block, scores);
            // Most items fall at or below the worst kept score (`floor`): a tight scan skips
            // them, one compare each. (`floor` is `i32::MIN` until `top` fills, which no score
            // reaches: |score| < 2^22.)
            let mut k = 0usize;
            while let Some(found) = scores
                .get(k..)
                .and_then(|rest| rest.iter().position(|&score| score > floor))
            {
                k += found;
                let score = scores.get(k).copied().ok_or(Error::ShapeMismatch)?;
                let id = self.item_id(first_row + k).ok_or(Error::ShapeMismatch)?;
                k += 1;
                if exclude.contains(&id) {
                    continue;
                }
                if top.is_full() {
                    top.pop();
                }
                let at = top
                    .iter()
                    .position(|r| r.score < score)
                    .unwrap_or(top.len());
                // Cannot fail: there is room after the pop.
                top.insert(at, Recommendation { item: id, score })
                    .map_err(|_| Error::OutputLength)?;
                if top.is_full() {
                    floor = top.last().map_or(i32::MIN, |worst| worst.score);
                }
            }
            first_row += rows;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn feature_length_matches_the_host() {
        assert_eq!(user_feature_len(2, 2), 9);
        assert_eq!(user_feature_len(32, 3), 132);
        assert!(user_feature_len(32, 3) <= MAX_USER_FEATURES);
    }
}

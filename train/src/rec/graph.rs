//! The item co-interaction graph and the node features.
//!
//! Two items are joined when one user consumed both close together: within
//! [`GraphConfig::window_secs`] seconds and [`GraphConfig::max_steps`] positions of each other
//! in the user's time-ordered history. An edge's weight is how many times that happened; its
//! **edge type** is the unordered pair of the items' types (music–music, music–audiobook, ...).
//! For message passing every node keeps its neighbours grouped by the neighbour's type, so the
//! relation "a node of type a hears from neighbours of type b" is a contiguous slice.
//!
//! Node features are a signed hashed bag of the item text's words in a fixed dimension (L2
//! normalised) followed by a one-hot of the item type.

use super::data::{Catalog, Interaction};
use crate::prng::Rng;
use crate::tape::Matrix;

/// How co-interactions are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GraphConfig {
    /// Two interactions at most this many seconds apart may form an edge.
    pub window_secs: i64,
    /// ... and at most this many positions apart in the user's history.
    pub max_steps: usize,
    /// Edges seen fewer times than this are dropped.
    pub min_count: u32,
}

impl Default for GraphConfig {
    /// Thirty minutes, five steps, every edge kept.
    fn default() -> Self {
        GraphConfig {
            window_secs: 1800,
            max_steps: 5,
            min_count: 1,
        }
    }
}

/// An undirected weighted edge between items `a < b`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CoEdge {
    /// The smaller item index.
    pub a: u32,
    /// The larger item index.
    pub b: u32,
    /// Number of co-interactions.
    pub count: u32,
}

/// Index of the unordered type pair `{ta, tb}` among the `T (T + 1) / 2` edge types, ordered
/// (0,0), (0,1), ..., (0,T-1), (1,1), ...
pub fn edge_type_index(num_types: usize, ta: u8, tb: u8) -> usize {
    let (a, b) = if ta <= tb { (ta, tb) } else { (tb, ta) };
    let (a, b) = (a as usize, b as usize);
    // Pairs (i, j >= i) for i < a come first: T - i of them for each i.
    a * num_types - a * a.saturating_sub(1) / 2 + (b - a)
}

/// The co-interaction graph over the items of a [`Catalog`].
#[derive(Debug, Clone, PartialEq)]
pub struct CoGraph {
    /// Number of item types.
    pub num_types: usize,
    /// Type of every node (item).
    pub node_type: Vec<u8>,
    /// Every edge once, sorted by `(a, b)`.
    pub edges: Vec<CoEdge>,
    /// `offsets[v * T + t]..offsets[v * T + t + 1]` indexes `v`'s neighbours of type `t`.
    offsets: Vec<usize>,
    neighbors: Vec<u32>,
    weights: Vec<u32>,
}

/// Pair keys `(a << 32) | b` with `a < b`, of co-interactions in time-ordered histories.
fn co_interaction_keys<'a>(
    histories: impl Iterator<Item = &'a [Interaction]>,
    config: &GraphConfig,
) -> Vec<u64> {
    let mut keys = Vec::new();
    for seq in histories {
        for (i, x) in seq.iter().enumerate() {
            for y in seq.iter().skip(i + 1).take(config.max_steps) {
                if y.timestamp - x.timestamp > config.window_secs {
                    break;
                }
                if x.item != y.item {
                    let (a, b) = (x.item.min(y.item), x.item.max(y.item));
                    keys.push((u64::from(a) << 32) | u64::from(b));
                }
            }
        }
    }
    keys
}

impl CoGraph {
    /// Builds the graph from users' time-ordered histories (e.g. the training part of a split).
    pub fn from_histories<'a>(
        node_type: Vec<u8>,
        num_types: usize,
        histories: impl Iterator<Item = &'a [Interaction]>,
        config: &GraphConfig,
    ) -> CoGraph {
        let mut keys = co_interaction_keys(histories, config);
        keys.sort_unstable();
        let mut edges = Vec::new();
        for run in keys.chunk_by(|x, y| x == y) {
            let count = run.len() as u32;
            if count >= config.min_count {
                edges.push(CoEdge {
                    a: (run[0] >> 32) as u32,
                    b: run[0] as u32,
                    count,
                });
            }
        }
        CoGraph::from_edges(node_type, num_types, edges)
    }

    /// Builds the adjacency from an edge list (each edge once, `a < b`, any order).
    pub fn from_edges(node_type: Vec<u8>, num_types: usize, mut edges: Vec<CoEdge>) -> CoGraph {
        edges.sort_unstable();
        let n = node_type.len();
        let slot = |v: u32, t: u8| v as usize * num_types + t as usize;
        let mut counts = vec![0usize; n * num_types + 1];
        for e in &edges {
            counts[slot(e.a, node_type[e.b as usize]) + 1] += 1;
            counts[slot(e.b, node_type[e.a as usize]) + 1] += 1;
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        let offsets = counts;
        let mut fill = offsets.clone();
        let mut neighbors = vec![0u32; 2 * edges.len()];
        let mut weights = vec![0u32; 2 * edges.len()];
        for e in &edges {
            for (v, u) in [(e.a, e.b), (e.b, e.a)] {
                let s = slot(v, node_type[u as usize]);
                neighbors[fill[s]] = u;
                weights[fill[s]] = e.count;
                fill[s] += 1;
            }
        }
        CoGraph {
            num_types,
            node_type,
            edges,
            offsets,
            neighbors,
            weights,
        }
    }

    /// Number of nodes.
    pub fn num_nodes(&self) -> usize {
        self.node_type.len()
    }

    /// Number of edge types (unordered type pairs).
    pub fn num_edge_types(&self) -> usize {
        self.num_types * (self.num_types + 1) / 2
    }

    /// The edge type of an edge.
    pub fn edge_type(&self, e: &CoEdge) -> usize {
        edge_type_index(
            self.num_types,
            self.node_type[e.a as usize],
            self.node_type[e.b as usize],
        )
    }

    /// The type pair of an edge type index.
    pub fn edge_type_pair(&self, index: usize) -> (u8, u8) {
        let mut k = 0;
        for a in 0..self.num_types as u8 {
            for b in a..self.num_types as u8 {
                if k == index {
                    return (a, b);
                }
                k += 1;
            }
        }
        panic!("edge type {index} out of range");
    }

    /// `v`'s neighbours of type `t` and the edge weights, in ascending neighbour order.
    pub fn neighbors(&self, v: u32, t: u8) -> (&[u32], &[u32]) {
        let s = v as usize * self.num_types + t as usize;
        let range = self.offsets[s]..self.offsets[s + 1];
        (&self.neighbors[range.clone()], &self.weights[range])
    }

    /// Number of neighbours of `v` over all types.
    pub fn degree(&self, v: u32) -> usize {
        let s = v as usize * self.num_types;
        self.offsets[s + self.num_types] - self.offsets[s]
    }

    /// Per edge type: number of edges and total weight.
    pub fn edge_type_stats(&self) -> Vec<(usize, u64)> {
        let mut stats = vec![(0usize, 0u64); self.num_edge_types()];
        for e in &self.edges {
            let s = &mut stats[self.edge_type(e)];
            s.0 += 1;
            s.1 += u64::from(e.count);
        }
        stats
    }

    /// The edges grouped by edge type.
    pub fn edges_by_type(&self) -> Vec<Vec<CoEdge>> {
        let mut out = vec![Vec::new(); self.num_edge_types()];
        for e in &self.edges {
            out[self.edge_type(e)].push(*e);
        }
        out
    }

    /// Splits the edges into (kept, held out): a fraction `held_out` of every edge type,
    /// chosen by a seeded shuffle, e.g. to measure link prediction on unseen edges.
    pub fn split_edges(&self, held_out: f64, seed: u64) -> (Vec<CoEdge>, Vec<CoEdge>) {
        let mut rng = Rng::new(seed);
        let (mut kept, mut test) = (Vec::new(), Vec::new());
        for mut group in self.edges_by_type() {
            rng.shuffle(&mut group);
            let n_test = (held_out * group.len() as f64).round() as usize;
            test.extend_from_slice(&group[..n_test]);
            kept.extend_from_slice(&group[n_test..]);
        }
        (kept, test)
    }
}

/// FNV-1a, 64 bits: a fixed, dependency-free hash so features are stable across runs.
fn fnv1a(bytes: impl Iterator<Item = u8>) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Signed hashed bag of words of `text` into `dim` buckets, L2-normalised (zeros if no word).
///
/// Words are maximal runs of alphanumeric characters, lower-cased.
pub fn hashed_bag_of_words(text: &str, dim: usize, out: &mut [f64]) {
    assert_eq!(out.len(), dim, "hashed_bag_of_words: output length");
    out.fill(0.0);
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let h = fnv1a(word.chars().flat_map(char::to_lowercase).flat_map(|c| {
            let mut b = [0u8; 4];
            let s = c.encode_utf8(&mut b);
            s.as_bytes().to_vec()
        }));
        let sign = if h >> 63 == 1 { -1.0 } else { 1.0 };
        out[(h % dim as u64) as usize] += sign;
    }
    let norm = out.iter().map(|v| v * v).sum::<f64>().sqrt();
    if norm > 0.0 {
        out.iter_mut().for_each(|v| *v /= norm);
    }
}

/// Node features: `dim` hashed bag-of-words columns of the item text, then a type one-hot;
/// one row per item.
pub fn text_features(catalog: &Catalog, dim: usize) -> Matrix {
    let t = catalog.num_types();
    let cols = dim + t;
    let mut m = Matrix::zeros(catalog.len(), cols);
    for i in 0..catalog.len() {
        let row = &mut m.data[i * cols..(i + 1) * cols];
        hashed_bag_of_words(&catalog.item_text[i], dim, &mut row[..dim]);
        row[dim + catalog.item_type[i] as usize] = 1.0;
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    fn x(user: u32, item: u32, timestamp: i64) -> Interaction {
        Interaction {
            user,
            item,
            timestamp,
            weight: 1.0,
        }
    }

    #[test]
    fn edge_type_indices_enumerate_pairs() {
        let mut k = 0;
        for a in 0..3u8 {
            for b in a..3u8 {
                assert_eq!(edge_type_index(3, a, b), k);
                assert_eq!(edge_type_index(3, b, a), k);
                k += 1;
            }
        }
        assert_eq!(k, 6);
        assert_eq!(edge_type_index(1, 0, 0), 0);
    }

    #[test]
    fn window_and_counts() {
        // Items 0, 1 music; 2 podcast; 3 audiobook.
        let types = vec![0, 0, 1, 2];
        let u0 = [x(0, 0, 0), x(0, 1, 100), x(0, 2, 200), x(0, 3, 5000)];
        let u1 = [x(1, 1, 0), x(1, 0, 50), x(1, 1, 60)];
        let g = CoGraph::from_histories(
            types,
            3,
            [&u0[..], &u1[..]].into_iter(),
            &GraphConfig {
                window_secs: 1000,
                max_steps: 5,
                min_count: 1,
            },
        );
        // (0,1): u0 once, u1 twice (1-0 and 0-1; 1-1 is a self pair, skipped). (0,2), (1,2).
        // Item 3 is outside every window.
        let e: Vec<(u32, u32, u32)> = g.edges.iter().map(|e| (e.a, e.b, e.count)).collect();
        assert_eq!(e, [(0, 1, 3), (0, 2, 1), (1, 2, 1)]);
        assert_eq!(g.neighbors(0, 0), (&[1u32][..], &[3u32][..]));
        assert_eq!(g.neighbors(0, 1).0, &[2]);
        assert_eq!(g.neighbors(2, 0).0, &[0, 1]);
        assert_eq!(g.degree(3), 0);
        let stats = g.edge_type_stats();
        assert_eq!(stats[edge_type_index(3, 0, 0)], (1, 3));
        assert_eq!(stats[edge_type_index(3, 0, 1)], (2, 2));
        assert_eq!(g.edge_type_pair(edge_type_index(3, 1, 2)), (1, 2));
        let (kept, test) = g.split_edges(0.5, 1);
        assert_eq!(kept.len() + test.len(), 3);
    }

    #[test]
    fn bag_of_words_is_normalised_and_case_blind() {
        let mut a = vec![0.0; 16];
        let mut b = vec![0.0; 16];
        hashed_bag_of_words("Calm piano, calm NIGHT", 16, &mut a);
        hashed_bag_of_words("calm night calm piano", 16, &mut b);
        assert_eq!(a, b);
        assert!((a.iter().map(|v| v * v).sum::<f64>() - 1.0).abs() < 1e-12);
        let mut z = vec![1.0; 4];
        hashed_bag_of_words(" ,, ", 4, &mut z);
        assert!(z.iter().all(|v| *v == 0.0));
    }
}

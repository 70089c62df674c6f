//! The multi-link neighbour sampler: for each node and **each edge type** it draws up to `k`
//! neighbours, so a rare relation (an audiobook's podcast neighbours, say) is represented even
//! when the node has hundreds of music neighbours that a plain per-node sampler would pick
//! instead.
//!
//! The edge type of a (target, neighbour) pair is the pair of their item types; since the
//! target's type is fixed, sampling per neighbour type samples per edge type. Within one edge
//! type, `k` neighbours are drawn without replacement with probability proportional to the
//! co-interaction count (Efraimidis–Spirakis keys `u^(1/w)`); a node with at most `k` such
//! neighbours keeps them all.
//!
//! A minibatch is a stack of [`Block`]s (GraphSAGE's "sampled subgraph"): the targets of the
//! last block are the seeds; the targets of each block are the first rows of its sources, so
//! a layer's self term reads the prefix of the previous layer's output.

use super::graph::CoGraph;
use super::ops::Segments;
use crate::prng::Rng;
use std::collections::HashMap;

/// One message-passing step: targets hear from sampled neighbours, grouped by neighbour type.
#[derive(Debug, Clone, PartialEq)]
pub struct Block {
    /// Number of target rows; they are the first `num_targets` source rows.
    pub num_targets: usize,
    /// Item type of each target.
    pub target_type: Vec<u8>,
    /// Per neighbour type: for each target, the source rows of its sampled neighbours.
    pub by_type: Vec<Segments>,
}

/// The sampled computation graph of a minibatch.
#[derive(Debug, Clone, PartialEq)]
pub struct Subgraph {
    /// Node ids of the first block's source rows (whose input features are read).
    pub input_nodes: Vec<u32>,
    /// Blocks, first layer first; the last block's targets are the seeds, in order.
    pub blocks: Vec<Block>,
}

/// Draws up to `k` of `v`'s neighbours of type `t` (all of them if there are at most `k`),
/// weighted by co-interaction count, without replacement; appends them to `out`.
pub fn sample_neighbors(
    graph: &CoGraph,
    v: u32,
    t: u8,
    k: usize,
    rng: &mut Rng,
    out: &mut Vec<u32>,
) {
    let (neighbors, weights) = graph.neighbors(v, t);
    if neighbors.len() <= k {
        out.extend_from_slice(neighbors);
        return;
    }
    if k == 0 {
        return;
    }
    // Largest keys u^(1/w), compared as ln(u) / w.
    let mut keyed: Vec<(f64, u32)> = neighbors
        .iter()
        .zip(weights)
        .map(|(&u, &w)| ((1.0 - rng.next_f64()).ln() / f64::from(w.max(1)), u))
        .collect();
    keyed.select_nth_unstable_by(k - 1, |a, b| b.0.total_cmp(&a.0));
    out.extend(keyed[..k].iter().map(|&(_, u)| u));
}

/// Samples per-edge-type neighbourhoods, `fanouts[l]` neighbours per edge type in layer `l`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NeighborSampler {
    /// Neighbours per edge type, first layer first (one entry per layer).
    pub fanouts: Vec<usize>,
}

impl NeighborSampler {
    /// The sampled subgraph that computes the last layer's output for `seeds` (distinct nodes).
    pub fn sample(&self, graph: &CoGraph, seeds: &[u32], rng: &mut Rng) -> Subgraph {
        let t = graph.num_types;
        let mut nodes: Vec<u32> = seeds.to_vec();
        let mut blocks = Vec::with_capacity(self.fanouts.len());
        let mut picked = Vec::new();
        for &k in self.fanouts.iter().rev() {
            let num_targets = nodes.len();
            let mut position: HashMap<u32, usize> =
                nodes.iter().enumerate().map(|(i, &v)| (v, i)).collect();
            let mut by_type = vec![Segments::new(); t];
            for i in 0..num_targets {
                let v = nodes[i];
                for (b, segs) in by_type.iter_mut().enumerate() {
                    picked.clear();
                    sample_neighbors(graph, v, b as u8, k, rng, &mut picked);
                    for &u in &picked {
                        let p = *position.entry(u).or_insert_with(|| {
                            nodes.push(u);
                            nodes.len() - 1
                        });
                        segs.sources.push(p);
                    }
                    segs.close();
                }
            }
            let target_type = nodes[..num_targets]
                .iter()
                .map(|&v| graph.node_type[v as usize])
                .collect();
            blocks.push(Block {
                num_targets,
                target_type,
                by_type,
            });
        }
        blocks.reverse();
        Subgraph {
            input_nodes: nodes,
            blocks,
        }
    }
}

/// A block over the whole graph for layer-wise inference: every node is a target, source rows
/// are node ids, up to `k` neighbours per edge type.
pub fn full_block(graph: &CoGraph, k: usize, rng: &mut Rng) -> Block {
    let n = graph.num_nodes();
    let mut by_type = vec![Segments::new(); graph.num_types];
    let mut picked = Vec::new();
    for v in 0..n as u32 {
        for (b, segs) in by_type.iter_mut().enumerate() {
            picked.clear();
            sample_neighbors(graph, v, b as u8, k, rng, &mut picked);
            segs.sources.extend(picked.iter().map(|&u| u as usize));
            segs.close();
        }
    }
    Block {
        num_targets: n,
        target_type: graph.node_type.clone(),
        by_type,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rec::graph::CoEdge;

    /// A hub (node 0, music) with 40 music neighbours, 3 podcast neighbours and 1 audiobook
    /// neighbour; the neighbours also link among themselves a little.
    fn hub_graph() -> CoGraph {
        let mut types = vec![0u8];
        let mut edges = Vec::new();
        for i in 1..=44u32 {
            types.push(match i {
                1..=40 => 0,
                41..=43 => 1,
                _ => 2,
            });
            edges.push(CoEdge {
                a: 0,
                b: i,
                count: i,
            });
            if i > 1 {
                edges.push(CoEdge {
                    a: i - 1,
                    b: i,
                    count: 1,
                });
            }
        }
        CoGraph::from_edges(types, 3, edges)
    }

    #[test]
    fn caps_per_edge_type_are_respected_and_rare_types_kept() {
        let g = hub_graph();
        let sampler = NeighborSampler {
            fanouts: vec![2, 5],
        };
        let mut rng = Rng::new(1);
        let sub = sampler.sample(&g, &[0, 42], &mut rng);
        assert_eq!(sub.blocks.len(), 2);
        let last = &sub.blocks[1];
        assert_eq!(last.num_targets, 2);
        assert_eq!(last.target_type, [0, 1]);
        // The hub: 5 of 40 music, all 3 podcasts, its single audiobook.
        let hub_counts: Vec<usize> = last.by_type.iter().map(|s| s.segment(0).len()).collect();
        assert_eq!(hub_counts, [5, 3, 1]);
        for (l, block) in sub.blocks.iter().enumerate() {
            let cap = sampler.fanouts[l];
            for segs in &block.by_type {
                assert_eq!(segs.rows(), block.num_targets);
                for i in 0..segs.rows() {
                    let seg = segs.segment(i);
                    assert!(seg.len() <= cap);
                    // Without replacement.
                    let mut s = seg.to_vec();
                    s.sort_unstable();
                    s.dedup();
                    assert_eq!(s.len(), seg.len());
                }
            }
        }
        // Block sources map back to real neighbours of the right type.
        let first = &sub.blocks[0];
        let sources = &sub.input_nodes;
        for (b, segs) in first.by_type.iter().enumerate() {
            for i in 0..first.num_targets {
                // A block's targets are the first rows of its sources.
                let v = sources[i];
                for &p in segs.segment(i) {
                    let u = sources[p];
                    assert_eq!(g.node_type[u as usize] as usize, b);
                    assert!(g.neighbors(v, b as u8).0.contains(&u));
                }
            }
        }
        // Seeds come first.
        assert_eq!(&sub.input_nodes[..2], &[0, 42]);
    }

    #[test]
    fn deterministic_by_seed() {
        let g = hub_graph();
        let sampler = NeighborSampler {
            fanouts: vec![3, 3],
        };
        let a = sampler.sample(&g, &[0, 5, 44], &mut Rng::new(9));
        let b = sampler.sample(&g, &[0, 5, 44], &mut Rng::new(9));
        assert_eq!(a, b);
        let c = sampler.sample(&g, &[0, 5, 44], &mut Rng::new(10));
        assert_ne!(a, c);
        let fa = full_block(&g, 4, &mut Rng::new(2));
        assert_eq!(fa, full_block(&g, 4, &mut Rng::new(2)));
        assert_eq!(fa.by_type[0].segment(0).len(), 4);
    }

    #[test]
    fn sampling_follows_weights() {
        // Hub's music neighbour i has weight i: heavy neighbours are drawn far more often.
        let g = hub_graph();
        let mut rng = Rng::new(3);
        let mut hits = vec![0usize; 45];
        let mut out = Vec::new();
        for _ in 0..2000 {
            out.clear();
            sample_neighbors(&g, 0, 0, 3, &mut rng, &mut out);
            for &u in &out {
                hits[u as usize] += 1;
            }
        }
        let light: usize = hits[1..=10].iter().sum();
        let heavy: usize = hits[31..=40].iter().sum();
        assert!(heavy > 3 * light, "heavy {heavy} light {light}");
    }
}

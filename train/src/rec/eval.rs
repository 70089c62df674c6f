//! Offline evaluation of recommenders: the per-user time split, hit-rate@k and NDCG@k per item
//! type (overall and for cold-start users of the new type), and the baselines.
//!
//! Protocol: each user's last interactions (a fraction of their history, at least one, and
//! never the whole history) are held out. For a user and an item type, the candidates are all
//! items of that type the user has not consumed in the training part; the relevant items are
//! the held-out items of that type among them (new discoveries). A user counts for a type when
//! they have at least one relevant item of it. A **cold-start** user of the new type has
//! relevant items of it but no training interaction with it.
//!
//! - hit-rate@k: the fraction of users with at least one relevant item in their top k;
//! - NDCG@k: binary-relevance discounted gain of the top k over its ideal value, averaged.

use super::data::{Catalog, Interaction, RecData};
use super::RecError;
use crate::tape::Matrix;

/// The per-user time split.
#[derive(Debug, Clone, PartialEq)]
pub struct TimeSplit {
    /// Training interactions, grouped by user, time-ordered.
    pub train: Vec<Interaction>,
    /// Held-out interactions, grouped by user, time-ordered.
    pub test: Vec<Interaction>,
    train_at: Vec<usize>,
    test_at: Vec<usize>,
}

impl TimeSplit {
    /// Holds out the last `round(test_fraction * n)` of each user's `n` interactions, at least
    /// one and at most `n - 1` (a user with a single interaction keeps it for training).
    pub fn last_fraction(data: &RecData, test_fraction: f64) -> Result<TimeSplit, RecError> {
        if !(0.0..1.0).contains(&test_fraction) {
            return Err(RecError::Invalid(format!(
                "time split: test fraction {test_fraction} is not in [0, 1)"
            )));
        }
        let users = data.num_users();
        let mut split = TimeSplit {
            train: Vec::with_capacity(data.interactions.len()),
            test: Vec::new(),
            train_at: vec![0; users + 1],
            test_at: vec![0; users + 1],
        };
        let mut next_user = 0;
        for seq in data.by_user() {
            let u = seq[0].user as usize;
            while next_user <= u {
                split.train_at[next_user] = split.train.len();
                split.test_at[next_user] = split.test.len();
                next_user += 1;
            }
            let n = seq.len();
            let n_test = if n < 2 {
                0
            } else {
                ((test_fraction * n as f64).round() as usize).clamp(1, n - 1)
            };
            split.train.extend_from_slice(&seq[..n - n_test]);
            split.test.extend_from_slice(&seq[n - n_test..]);
        }
        while next_user <= users {
            split.train_at[next_user] = split.train.len();
            split.test_at[next_user] = split.test.len();
            next_user += 1;
        }
        Ok(split)
    }

    /// Number of users (including users without interactions).
    pub fn num_users(&self) -> usize {
        self.train_at.len() - 1
    }

    /// User `u`'s training history.
    pub fn user_train(&self, u: usize) -> &[Interaction] {
        &self.train[self.train_at[u]..self.train_at[u + 1]]
    }

    /// User `u`'s held-out interactions.
    pub fn user_test(&self, u: usize) -> &[Interaction] {
        &self.test[self.test_at[u]..self.test_at[u + 1]]
    }

    /// Every user's training history, in user order.
    pub fn train_histories(&self) -> impl Iterator<Item = &[Interaction]> {
        (0..self.num_users()).map(|u| self.user_train(u))
    }
}

/// Anything that scores candidate items for a user given their training history.
pub trait Scorer {
    /// Writes one score per candidate into `out` (cleared first); higher is better.
    fn score(&self, history: &[Interaction], candidates: &[u32], out: &mut Vec<f64>);
}

/// Popularity: the number of training interactions of each item, the same for every user.
#[derive(Debug, Clone, PartialEq)]
pub struct Popularity {
    counts: Vec<f64>,
}

impl Popularity {
    /// Counts the training interactions of every item.
    pub fn fit(split: &TimeSplit, num_items: usize) -> Popularity {
        let mut counts = vec![0.0; num_items];
        for x in &split.train {
            counts[x.item as usize] += f64::from(x.weight);
        }
        Popularity { counts }
    }
}

impl Scorer for Popularity {
    fn score(&self, _: &[Interaction], candidates: &[u32], out: &mut Vec<f64>) {
        out.clear();
        out.extend(candidates.iter().map(|&i| self.counts[i as usize]));
    }
}

/// A user is the mean embedding of their most recent training items; items are scored by the
/// dot product with it (with HGNN embeddings: "HGNN embeddings averaged, without two-tower").
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingAverage {
    /// One row per item.
    pub embeddings: Matrix,
    /// How many of the most recent items are averaged.
    pub recent: usize,
}

impl EmbeddingAverage {
    /// The user vector for a history (zeros for an empty history).
    pub fn user_vector(&self, history: &[Interaction]) -> Vec<f64> {
        let d = self.embeddings.cols;
        let mut u = vec![0.0; d];
        let recent = &history[history.len().saturating_sub(self.recent)..];
        for x in recent {
            for (a, b) in u.iter_mut().zip(self.embeddings.row(x.item as usize)) {
                *a += b;
            }
        }
        if !recent.is_empty() {
            u.iter_mut().for_each(|a| *a /= recent.len() as f64);
        }
        u
    }
}

impl Scorer for EmbeddingAverage {
    fn score(&self, history: &[Interaction], candidates: &[u32], out: &mut Vec<f64>) {
        let u = self.user_vector(history);
        out.clear();
        out.extend(candidates.iter().map(|&i| {
            self.embeddings
                .row(i as usize)
                .iter()
                .zip(&u)
                .map(|(a, b)| a * b)
                .sum::<f64>()
        }));
    }
}

/// Hit-rate and NDCG at k over a set of users.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct RankingMetrics {
    /// Users evaluated.
    pub users: usize,
    /// Mean hit-rate@k.
    pub hit_rate: f64,
    /// Mean NDCG@k.
    pub ndcg: f64,
}

impl RankingMetrics {
    fn add(&mut self, hit: f64, ndcg: f64) {
        self.users += 1;
        self.hit_rate += hit;
        self.ndcg += ndcg;
    }

    fn finish(mut self) -> Self {
        if self.users > 0 {
            self.hit_rate /= self.users as f64;
            self.ndcg /= self.users as f64;
        } else {
            self.hit_rate = f64::NAN;
            self.ndcg = f64::NAN;
        }
        self
    }
}

/// The metrics of one recommender.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalReport {
    /// Per item type.
    pub per_type: Vec<RankingMetrics>,
    /// Cold-start users of the new type, on the new type.
    pub cold_start: RankingMetrics,
}

/// What to evaluate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EvalConfig {
    /// Cut-off of the ranking.
    pub k: usize,
    /// The new item type, whose cold-start users get their own row.
    pub new_type: u8,
    /// At most this many users are evaluated (an even stride over the user ids).
    pub max_users: usize,
}

/// Positions of the top `k` scores, best first (ties broken by position, so deterministic).
pub fn top_k(scores: &[f64], k: usize) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    let better = |a: &usize, b: &usize| scores[*b].total_cmp(&scores[*a]).then(a.cmp(b));
    if k < idx.len() {
        idx.select_nth_unstable_by(k, better);
        idx.truncate(k);
    }
    idx.sort_by(better);
    idx
}

/// Hit (0 or 1) and NDCG of a ranked list against a set of relevant items.
pub fn hit_and_ndcg(ranked: &[u32], relevant: &[u32]) -> (f64, f64) {
    let mut dcg = 0.0;
    for (r, item) in ranked.iter().enumerate() {
        if relevant.contains(item) {
            dcg += 1.0 / (r as f64 + 2.0).log2();
        }
    }
    let ideal: f64 = (0..relevant.len().min(ranked.len()))
        .map(|r| 1.0 / (r as f64 + 2.0).log2())
        .sum();
    let hit = if dcg > 0.0 { 1.0 } else { 0.0 };
    (hit, if ideal > 0.0 { dcg / ideal } else { 0.0 })
}

/// Evaluates a scorer on the held-out interactions of `split`.
pub fn evaluate(
    scorer: &dyn Scorer,
    catalog: &Catalog,
    split: &TimeSplit,
    config: &EvalConfig,
) -> EvalReport {
    let types = catalog.num_types();
    let by_type: Vec<Vec<u32>> = (0..types as u8).map(|t| catalog.items_of_type(t)).collect();
    let mut per_type = vec![RankingMetrics::default(); types];
    let mut cold = RankingMetrics::default();
    let users = split.num_users();
    let stride = users.div_ceil(config.max_users.max(1)).max(1);
    // Generation stamps mark the current user's training items without clearing a set.
    let mut seen = vec![usize::MAX; catalog.len()];
    let (mut candidates, mut scores, mut relevant) = (Vec::new(), Vec::new(), Vec::new());
    for u in (0..users).step_by(stride) {
        let history = split.user_train(u);
        let test = split.user_test(u);
        if test.is_empty() {
            continue;
        }
        for x in history {
            seen[x.item as usize] = u;
        }
        for t in 0..types as u8 {
            relevant.clear();
            for x in test {
                let i = x.item;
                if catalog.item_type[i as usize] == t
                    && seen[i as usize] != u
                    && !relevant.contains(&i)
                {
                    relevant.push(i);
                }
            }
            if relevant.is_empty() {
                continue;
            }
            candidates.clear();
            candidates.extend(
                by_type[t as usize]
                    .iter()
                    .filter(|&&i| seen[i as usize] != u),
            );
            scorer.score(history, &candidates, &mut scores);
            let ranked: Vec<u32> = top_k(&scores, config.k)
                .into_iter()
                .map(|p| candidates[p])
                .collect();
            let (hit, ndcg) = hit_and_ndcg(&ranked, &relevant);
            per_type[t as usize].add(hit, ndcg);
            let cold_user = !history
                .iter()
                .any(|x| catalog.item_type[x.item as usize] == t);
            if t == config.new_type && cold_user {
                cold.add(hit, ndcg);
            }
        }
    }
    EvalReport {
        per_type: per_type.into_iter().map(RankingMetrics::finish).collect(),
        cold_start: cold.finish(),
    }
}

/// A Markdown table: one row per model, hit-rate@k and NDCG@k per type and for cold-start
/// users of the new type, then a line with the number of users behind each column.
pub fn markdown_table(
    catalog: &Catalog,
    config: &EvalConfig,
    rows: &[(String, EvalReport)],
) -> String {
    let k = config.k;
    let new_name = &catalog.type_names[config.new_type as usize];
    let mut head = String::from("| model |");
    let mut rule = String::from("|---|");
    for name in &catalog.type_names {
        head.push_str(&format!(" {name} HR@{k} | {name} NDCG@{k} |"));
        rule.push_str("---:|---:|");
    }
    head.push_str(&format!(
        " {new_name} cold-start HR@{k} | {new_name} cold-start NDCG@{k} |"
    ));
    rule.push_str("---:|---:|");
    let mut out = format!("{head}\n{rule}\n");
    for (name, report) in rows {
        out.push_str(&format!("| {name} |"));
        for m in report.per_type.iter().chain([&report.cold_start]) {
            out.push_str(&format!(" {:.3} | {:.3} |", m.hit_rate, m.ndcg));
        }
        out.push('\n');
    }
    if let Some((_, report)) = rows.first() {
        let counts: Vec<String> = report
            .per_type
            .iter()
            .zip(&catalog.type_names)
            .map(|(m, n)| format!("{n} {}", m.users))
            .collect();
        out.push_str(&format!(
            "\nUsers evaluated: {}; cold-start on {new_name} {}.\n",
            counts.join(", "),
            report.cold_start.users
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rec::simulate::{SimConfig, Simulator, NEW_TYPE};

    fn x(user: u32, item: u32, timestamp: i64) -> Interaction {
        Interaction {
            user,
            item,
            timestamp,
            weight: 1.0,
        }
    }

    #[test]
    fn split_holds_out_the_latest() {
        let mut catalog = Catalog::with_types(&["a"]);
        for i in 0..5 {
            catalog.push(&format!("i{i}"), "a", "");
        }
        let data = RecData::new(
            catalog,
            vec!["u0".into(), "u1".into(), "u2".into()],
            vec![x(0, 0, 5), x(0, 1, 1), x(0, 2, 3), x(0, 3, 4), x(2, 4, 0)],
        );
        let split = TimeSplit::last_fraction(&data, 0.5).unwrap();
        let items = |s: &[Interaction]| s.iter().map(|x| x.item).collect::<Vec<_>>();
        assert_eq!(items(split.user_train(0)), [1, 2]);
        assert_eq!(items(split.user_test(0)), [3, 0]);
        assert!(split.user_train(1).is_empty() && split.user_test(1).is_empty());
        assert_eq!(items(split.user_train(2)), [4]);
        assert!(split.user_test(2).is_empty());
        assert!(TimeSplit::last_fraction(&data, 1.0).is_err());
    }

    #[test]
    fn ranking_metrics() {
        assert_eq!(top_k(&[0.1, 0.9, 0.5, 0.9], 3), [1, 3, 2]);
        assert_eq!(top_k(&[0.1, 0.2], 5), [1, 0]);
        let (h, n) = hit_and_ndcg(&[7, 3, 5], &[3]);
        assert_eq!(h, 1.0);
        assert!((n - 1.0 / 3f64.log2()).abs() < 1e-12);
        assert_eq!(hit_and_ndcg(&[7, 3], &[3, 7]), (1.0, 1.0));
        assert_eq!(hit_and_ndcg(&[1, 2], &[9]), (0.0, 0.0));
    }

    #[test]
    fn baselines_on_the_simulator() {
        let sim = Simulator::new(SimConfig::for_users(600, 2)).unwrap();
        let data = sim.generate();
        let split = TimeSplit::last_fraction(&data, 0.2).unwrap();
        let config = EvalConfig {
            k: 10,
            new_type: NEW_TYPE,
            max_users: 10_000,
        };
        let pop = evaluate(
            &Popularity::fit(&split, data.catalog.len()),
            &data.catalog,
            &split,
            &config,
        );
        // An oracle that knows the topics: topic one-hot embeddings averaged.
        let topics = sim.item_topics();
        let mut oracle = Matrix::zeros(data.catalog.len(), 16);
        for (i, &t) in topics.iter().enumerate() {
            oracle.data[i * 16 + t as usize] = 1.0;
        }
        let oracle = evaluate(
            &EmbeddingAverage {
                embeddings: oracle,
                recent: 20,
            },
            &data.catalog,
            &split,
            &config,
        );
        assert!(pop.cold_start.users > 10, "{pop:?}");
        for m in pop.per_type.iter().chain([&pop.cold_start]) {
            assert!((0.0..=1.0).contains(&m.hit_rate) && m.ndcg <= m.hit_rate);
        }
        // Tastes span types, so knowing the topics beats popularity for cold-start users.
        assert!(
            oracle.cold_start.hit_rate > pop.cold_start.hit_rate,
            "{oracle:?} vs {pop:?}"
        );
        let table = markdown_table(&data.catalog, &config, &[("popularity".into(), pop)]);
        assert!(table.contains("| popularity |"));
        assert!(table.contains("audiobook cold-start HR@10"));
    }
}

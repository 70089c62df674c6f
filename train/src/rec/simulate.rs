//! A deterministic simulator of a platform with several item types.
//!
//! The world it simulates, in the spirit of the audiobook launch the 2T-HGNN papers describe:
//!
//! - three item types: `music` (many items, used by everyone), `podcast` (fewer items) and
//!   `audiobook`, a new sparse type that **launches** late in the horizon
//!   ([`SimConfig::launch_fraction`]) and that only some users adopt, each from their own
//!   adoption time on: many adopters therefore have audiobook interactions only at the end of
//!   their history, which a per-user time split turns into cold-start users for the new type;
//! - latent topics shared by all types: every item has a primary topic; every user has a taste
//!   (a mixture over a few topics) that drives what they consume **in every type**, which is
//!   what lets a model transfer from music and podcasts to audiobooks;
//! - item text generated from the item's topics: each topic owns a small vocabulary of
//!   made-up words, and a title mixes primary-topic words, one secondary-topic word, a generic
//!   word and a word marking the type;
//! - time-ordered sessions per user: a session has a main type and a current topic; each step
//!   may switch type (which creates cross-type co-interactions) or drift to another topic of
//!   the user's taste; within a (type, topic) bucket, items are picked with Zipf popularity.
//!
//! Every user draws from their own generator seeded by (seed, user index), so a user's history
//! does not depend on the others: generation streams user by user in constant memory (apart
//! from the item table) and one million interactions take about a second.

use super::data::{Catalog, Interaction, RecData};
use super::RecError;
use crate::prng::Rng;
use std::io::Write;
use std::path::Path;

/// The simulated item types, by type id.
pub const TYPE_NAMES: [&str; 3] = ["music", "podcast", "audiobook"];
/// Type id of the new, sparse type (audiobooks).
pub const NEW_TYPE: u8 = 2;

/// What the simulator generates.
#[derive(Debug, Clone, PartialEq)]
pub struct SimConfig {
    /// Number of users.
    pub users: usize,
    /// Items of each type of [`TYPE_NAMES`].
    pub items_per_type: [usize; 3],
    /// Number of latent topics.
    pub topics: usize,
    /// Size of each topic's vocabulary.
    pub words_per_topic: usize,
    /// Mean number of sessions per user (at least one).
    pub mean_sessions: f64,
    /// Mean number of interactions per session (at least one).
    pub mean_session_len: f64,
    /// Length of the simulated period in days.
    pub days: u32,
    /// When audiobooks launch, as a fraction of the period.
    pub launch_fraction: f64,
    /// Fraction of users who adopt audiobooks (each at a uniform time after the launch).
    pub adoption: f64,
    /// Probability that a step in a session switches to another available type.
    pub type_switch: f64,
    /// Probability that a step drifts to another topic of the user's taste.
    pub topic_drift: f64,
    /// Probability that a step picks a uniformly random item of the type (noise).
    pub noise: f64,
    /// Seed of everything.
    pub seed: u64,
}

impl SimConfig {
    /// The default world for `users` users: about 20 interactions per user, so 50,000 users
    /// give about one million interactions; item counts grow with the number of users.
    pub fn for_users(users: usize, seed: u64) -> SimConfig {
        SimConfig {
            users,
            items_per_type: [100 + users / 5, 60 + users / 12, 40 + users / 25],
            topics: 16,
            words_per_topic: 8,
            mean_sessions: 4.0,
            mean_session_len: 5.0,
            days: 90,
            launch_fraction: 0.7,
            adoption: 0.6,
            type_switch: 0.25,
            topic_drift: 0.2,
            noise: 0.05,
            seed,
        }
    }

    fn validate(&self) -> Result<(), RecError> {
        let bad = |what: &str| Err(RecError::Invalid(format!("simulator: {what}")));
        if self.users == 0 {
            return bad("need at least one user");
        }
        if self.topics == 0 || self.words_per_topic == 0 {
            return bad("need at least one topic and one word per topic");
        }
        if self.items_per_type.iter().any(|&n| n < self.topics) {
            return bad("every item type needs at least as many items as there are topics");
        }
        if !(self.mean_sessions >= 1.0 && self.mean_session_len >= 1.0) {
            return bad("mean sessions and mean session length must be at least 1");
        }
        let probabilities = [
            self.launch_fraction,
            self.adoption,
            self.type_switch,
            self.topic_drift,
            self.noise,
        ];
        if probabilities.iter().any(|p| !(0.0..=1.0).contains(p)) {
            return bad("fractions and probabilities must lie in [0, 1]");
        }
        if self.days == 0 {
            return bad("the period must be at least one day");
        }
        Ok(())
    }
}

const SYLLABLES: [&str; 16] = [
    "ka", "lo", "mi", "ru", "sen", "ta", "vo", "zel", "ne", "fi", "pa", "dor", "qui", "bex", "ul",
    "ho",
];
const GENERIC_WORDS: [&str; 8] = [
    "best", "new", "live", "vol", "official", "classic", "special", "edition",
];
const TYPE_WORDS: [[&str; 2]; 3] = [
    ["track", "album"],
    ["episode", "show"],
    ["chapter", "narrated"],
];

/// A made-up word unique to (topic, index): three syllables derived from a hash.
fn topic_word(topic: usize, index: usize) -> String {
    let mut h = Rng::new(((topic as u64) << 32) ^ index as u64 ^ 0x5EED).next_u64();
    let mut word = String::new();
    for _ in 0..3 {
        word.push_str(SYLLABLES[(h & 15) as usize]);
        h >>= 4;
    }
    // Disambiguate the rare hash collision between two topics' words.
    word.push_str(&format!("{topic}"));
    word
}

/// Geometric number of trials with the given mean (>= 1).
fn geometric(rng: &mut Rng, mean: f64) -> usize {
    if mean <= 1.0 {
        return 1;
    }
    let p = 1.0 / mean;
    let u = 1.0 - rng.next_f64();
    1 + (u.ln() / (1.0 - p).ln()).floor() as usize
}

/// Index drawn from cumulative weights (last entry is the total).
fn pick_cumulative(rng: &mut Rng, cumulative: &[f64]) -> usize {
    let total = *cumulative.last().expect("non-empty weights");
    let x = rng.next_f64() * total;
    cumulative
        .partition_point(|&c| c <= x)
        .min(cumulative.len() - 1)
}

/// The simulated platform: its items and the machinery that generates user histories.
#[derive(Debug, Clone)]
pub struct Simulator {
    config: SimConfig,
    catalog: Catalog,
    /// Items of each (type, topic) bucket, most popular first.
    buckets: Vec<Vec<u32>>,
    /// Cumulative Zipf weights for each bucket.
    bucket_cdf: Vec<Vec<f64>>,
    /// Items of each type.
    by_type: Vec<Vec<u32>>,
    item_topic: Vec<u16>,
}

/// A user's latent state, drawn from their own generator.
struct UserState {
    topics: Vec<usize>,
    topic_cdf: Vec<f64>,
    type_weight: [f64; 3],
    adoption_time: Option<i64>,
}

impl Simulator {
    /// Builds the item table (ids `m0`, `p0`, `a0`, ...) and the popularity buckets.
    pub fn new(config: SimConfig) -> Result<Simulator, RecError> {
        config.validate()?;
        let mut rng = Rng::new(config.seed ^ 0xC0FF_EE00);
        let mut catalog = Catalog::with_types(&TYPE_NAMES);
        let topics = config.topics;
        let vocab: Vec<Vec<String>> = (0..topics)
            .map(|t| {
                (0..config.words_per_topic)
                    .map(|i| topic_word(t, i))
                    .collect()
            })
            .collect();
        let mut buckets = vec![Vec::new(); 3 * topics];
        let mut item_topic = Vec::new();
        let mut by_type = vec![Vec::new(); 3];
        let prefixes = ["m", "p", "a"];
        for (t, &count) in config.items_per_type.iter().enumerate() {
            // Round-robin topics over a shuffled order: every bucket gets items.
            let mut order: Vec<usize> = (0..count).collect();
            rng.shuffle(&mut order);
            let mut topic_of = vec![0; count];
            for (rank, &i) in order.iter().enumerate() {
                topic_of[i] = rank % topics;
            }
            for (i, &topic) in topic_of.iter().enumerate() {
                let secondary = rng.below(topics as u64) as usize;
                let mut text = String::from(TYPE_WORDS[t][rng.below(2) as usize]);
                let words = &vocab[topic];
                for _ in 0..4 {
                    text.push(' ');
                    text.push_str(&words[rng.below(words.len() as u64) as usize]);
                }
                text.push(' ');
                let sw = &vocab[secondary];
                text.push_str(&sw[rng.below(sw.len() as u64) as usize]);
                text.push(' ');
                text.push_str(GENERIC_WORDS[rng.below(GENERIC_WORDS.len() as u64) as usize]);
                let id = format!("{}{i}", prefixes[t]);
                let index = catalog
                    .push(&id, TYPE_NAMES[t], &text)
                    .expect("simulated ids are unique");
                buckets[t * topics + topic].push(index);
                by_type[t].push(index);
                item_topic.push(topic as u16);
            }
        }
        // Popularity order inside a bucket: a random permutation, then Zipf(1) weights.
        let mut bucket_cdf = Vec::with_capacity(buckets.len());
        for bucket in &mut buckets {
            rng.shuffle(bucket);
            let mut total = 0.0;
            let cdf = (0..bucket.len())
                .map(|rank| {
                    total += 1.0 / (rank as f64 + 1.0);
                    total
                })
                .collect();
            bucket_cdf.push(cdf);
        }
        Ok(Simulator {
            config,
            catalog,
            buckets,
            bucket_cdf,
            by_type,
            item_topic,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The items.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The primary topic of every item (ground truth, for tests and diagnostics).
    pub fn item_topics(&self) -> &[u16] {
        &self.item_topic
    }

    fn horizon(&self) -> i64 {
        i64::from(self.config.days) * 86_400
    }

    fn user_state(&self, rng: &mut Rng) -> UserState {
        let c = &self.config;
        let n_topics = 1 + rng.below(3) as usize;
        let mut topics = Vec::with_capacity(n_topics);
        while topics.len() < n_topics.min(c.topics) {
            let t = rng.below(c.topics as u64) as usize;
            if !topics.contains(&t) {
                topics.push(t);
            }
        }
        let mut total = 0.0;
        let topic_cdf = topics
            .iter()
            .map(|_| {
                total += -(1.0 - rng.next_f64()).ln() + 0.2;
                total
            })
            .collect();
        let music = 0.4 + 0.6 * rng.next_f64();
        let podcast = 0.1 + 0.6 * rng.next_f64();
        let audiobook = 0.3 + 0.7 * rng.next_f64();
        let launch = (c.launch_fraction * self.horizon() as f64) as i64;
        let adoption_time = (rng.next_f64() < c.adoption)
            .then(|| launch + (rng.next_f64() * (self.horizon() - launch) as f64) as i64);
        UserState {
            topics,
            topic_cdf,
            type_weight: [music, podcast, audiobook],
            adoption_time,
        }
    }

    fn pick_type(&self, rng: &mut Rng, user: &UserState, time: i64) -> u8 {
        let available = user.adoption_time.is_some_and(|a| time >= a);
        let w = &user.type_weight;
        let total = w[0] + w[1] + if available { w[2] } else { 0.0 };
        let x = rng.next_f64() * total;
        if x < w[0] {
            0
        } else if x < w[0] + w[1] || !available {
            1
        } else {
            2
        }
    }

    fn pick_topic(&self, rng: &mut Rng, user: &UserState) -> usize {
        user.topics[pick_cumulative(rng, &user.topic_cdf)]
    }

    fn pick_item(&self, rng: &mut Rng, t: u8, topic: usize) -> u32 {
        if rng.next_f64() < self.config.noise {
            let items = &self.by_type[t as usize];
            return items[rng.below(items.len() as u64) as usize];
        }
        let b = t as usize * self.config.topics + topic;
        self.buckets[b][pick_cumulative(rng, &self.bucket_cdf[b])]
    }

    /// Appends user `user`'s time-ordered interactions to `out` (deterministic per user).
    pub fn user_interactions(&self, user: u32, out: &mut Vec<Interaction>) {
        let c = &self.config;
        let mut rng = Rng::new(c.seed ^ (u64::from(user) + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let state = self.user_state(&mut rng);
        let sessions = geometric(&mut rng, c.mean_sessions);
        let mut starts: Vec<i64> = (0..sessions)
            .map(|_| rng.below(self.horizon() as u64) as i64)
            .collect();
        starts.sort_unstable();
        for start in starts {
            let main_type = self.pick_type(&mut rng, &state, start);
            let mut topic = self.pick_topic(&mut rng, &state);
            let mut time = start;
            for _ in 0..geometric(&mut rng, c.mean_session_len) {
                let t = if rng.next_f64() < c.type_switch {
                    self.pick_type(&mut rng, &state, time)
                } else {
                    main_type
                };
                if rng.next_f64() < c.topic_drift {
                    topic = self.pick_topic(&mut rng, &state);
                }
                out.push(Interaction {
                    user,
                    item: self.pick_item(&mut rng, t, topic),
                    timestamp: time,
                    weight: 1.0,
                });
                time += 120 + rng.below(300) as i64;
            }
        }
    }

    /// Generates every user into memory.
    pub fn generate(&self) -> RecData {
        let mut interactions = Vec::new();
        for u in 0..self.config.users as u32 {
            self.user_interactions(u, &mut interactions);
        }
        let user_ids = (0..self.config.users).map(|u| format!("u{u}")).collect();
        // Already grouped by user and time-ordered: `RecData::new`'s sort is a linear pass.
        RecData::new(self.catalog.clone(), user_ids, interactions)
    }

    /// Writes `items.csv` and `interactions.csv` into `dir` (created if needed), streaming user
    /// by user. Users without interactions are not written.
    pub fn write_csv(&self, dir: &Path) -> Result<SimSummary, RecError> {
        let io = |path: &Path, e: std::io::Error| RecError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
        let items_path = dir.join("items.csv");
        let file = std::fs::File::create(&items_path).map_err(|e| io(&items_path, e))?;
        let mut w = std::io::BufWriter::new(file);
        let c = &self.catalog;
        (|| {
            writeln!(w, "{}", super::data::ITEMS_HEADER)?;
            for i in 0..c.len() {
                let t = &c.type_names[c.item_type[i] as usize];
                writeln!(w, "{},{t},{}", c.item_ids[i], c.item_text[i])?;
            }
            w.flush()
        })()
        .map_err(|e| io(&items_path, e))?;

        let log_path = dir.join("interactions.csv");
        let file = std::fs::File::create(&log_path).map_err(|e| io(&log_path, e))?;
        let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
        let mut summary = SimSummary {
            items_per_type: self.config.items_per_type,
            ..SimSummary::default()
        };
        let mut buf = Vec::new();
        (|| {
            writeln!(w, "{}", super::data::INTERACTIONS_HEADER)?;
            for u in 0..self.config.users as u32 {
                buf.clear();
                self.user_interactions(u, &mut buf);
                if !buf.is_empty() {
                    summary.users += 1;
                }
                let mut seen = [false; 3];
                for x in &buf {
                    let t = c.item_type[x.item as usize] as usize;
                    summary.interactions_per_type[t] += 1;
                    seen[t] = true;
                    writeln!(
                        w,
                        "u{u},{},{},{}",
                        c.item_ids[x.item as usize], TYPE_NAMES[t], x.timestamp
                    )?;
                }
                if seen[NEW_TYPE as usize] {
                    summary.new_type_users += 1;
                }
            }
            w.flush()
        })()
        .map_err(|e| io(&log_path, e))?;
        Ok(summary)
    }
}

/// What [`Simulator::write_csv`] wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SimSummary {
    /// Users with at least one interaction.
    pub users: usize,
    /// Items of each type.
    pub items_per_type: [usize; 3],
    /// Interactions with items of each type.
    pub interactions_per_type: [usize; 3],
    /// Users with at least one audiobook interaction.
    pub new_type_users: usize,
}

impl SimSummary {
    /// Total interactions written.
    pub fn interactions(&self) -> usize {
        self.interactions_per_type.iter().sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Simulator {
        Simulator::new(SimConfig::for_users(300, 7)).unwrap()
    }

    #[test]
    fn deterministic_by_seed() {
        let a = small().generate();
        let b = small().generate();
        assert_eq!(a, b);
        let c = Simulator::new(SimConfig::for_users(300, 8))
            .unwrap()
            .generate();
        assert_ne!(a.interactions, c.interactions);
    }

    #[test]
    fn world_has_the_promised_shape() {
        let sim = small();
        let data = sim.generate();
        let n = data.interactions.len();
        assert!((4000..8000).contains(&n), "{n} interactions");
        let mut per_type = [0usize; 3];
        for x in &data.interactions {
            per_type[data.catalog.item_type[x.item as usize] as usize] += 1;
        }
        // Audiobooks are the sparse type; every type is present.
        assert!(
            per_type[2] > 0 && per_type[2] * 4 < per_type[0],
            "{per_type:?}"
        );
        // No audiobook before the launch.
        let launch = (0.7 * 90.0 * 86_400.0) as i64;
        assert!(data
            .interactions
            .iter()
            .filter(|x| data.catalog.item_type[x.item as usize] == NEW_TYPE)
            .all(|x| x.timestamp >= launch));
        // Time-ordered per user.
        for seq in data.by_user() {
            assert!(seq.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
        }
        // Tastes span types: a user's music and audiobook topics agree far above chance (1/16).
        let topics = sim.item_topics();
        let (mut agree, mut pairs) = (0, 0);
        for seq in data.by_user() {
            let music: Vec<u16> = seq
                .iter()
                .filter(|x| data.catalog.item_type[x.item as usize] == 0)
                .map(|x| topics[x.item as usize])
                .collect();
            for x in seq
                .iter()
                .filter(|x| data.catalog.item_type[x.item as usize] == 2)
            {
                for &m in &music {
                    agree += usize::from(m == topics[x.item as usize]);
                    pairs += 1;
                }
            }
        }
        assert!(agree as f64 > 0.3 * pairs as f64, "{agree}/{pairs}");
        // Item text carries the topic: items of one topic share vocabulary.
        let words = |i: usize| -> Vec<&str> { data.catalog.item_text[i].split(' ').collect() };
        assert_eq!(words(0).len(), 7);
    }

    #[test]
    fn csv_round_trip() {
        let dir = std::env::temp_dir().join(format!("mote-sim-test-{}", std::process::id()));
        let sim = Simulator::new(SimConfig::for_users(50, 3)).unwrap();
        let summary = sim.write_csv(&dir).unwrap();
        let loaded = RecData::load(&dir.join("items.csv"), &dir.join("interactions.csv")).unwrap();
        let direct = sim.generate();
        assert_eq!(loaded.interactions.len(), summary.interactions());
        assert_eq!(loaded.interactions, direct.interactions);
        assert_eq!(loaded.catalog, direct.catalog);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rejects_bad_configs() {
        let mut c = SimConfig::for_users(10, 0);
        c.adoption = 1.5;
        assert!(Simulator::new(c).is_err());
        let mut c = SimConfig::for_users(10, 0);
        c.topics = 1000;
        assert!(Simulator::new(c).is_err());
    }
}

//! Teacher labelling: a large model applies the policy, as a prompt, to unlabelled messages.
//!
//! - [`prompt`]: the policy rendered into a versioned chat prompt ([`TEMPLATE_VERSION`]) and
//!   its deterministic format variants;
//! - [`http`]: a minimal HTTP/1.1 client (plain `http://`, local servers);
//! - [`answer`]: structured output parsing of `{"labels": {...}}` answers;
//! - [`cache`]: answers on disk keyed by policy hash, template version, format, model and text;
//! - [`fake`]: a scripted teacher server speaking the same protocol, for tests and demos.
//!
//! [`Teacher`] asks an OpenAI-compatible chat-completions endpoint (`POST
//! {url}/v1/chat/completions` with `temperature: 0` and `response_format: json_object`),
//! retrying transport errors, 429 and 5xx statuses and unparseable answers with exponential
//! backoff, no faster than its rate limit. [`Labeller`] puts the cache in front of it.
//! [`flip_rates`] measures how often a category's label changes with the prompt format alone.

pub mod answer;
pub mod cache;
pub mod fake;
pub mod http;
pub mod prompt;

pub use answer::{parse_labels, AnswerError};
pub use cache::{cache_key, LabelCache};
pub use prompt::{PromptFormat, TEMPLATE_VERSION};

use crate::moderation::policy::Policy;
use core::fmt;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Longest wait between two attempts, whatever the backoff or `Retry-After` say.
pub const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// How to reach the teacher and how patiently.
#[derive(Debug, Clone, PartialEq)]
pub struct TeacherConfig {
    /// Base URL, `http://host:port[/path]`; requests go to `{url}/v1/chat/completions` (or
    /// `{url}/chat/completions` when the URL already ends in `/v1`).
    pub url: String,
    /// The model name sent in every request (and recorded as the labels' source).
    pub model: String,
    /// Further attempts after a failed one (transport error, 429, 5xx, unparseable answer).
    pub retries: u32,
    /// Wait before the first retry; doubled for each further one, at most [`MAX_BACKOFF`].
    pub backoff: Duration,
    /// Most requests started per second (`None`: no limit).
    pub rate: Option<f64>,
    /// Connect and read timeout of one request.
    pub timeout: Duration,
}

impl Default for TeacherConfig {
    fn default() -> Self {
        TeacherConfig {
            url: String::new(),
            model: "default".into(),
            retries: 4,
            backoff: Duration::from_millis(500),
            rate: None,
            timeout: Duration::from_secs(120),
        }
    }
}

/// Why labelling stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LabelError {
    /// The teacher URL is not usable.
    BadUrl(String),
    /// The server answered with a status that retrying cannot fix (e.g. 400, 401, 404).
    Status {
        /// The request URL.
        url: String,
        /// The status code.
        status: u16,
        /// The start of the response body.
        body: String,
    },
    /// Every attempt failed; the last failure.
    GaveUp {
        /// The request URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// What went wrong the last time.
        last: String,
    },
    /// The cache could not be written.
    Cache(String),
    /// Which text and format the failure happened on.
    At {
        /// 0-based row of the input.
        row: usize,
        /// The prompt format's name.
        format: String,
        /// The failure.
        error: Box<LabelError>,
    },
}

impl fmt::Display for LabelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LabelError::BadUrl(m) => f.write_str(m),
            LabelError::Status { url, status, body } => {
                write!(f, "teacher {url} answered HTTP {status}: {body}")
            }
            LabelError::GaveUp {
                url,
                attempts,
                last,
            } => write!(
                f,
                "teacher {url}: gave up after {attempts} attempt(s): {last}"
            ),
            LabelError::Cache(m) => write!(f, "label cache: {m}"),
            LabelError::At { row, format, error } => {
                write!(f, "input row {} (prompt format {format}): {error}", row + 1)
            }
        }
    }
}

impl std::error::Error for LabelError {}

/// What the teacher client did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TeacherStats {
    /// HTTP requests sent (every attempt counts).
    pub requests: usize,
    /// Attempts repeated after a failure.
    pub retries: usize,
    /// Attempts that failed in transport (refused, reset, timeout, not HTTP).
    pub transport_errors: usize,
    /// Attempts answered with 429 or 5xx.
    pub busy_or_server_errors: usize,
    /// Attempts whose answer could not be parsed into labels.
    pub bad_answers: usize,
}

/// Spaces request starts at least `1 / rate` seconds apart.
#[derive(Debug)]
struct RateLimiter {
    interval: Duration,
    next: Option<Instant>,
}

impl RateLimiter {
    fn new(rate: Option<f64>) -> RateLimiter {
        let interval = match rate {
            Some(r) if r > 0.0 && r.is_finite() => Duration::from_secs_f64(1.0 / r),
            _ => Duration::ZERO,
        };
        RateLimiter {
            interval,
            next: None,
        }
    }

    fn wait(&mut self) {
        let now = Instant::now();
        if let Some(next) = self.next {
            if next > now {
                std::thread::sleep(next - now);
            }
        }
        self.next = Some(Instant::now() + self.interval);
    }
}

/// What one attempt came to.
enum Attempt {
    Labels(Vec<bool>),
    /// Worth another attempt, after at least this long (from `Retry-After`).
    Retry(String, Option<Duration>),
    Fatal(LabelError),
}

/// The first `max` characters of a body, on one line.
fn snippet(body: &[u8], max: usize) -> String {
    let text = String::from_utf8_lossy(body);
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > max {
        format!("{}…", one_line.chars().take(max).collect::<String>())
    } else {
        one_line
    }
}

/// A chat-completions client that asks for one message's labels at a time.
#[derive(Debug)]
pub struct Teacher {
    config: TeacherConfig,
    url: http::Url,
    path: &'static str,
    limiter: RateLimiter,
    /// What it has done so far.
    pub stats: TeacherStats,
}

impl Teacher {
    /// A client for `config` (checks the URL; connects only when asked).
    pub fn new(config: TeacherConfig) -> Result<Teacher, LabelError> {
        let url = http::Url::parse(&config.url).map_err(|e| LabelError::BadUrl(e.to_string()))?;
        let path = if url.base.ends_with("/v1") {
            "/chat/completions"
        } else {
            "/v1/chat/completions"
        };
        Ok(Teacher {
            limiter: RateLimiter::new(config.rate),
            config,
            url,
            path,
            stats: TeacherStats::default(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &TeacherConfig {
        &self.config
    }

    /// The full URL requests go to.
    pub fn endpoint(&self) -> String {
        format!("{}{}", self.url, self.path)
    }

    /// The JSON request body for `messages`.
    pub fn request_body(&self, messages: &[prompt::ChatMessage]) -> Vec<u8> {
        let messages: Vec<serde_json::Value> = messages
            .iter()
            .map(|m| serde_json::json!({"role": m.role, "content": m.content}))
            .collect();
        let body = serde_json::json!({
            "model": self.config.model,
            "messages": messages,
            "temperature": 0,
            "response_format": {"type": "json_object"},
        });
        serde_json::to_vec(&body).expect("a JSON value serialises")
    }

    fn attempt(&mut self, body: &[u8], categories: &[&str]) -> Attempt {
        self.limiter.wait();
        self.stats.requests += 1;
        let response = match http::post_json(&self.url, self.path, body, self.config.timeout) {
            Ok(r) => r,
            Err(e @ http::HttpError::BadUrl(_)) => {
                return Attempt::Fatal(LabelError::BadUrl(e.to_string()))
            }
            Err(e) => {
                self.stats.transport_errors += 1;
                return Attempt::Retry(e.to_string(), None);
            }
        };
        let status = response.status;
        if status == 429 || status >= 500 {
            self.stats.busy_or_server_errors += 1;
            let after = response
                .header("retry-after")
                .and_then(|v| v.trim().parse::<f64>().ok())
                .filter(|s| s.is_finite() && *s >= 0.0)
                .map(|s| Duration::from_secs_f64(s).min(MAX_BACKOFF));
            return Attempt::Retry(
                format!("HTTP {status}: {}", snippet(&response.body, 200)),
                after,
            );
        }
        if !(200..300).contains(&status) {
            return Attempt::Fatal(LabelError::Status {
                url: self.endpoint(),
                status,
                body: snippet(&response.body, 300),
            });
        }
        let content = serde_json::from_slice::<serde_json::Value>(&response.body)
            .ok()
            .and_then(|v| {
                v.pointer("/choices/0/message/content")
                    .and_then(|c| c.as_str())
                    .map(str::to_string)
            });
        let Some(content) = content else {
            self.stats.bad_answers += 1;
            return Attempt::Retry(
                format!(
                    "not a chat completion with a text answer: {}",
                    snippet(&response.body, 200)
                ),
                None,
            );
        };
        match parse_labels(&content, categories) {
            Ok(labels) => Attempt::Labels(labels),
            Err(e) => {
                self.stats.bad_answers += 1;
                Attempt::Retry(
                    format!("{e}; answer: {}", snippet(content.as_bytes(), 200)),
                    None,
                )
            }
        }
    }

    /// The teacher's labels for `text` under `policy` rendered in `format`, in policy order.
    pub fn ask(
        &mut self,
        policy: &Policy,
        format: PromptFormat,
        text: &str,
    ) -> Result<Vec<bool>, LabelError> {
        let categories = policy.category_names();
        let body = self.request_body(&prompt::render(policy, format, text));
        let mut wait = self.config.backoff;
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self.attempt(&body, &categories) {
                Attempt::Labels(l) => return Ok(l),
                Attempt::Fatal(e) => return Err(e),
                Attempt::Retry(last, after) => {
                    if attempts > self.config.retries {
                        return Err(LabelError::GaveUp {
                            url: self.endpoint(),
                            attempts,
                            last,
                        });
                    }
                    self.stats.retries += 1;
                    std::thread::sleep(after.map_or(wait, |a| a.max(wait)).min(MAX_BACKOFF));
                    wait = (wait * 2).min(MAX_BACKOFF);
                }
            }
        }
    }
}

/// The teacher behind an on-disk cache.
#[derive(Debug)]
pub struct Labeller<'p> {
    policy: &'p Policy,
    policy_hash: String,
    /// The client (its `stats` count the requests actually sent).
    pub teacher: Teacher,
    cache: Option<LabelCache>,
    /// Labels found in the cache.
    pub cache_hits: usize,
}

impl<'p> Labeller<'p> {
    /// A labeller for `policy`; `cache: None` asks the teacher every time.
    pub fn new(policy: &'p Policy, teacher: Teacher, cache: Option<LabelCache>) -> Labeller<'p> {
        Labeller {
            policy_hash: policy.content_hash(),
            policy,
            teacher,
            cache,
            cache_hits: 0,
        }
    }

    /// The labels of `text` in `format`: from the cache, else from the teacher (then cached).
    pub fn label(&mut self, format: PromptFormat, text: &str) -> Result<Vec<bool>, LabelError> {
        let categories = self.policy.category_names();
        let format_name = format.name();
        let model = self.teacher.config.model.clone();
        let key = cache_key(
            &self.policy_hash,
            TEMPLATE_VERSION,
            &format_name,
            &model,
            text,
        );
        if let Some(cache) = &self.cache {
            if let Some(labels) = cache.get(&key, &categories) {
                self.cache_hits += 1;
                return Ok(labels);
            }
        }
        let labels = self.teacher.ask(self.policy, format, text)?;
        if let Some(cache) = &self.cache {
            let text_hash = cache::text_hash(text);
            let about = [
                ("policy_hash", self.policy_hash.as_str()),
                ("template_version", TEMPLATE_VERSION),
                ("format", format_name.as_str()),
                ("model", model.as_str()),
                ("text_sha256", text_hash.as_str()),
            ];
            cache.put(&key, &categories, &labels, &about).map_err(|e| {
                LabelError::Cache(format!("cannot write in {}: {e}", cache.dir().display()))
            })?;
        }
        Ok(labels)
    }

    /// Labels every text under every format: `result[format][text][category]`.
    /// `progress(done, total)` is called after each label.
    pub fn label_all(
        &mut self,
        formats: &[PromptFormat],
        texts: &[String],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<Vec<Vec<bool>>>, LabelError> {
        let total = formats.len() * texts.len();
        let mut out = Vec::with_capacity(formats.len());
        for (f, &format) in formats.iter().enumerate() {
            let mut labels = Vec::with_capacity(texts.len());
            for (row, text) in texts.iter().enumerate() {
                let l = self.label(format, text).map_err(|e| LabelError::At {
                    row,
                    format: format.name(),
                    error: Box::new(e),
                })?;
                labels.push(l);
                progress(f * texts.len() + row + 1, total);
            }
            out.push(labels);
        }
        Ok(out)
    }
}

/// How often one category's label depends on the prompt format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FlipRate {
    /// Texts whose label for the category is not the same under every format.
    pub flipped: usize,
    /// Texts labelled.
    pub texts: usize,
    /// Fewest positives under any format.
    pub positives_min: usize,
    /// Most positives under any format.
    pub positives_max: usize,
}

impl FlipRate {
    /// `flipped / texts` (0 without texts).
    pub fn rate(&self) -> f64 {
        if self.texts == 0 {
            0.0
        } else {
            self.flipped as f64 / self.texts as f64
        }
    }
}

/// Per category, the share of texts whose label is not the same under all formats;
/// `labels[format][text][category]` as [`Labeller::label_all`] returns.
pub fn flip_rates(labels: &[Vec<Vec<bool>>], categories: usize) -> Vec<FlipRate> {
    let texts = labels.first().map_or(0, Vec::len);
    (0..categories)
        .map(|c| {
            let flipped = (0..texts)
                .filter(|&t| labels.iter().any(|f| f[t][c] != labels[0][t][c]))
                .count();
            let positives = labels.iter().map(|f| f.iter().filter(|l| l[c]).count());
            FlipRate {
                flipped,
                texts,
                positives_min: positives.clone().min().unwrap_or(0),
                positives_max: positives.max().unwrap_or(0),
            }
        })
        .collect()
}

/// Where the labels of a data file came from: written beside it by `mote label` as
/// `<data>.teacher.json`, read by `mote train moderation` into the blob's provenance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelProvenance {
    /// [`TEMPLATE_VERSION`] of the prompt.
    pub template_version: String,
    /// The prompt format whose labels the file holds.
    pub format: String,
    /// The teacher model's name.
    pub teacher_model: String,
    /// The teacher's endpoint.
    pub teacher_url: String,
    /// The policy's id.
    pub policy_id: String,
    /// The policy's version.
    pub policy_version: String,
    /// The policy's content hash.
    pub policy_hash: String,
    /// Messages labelled.
    pub rows: usize,
    /// Prompt formats labelled for the sensitivity report (1: none).
    pub variants: usize,
    /// Per category, the flip rate across the formats (empty with one format).
    #[serde(default)]
    pub flip_rates: std::collections::BTreeMap<String, f64>,
}

impl LabelProvenance {
    /// The sidecar path of a data file: `labelled.csv` → `labelled.csv.teacher.json`.
    pub fn path_for(data: &Path) -> PathBuf {
        let mut name = data.as_os_str().to_owned();
        name.push(".teacher.json");
        PathBuf::from(name)
    }

    /// Reads the sidecar of `data`, if there is one.
    pub fn load_for(data: &Path) -> Result<Option<LabelProvenance>, String> {
        let path = LabelProvenance::path_for(data);
        match std::fs::read_to_string(&path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| format!("{}: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// The sidecar as pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("provenance serialises") + "\n"
    }
}

#[cfg(test)]
mod tests;

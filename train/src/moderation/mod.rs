//! Policy-driven moderation: the policy file, labelled messages, the hashed-n-gram classifier.
//!
//! - [`policy`]: the TOML policy (categories, definitions, examples, decisions, target
//!   precisions), its validation and content hash (`docs/moderation-policy.md`);
//! - [`messages`]: labelled messages from CSV or JSONL, mapped onto the policy's categories;
//! - [`classifier`]: the embedding-bag classifier over the runtime's hashed text features,
//!   its training with class weighting and its per-category threshold calibration;
//! - [`model_file`]: the trained model's safetensors file, carrying its policy;
//! - [`teacher`]: teacher labelling: the policy as a versioned prompt to a chat-completions
//!   server, with retries, rate limit, an on-disk cache and the format-sensitivity report.

pub mod classifier;
pub mod messages;
pub mod model_file;
pub mod policy;
pub mod teacher;

pub use classifier::{ClassifierConfig, ModerationModel};
pub use messages::{Messages, MessagesError};
pub use policy::{Category, Decision, Policy, PolicyError, Severity};

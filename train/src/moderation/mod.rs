//! Policy-driven moderation: the policy file, labelled messages, the hashed-n-gram classifier.
//!
//! - [`policy`]: the TOML policy (categories, definitions, examples, decisions, target
//!   precisions), its validation and content hash (`docs/moderation-policy.md`);
//! - [`messages`]: labelled messages from CSV or JSONL, mapped onto the policy's categories.

pub mod messages;
pub mod policy;

pub use messages::{Messages, MessagesError};
pub use policy::{Category, Decision, Policy, PolicyError, Severity};

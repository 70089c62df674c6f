//! Policy-driven moderation: the policy file, labelled messages, the hashed-n-gram classifier.
//!
//! - [`policy`]: the TOML policy (categories, definitions, examples, decisions, target
//!   precisions), its validation and content hash (`docs/moderation-policy.md`).

pub mod policy;

pub use policy::{Category, Decision, Policy, PolicyError, Severity};

//! `mote policy`: work with moderation policy files (`docs/moderation-policy.md`).

use super::Result;
use mote_train::moderation::{Policy, PolicyError};
use std::path::{Path, PathBuf};

/// Arguments of `mote policy`.
#[derive(clap::Args)]
pub struct Args {
    /// What to do with the policy.
    #[command(subcommand)]
    command: PolicyCommand,
}

/// The `mote policy` subcommands.
#[derive(clap::Subcommand)]
pub enum PolicyCommand {
    /// Validate a policy file and print its categories and content hash.
    Check {
        /// The policy TOML file.
        policy: PathBuf,
    },
}

/// Runs the chosen subcommand.
pub fn run(args: Args) -> Result {
    match args.command {
        PolicyCommand::Check { policy } => check(&policy),
    }
}

/// Loads a policy, prefixing any error with `path:line:column:` as compilers do.
pub fn load(path: &Path) -> Result<Policy> {
    Policy::load(path).map_err(|e| describe(path, &e))
}

/// `path:line:column: field: message` (or `path: message` without a location).
fn describe(path: &Path, e: &PolicyError) -> String {
    let mut text = path.display().to_string();
    if e.line > 0 {
        text.push_str(&format!(":{}:{}", e.line, e.column));
    }
    text.push_str(": ");
    if !e.field.is_empty() {
        text.push_str(&format!("{}: ", e.field));
    }
    text.push_str(&e.message);
    text
}

fn check(path: &Path) -> Result {
    let policy = load(path)?;
    outln!("{}: ok", path.display());
    outln!("  policy      {} version {}", policy.id, policy.version);
    outln!("  categories  {}", policy.categories.len());
    outln!(
        "  {:<16} {:<9} {:<9} {:>9} {:>9} {:>9}",
        "name",
        "severity",
        "decision",
        "precision",
        "positive",
        "negative"
    );
    for c in &policy.categories {
        outln!(
            "  {:<16} {:<9} {:<9} {:>9} {:>9} {:>9}",
            c.name,
            c.severity.name(),
            c.decision.name(),
            c.target_precision,
            c.positive_examples.len(),
            c.negative_examples.len()
        );
    }
    outln!("  sha256      {}", policy.content_hash());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_read_like_compiler_messages() {
        let e = PolicyError {
            line: 3,
            column: 7,
            field: "policy.id".into(),
            message: "bad".into(),
        };
        assert_eq!(
            describe(Path::new("p.toml"), &e),
            "p.toml:3:7: policy.id: bad"
        );
        let e = PolicyError {
            line: 0,
            column: 0,
            field: String::new(),
            message: "cannot read".into(),
        };
        assert_eq!(describe(Path::new("p.toml"), &e), "p.toml: cannot read");
    }
}

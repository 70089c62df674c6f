//! The moderation policy file: what each category means, what to do about it, how sure to be.
//!
//! A policy is a TOML file (documented in `docs/moderation-policy.md`): an id and version, then
//! one `[[categories]]` table per category with its definition, positive and negative examples,
//! severity, decision (allow, flag, block) and the precision its decision must reach.
//! [`Policy::parse`] validates everything and reports the first problem with its line, column
//! and field; [`Policy::content_hash`] identifies exactly this policy's meaning (formatting and
//! comments do not change it), which blobs and caches record as provenance.

use core::fmt;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use std::ops::Range;
use std::path::Path;
use toml::Spanned;

/// Most categories a policy may define (the device keeps one decision per category).
pub const MAX_CATEGORIES: usize = 16;
/// Longest category name, in bytes.
pub const MAX_NAME_LEN: usize = 32;
/// Longest policy id, in bytes.
pub const MAX_ID_LEN: usize = 64;
/// Longest policy version, in bytes.
pub const MAX_VERSION_LEN: usize = 32;
/// The tag that starts the hashed encoding (see [`Policy::content_hash`]).
pub const HASH_DOMAIN: &[u8] = b"mote-policy/1\0";

/// How bad a violation of a category is (ordered: `Low < Medium < High < Critical`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    /// Annoying, not harmful.
    Low,
    /// Harmful to some readers.
    Medium,
    /// Harmful; should not be shown.
    High,
    /// Dangerous; must never be shown.
    Critical,
}

/// What the system does with a message that falls in a category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Decision {
    /// Let it through (the category is still detected and reported).
    Allow,
    /// Let it through, marked for review.
    Flag,
    /// Stop it.
    Block,
}

impl Severity {
    /// Every severity, lowest first.
    pub const ALL: [Severity; 4] = [
        Severity::Low,
        Severity::Medium,
        Severity::High,
        Severity::Critical,
    ];

    /// The name used in policy files: `low`, `medium`, `high`, `critical`.
    pub fn name(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
            Severity::Critical => "critical",
        }
    }

    /// Parses a name written by [`Severity::name`].
    pub fn from_name(name: &str) -> Option<Severity> {
        Severity::ALL.into_iter().find(|s| s.name() == name)
    }
}

impl Decision {
    /// Every decision, mildest first.
    pub const ALL: [Decision; 3] = [Decision::Allow, Decision::Flag, Decision::Block];

    /// The name used in policy files: `allow`, `flag`, `block`.
    pub fn name(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Flag => "flag",
            Decision::Block => "block",
        }
    }

    /// Parses a name written by [`Decision::name`].
    pub fn from_name(name: &str) -> Option<Decision> {
        Decision::ALL.into_iter().find(|d| d.name() == name)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One category of content the policy is about.
#[derive(Debug, Clone, PartialEq)]
pub struct Category {
    /// Identifier: `[a-z][a-z0-9_]*`, at most [`MAX_NAME_LEN`] bytes; data columns use it.
    pub name: String,
    /// What belongs in the category, in plain words (what a teacher model is told).
    pub definition: String,
    /// How bad it is.
    pub severity: Severity,
    /// What to do with a message in it.
    pub decision: Decision,
    /// Fraction of the messages the classifier puts in this category that must truly belong
    /// there; the category's threshold is calibrated to reach it. In `(0, 1]`.
    pub target_precision: f64,
    /// Messages that belong in the category (at least one).
    pub positive_examples: Vec<String>,
    /// Messages that look close but do not belong (at least one).
    pub negative_examples: Vec<String>,
}

/// A validated moderation policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    /// Stable identifier of the policy, e.g. `community-chat`.
    pub id: String,
    /// Version of this policy text, e.g. `1.2.0`.
    pub version: String,
    /// What the policy is for (optional; empty when absent).
    pub description: String,
    /// The categories, in file order (the classifier's outputs follow this order).
    pub categories: Vec<Category>,
}

/// Why a policy file was refused: where, which field, and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// 1-based line of the offending text (0 when the problem has no location, e.g. I/O).
    pub line: usize,
    /// 1-based column, counted in characters.
    pub column: usize,
    /// Dotted path of the field, e.g. `categories[2].target_precision` (empty when unknown).
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}, column {}: ", self.line, self.column)?;
        }
        if !self.field.is_empty() {
            write!(f, "{}: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for PolicyError {}

// The file as written, with the location of every value that is checked beyond its type.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    policy: Spanned<RawHeader>,
    #[serde(default)]
    categories: Option<Spanned<Vec<Spanned<RawCategory>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    id: Spanned<String>,
    version: Spanned<String>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCategory {
    name: Spanned<String>,
    definition: Spanned<String>,
    severity: Spanned<String>,
    decision: Spanned<String>,
    target_precision: Spanned<f64>,
    positive_examples: Spanned<Vec<Spanned<String>>>,
    negative_examples: Spanned<Vec<Spanned<String>>>,
}

/// Turns byte offsets into 1-based line and column for error messages.
struct Locator<'a> {
    text: &'a str,
}

impl Locator<'_> {
    fn error(
        &self,
        span: Range<usize>,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> PolicyError {
        let start = span.start.min(self.text.len());
        let before = self.text.get(..start).unwrap_or("");
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
        PolicyError {
            line,
            column,
            field: field.into(),
            message: message.into(),
        }
    }
}

fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some('a'..='z'))
        && chars.all(|c| matches!(c, 'a'..='z' | '0'..='9' | '_'))
}

impl Policy {
    /// Reads and validates the policy file at `path`; errors carry line, column and field.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        let text = std::fs::read_to_string(path).map_err(|e| PolicyError {
            line: 0,
            column: 0,
            field: String::new(),
            message: format!("cannot read {}: {e}", path.display()),
        })?;
        Policy::parse(&text)
    }

    /// Parses and validates policy TOML text.
    pub fn parse(text: &str) -> Result<Policy, PolicyError> {
        let at = Locator { text };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            let span = e.span().unwrap_or(0..0);
            at.error(span, "", e.message().trim_end().to_string())
        })?;
        let header = raw.policy.into_inner();
        let id = header.id.get_ref();
        if id.is_empty()
            || id.len() > MAX_ID_LEN
            || !id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(at.error(
                header.id.span(),
                "policy.id",
                format!(
                    "must be 1 to {MAX_ID_LEN} ASCII letters, digits, '.', '_' or '-', found {id:?}"
                ),
            ));
        }
        let version = header.version.get_ref();
        if version.is_empty()
            || version.len() > MAX_VERSION_LEN
            || !version.chars().all(|c| c.is_ascii_graphic())
        {
            return Err(at.error(
                header.version.span(),
                "policy.version",
                format!(
                    "must be 1 to {MAX_VERSION_LEN} printable ASCII characters without spaces, found {version:?}"
                ),
            ));
        }
        let Some(raw_categories) = raw.categories else {
            return Err(at.error(
                text.len()..text.len(),
                "categories",
                "the policy defines no category (add [[categories]] tables)",
            ));
        };
        let list_span = raw_categories.span();
        let raw_categories = raw_categories.into_inner();
        if raw_categories.is_empty() || raw_categories.len() > MAX_CATEGORIES {
            return Err(at.error(
                list_span,
                "categories",
                format!(
                    "need 1 to {MAX_CATEGORIES} categories, found {}",
                    raw_categories.len()
                ),
            ));
        }
        let mut categories: Vec<Category> = Vec::with_capacity(raw_categories.len());
        for (index, spanned) in raw_categories.into_iter().enumerate() {
            let c = spanned.into_inner();
            let field = |name: &str| format!("categories[{index}].{name}");
            let name = c.name.get_ref();
            if !is_identifier(name) || name.len() > MAX_NAME_LEN {
                return Err(at.error(
                    c.name.span(),
                    field("name"),
                    format!(
                        "must match [a-z][a-z0-9_]* and be at most {MAX_NAME_LEN} bytes, found {name:?}"
                    ),
                ));
            }
            if let Some(first) = categories.iter().position(|k| &k.name == name) {
                return Err(at.error(
                    c.name.span(),
                    field("name"),
                    format!("{name:?} is already the name of categories[{first}]"),
                ));
            }
            if c.definition.get_ref().trim().is_empty() {
                return Err(at.error(
                    c.definition.span(),
                    field("definition"),
                    "must not be empty",
                ));
            }
            let severity = Severity::from_name(c.severity.get_ref()).ok_or_else(|| {
                at.error(
                    c.severity.span(),
                    field("severity"),
                    format!(
                        "must be one of low, medium, high, critical; found {:?}",
                        c.severity.get_ref()
                    ),
                )
            })?;
            let decision = Decision::from_name(c.decision.get_ref()).ok_or_else(|| {
                at.error(
                    c.decision.span(),
                    field("decision"),
                    format!(
                        "must be one of allow, flag, block; found {:?}",
                        c.decision.get_ref()
                    ),
                )
            })?;
            let precision = *c.target_precision.get_ref();
            if !(precision.is_finite() && precision > 0.0 && precision <= 1.0) {
                return Err(at.error(
                    c.target_precision.span(),
                    field("target_precision"),
                    format!("must be in (0, 1], found {precision}"),
                ));
            }
            let examples = |list: Spanned<Vec<Spanned<String>>>, what: &str| {
                let span = list.span();
                let list = list.into_inner();
                if list.is_empty() {
                    return Err(at.error(span, field(what), "needs at least one example"));
                }
                let mut out = Vec::with_capacity(list.len());
                for (i, example) in list.into_iter().enumerate() {
                    if example.get_ref().trim().is_empty() {
                        return Err(at.error(
                            example.span(),
                            format!("{}[{i}]", field(what)),
                            "an example must not be empty",
                        ));
                    }
                    out.push(example.into_inner());
                }
                Ok(out)
            };
            let positive_examples = examples(c.positive_examples, "positive_examples")?;
            let negative_examples = examples(c.negative_examples, "negative_examples")?;
            categories.push(Category {
                name: name.clone(),
                definition: c.definition.into_inner(),
                severity,
                decision,
                target_precision: precision,
                positive_examples,
                negative_examples,
            });
        }
        Ok(Policy {
            id: header.id.into_inner(),
            version: header.version.into_inner(),
            description: header.description.unwrap_or_default(),
            categories,
        })
    }

    /// Lower-case hex SHA-256 of the policy's meaning, independent of formatting and comments.
    ///
    /// Hashed: [`HASH_DOMAIN`], then every field in a fixed order, each string as its u32
    /// little-endian byte length followed by its UTF-8 bytes, each list as its u32 length then
    /// its items, `target_precision` as the 8 little-endian bytes of its f64 bit pattern:
    /// `id, version, description, categories` and per category `name, definition, severity,
    /// decision, target_precision, positive_examples, negative_examples` (severity and decision
    /// by their names). `docs/moderation-policy.md` gives the same rule.
    pub fn content_hash(&self) -> String {
        let mut h = Sha256::new();
        let put = |h: &mut Sha256, s: &str| {
            h.update((s.len() as u32).to_le_bytes());
            h.update(s.as_bytes());
        };
        h.update(HASH_DOMAIN);
        put(&mut h, &self.id);
        put(&mut h, &self.version);
        put(&mut h, &self.description);
        h.update((self.categories.len() as u32).to_le_bytes());
        for c in &self.categories {
            put(&mut h, &c.name);
            put(&mut h, &c.definition);
            put(&mut h, c.severity.name());
            put(&mut h, c.decision.name());
            h.update(c.target_precision.to_bits().to_le_bytes());
            for list in [&c.positive_examples, &c.negative_examples] {
                h.update((list.len() as u32).to_le_bytes());
                for example in list {
                    put(&mut h, example);
                }
            }
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The category called `name`, with its index.
    pub fn category(&self, name: &str) -> Option<(usize, &Category)> {
        self.categories
            .iter()
            .enumerate()
            .find(|(_, c)| c.name == name)
    }

    /// The category names in order.
    pub fn category_names(&self) -> Vec<&str> {
        self.categories.iter().map(|c| c.name.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"
# A comment.
[policy]
id = "test-chat"
version = "1.0.0"
description = "For tests."

[[categories]]
name = "spam"
definition = "Unsolicited advertising."
severity = "low"
decision = "flag"
target_precision = 0.9
positive_examples = ["Win a free phone now!"]
negative_examples = ["Did you win the match?"]

[[categories]]
name = "harassment"
definition = "Insults aimed at a person."
severity = "high"
decision = "block"
target_precision = 0.95
positive_examples = ["You are an idiot."]
negative_examples = ["That idea is silly."]
"#;

    fn error_for(text: &str) -> PolicyError {
        Policy::parse(text).expect_err("policy should be refused")
    }

    #[test]
    fn parses_a_good_policy() {
        let p = Policy::parse(GOOD).unwrap();
        assert_eq!((p.id.as_str(), p.version.as_str()), ("test-chat", "1.0.0"));
        assert_eq!(p.category_names(), ["spam", "harassment"]);
        let (i, h) = p.category("harassment").unwrap();
        assert_eq!(i, 1);
        assert_eq!((h.severity, h.decision), (Severity::High, Decision::Block));
        assert_eq!(h.target_precision, 0.95);
        assert!(p.category("nope").is_none());
    }

    #[test]
    fn hash_ignores_formatting_but_tracks_meaning() {
        let p = Policy::parse(GOOD).unwrap();
        let h = p.content_hash();
        assert_eq!(h.len(), 64);
        let reformatted = GOOD.replace("# A comment.\n", "").replace(" = ", "=");
        assert_eq!(Policy::parse(&reformatted).unwrap().content_hash(), h);
        let changed = GOOD.replace("0.95", "0.96");
        assert_ne!(Policy::parse(&changed).unwrap().content_hash(), h);
        let moved = GOOD.replace("Insults aimed", "Insults directed");
        assert_ne!(Policy::parse(&moved).unwrap().content_hash(), h);
    }

    #[test]
    fn errors_name_line_column_and_field() {
        let e = error_for(&GOOD.replace("0.95", "1.5"));
        assert_eq!(e.field, "categories[1].target_precision");
        assert_eq!((e.line, e.column), (22, 20));
        assert!(
            e.to_string().contains("must be in (0, 1], found 1.5"),
            "{e}"
        );

        let e = error_for(&GOOD.replace("\"block\"", "\"ban\""));
        assert_eq!(e.field, "categories[1].decision");
        assert_eq!(e.line, 21);

        let e = error_for(&GOOD.replace("\"high\"", "\"severe\""));
        assert_eq!(e.field, "categories[1].severity");

        let e = error_for(&GOOD.replace("name = \"harassment\"", "name = \"spam\""));
        assert_eq!(e.field, "categories[1].name");
        assert!(e.message.contains("categories[0]"), "{e}");

        let e = error_for(&GOOD.replace("name = \"spam\"", "name = \"Spam!\""));
        assert_eq!((e.field.as_str(), e.line), ("categories[0].name", 9));

        let e = error_for(&GOOD.replace("[\"You are an idiot.\"]", "[]"));
        assert_eq!(e.field, "categories[1].positive_examples");

        let e = error_for(&GOOD.replace("[\"That idea is silly.\"]", "[\"  \"]"));
        assert_eq!(e.field, "categories[1].negative_examples[0]");

        let e = error_for(&GOOD.replace("id = \"test-chat\"", "id = \"test chat\""));
        assert_eq!((e.field.as_str(), e.line), ("policy.id", 4));

        let e = error_for(&GOOD.replace("version = \"1.0.0\"", "version = \"\""));
        assert_eq!(e.field, "policy.version");
    }

    #[test]
    fn toml_and_schema_errors_have_locations() {
        // Unknown field (a typo) is refused where it stands.
        let e = error_for(&GOOD.replace("severity = \"low\"", "severty = \"low\""));
        assert_eq!(e.line, 11);
        assert!(e.message.contains("severty"), "{e}");
        // Missing field.
        let e = error_for(&GOOD.replace("decision = \"flag\"\n", ""));
        assert!(e.message.contains("decision"), "{e}");
        assert!(e.line >= 8, "{e}");
        // Wrong type.
        let e = error_for(&GOOD.replace("0.9\n", "\"high\"\n"));
        assert_eq!(e.line, 13);
        // Not TOML at all.
        let e = error_for("[policy\nid = 1");
        assert_eq!(e.line, 1);
        // No categories.
        let e = error_for("[policy]\nid = \"a\"\nversion = \"1\"\n");
        assert_eq!(e.field, "categories");
        let e = error_for("categories = []\n[policy]\nid = \"a\"\nversion = \"1\"\n");
        assert_eq!((e.field.as_str(), e.line), ("categories", 1));
    }

    #[test]
    fn bundled_policy_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/moderation/policy.toml");
        let p = Policy::load(&path).unwrap();
        assert!(p.categories.len() >= 4);
    }
}

//! The policy rendered as a chat prompt: a versioned template, and deterministic format variants.
//!
//! [`TEMPLATE_VERSION`] names the template; any change to the rendered text for an existing
//! format must bump it (a unit test pins the canonical rendering), because labels are cached
//! and blobs record it as provenance. A [`PromptFormat`] chooses how the same policy is laid
//! out: bullets or prose, examples before or after each definition, categories in policy order
//! or reversed, the answer instructions before or after the categories. Format 0
//! ([`PromptFormat::CANONICAL`]) is the one whose labels `mote label` writes; the others measure
//! how much the teacher's labels depend on layout alone (the "format sensitivity" of
//! Policy-as-Prompt).

use crate::moderation::policy::{Category, Policy};

/// Version of the prompt template: recorded in caches, labelled-data sidecars and blobs.
pub const TEMPLATE_VERSION: &str = "policy-prompt/1";

/// The line before the message to label; the message follows between [`TEXT_OPEN`] and
/// [`TEXT_CLOSE`] lines.
pub const TEXT_INTRO: &str = "Message to label:";
/// Marks the start of the message in the user turn (on its own line).
pub const TEXT_OPEN: &str = "<<<";
/// Marks the end of the message in the user turn (on its own line).
pub const TEXT_CLOSE: &str = ">>>";

/// Most format variants (every combination of the four layout choices).
pub const MAX_VARIANTS: usize = 16;

/// One chat message of the prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChatMessage {
    /// `system` or `user`.
    pub role: &'static str,
    /// The text.
    pub content: String,
}

/// How the policy is laid out in the system prompt (the meaning never changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PromptFormat {
    /// Categories as flowing sentences instead of headed bullet lists.
    pub prose: bool,
    /// Each category's examples before its definition instead of after.
    pub examples_first: bool,
    /// Categories in reverse policy order.
    pub reversed: bool,
    /// The answer instructions (JSON shape) before the categories instead of after.
    pub answer_first: bool,
}

impl PromptFormat {
    /// Bullets, examples after definitions, policy order, answer instructions last.
    pub const CANONICAL: PromptFormat = PromptFormat {
        prose: false,
        examples_first: false,
        reversed: false,
        answer_first: false,
    };

    /// The first `n` formats (at most [`MAX_VARIANTS`]), always in the same order: the
    /// canonical format, then each single change, then pairs, triples and all four.
    pub fn variants(n: usize) -> Vec<PromptFormat> {
        // Bits: 1 prose, 2 examples first, 4 reversed, 8 answer first.
        const ORDER: [u8; MAX_VARIANTS] = [
            0b0000, 0b0001, 0b0010, 0b0100, 0b1000, 0b0011, 0b0101, 0b1001, 0b0110, 0b1010, 0b1100,
            0b0111, 0b1011, 0b1101, 0b1110, 0b1111,
        ];
        ORDER
            .iter()
            .take(n)
            .map(|&b| PromptFormat {
                prose: b & 1 != 0,
                examples_first: b & 2 != 0,
                reversed: b & 4 != 0,
                answer_first: b & 8 != 0,
            })
            .collect()
    }

    /// A stable name, e.g. `bullets.examples-last.policy-order.answer-last` (part of cache keys).
    pub fn name(&self) -> String {
        format!(
            "{}.{}.{}.{}",
            if self.prose { "prose" } else { "bullets" },
            if self.examples_first {
                "examples-first"
            } else {
                "examples-last"
            },
            if self.reversed {
                "reversed"
            } else {
                "policy-order"
            },
            if self.answer_first {
                "answer-first"
            } else {
                "answer-last"
            },
        )
    }
}

fn quoted_list(examples: &[String]) -> String {
    examples
        .iter()
        .map(|e| format!("\"{e}\""))
        .collect::<Vec<_>>()
        .join("; ")
}

fn category_bullets(c: &Category, examples_first: bool) -> String {
    let definition = format!("Definition: {}\n", c.definition.trim());
    let mut examples = format!("Messages that belong in {}:\n", c.name);
    for e in &c.positive_examples {
        examples.push_str(&format!("- \"{e}\"\n"));
    }
    examples.push_str(&format!("Messages that do not belong in {}:\n", c.name));
    for e in &c.negative_examples {
        examples.push_str(&format!("- \"{e}\"\n"));
    }
    let (first, second) = if examples_first {
        (examples, definition)
    } else {
        (definition, examples)
    };
    format!("## {}\n{first}{second}", c.name)
}

fn category_prose(c: &Category, examples_first: bool) -> String {
    let definition = format!(
        "The category \"{}\" is defined as follows. {}",
        c.name,
        c.definition.trim()
    );
    let examples = format!(
        "Messages such as {} belong in \"{}\"; messages such as {} do not.",
        quoted_list(&c.positive_examples),
        c.name,
        quoted_list(&c.negative_examples)
    );
    if examples_first {
        format!("{examples} {definition}\n")
    } else {
        format!("{definition} {examples}\n")
    }
}

/// The answer instructions: the JSON shape with every category, in policy order.
fn answer_shape(policy: &Policy) -> String {
    let fields: Vec<String> = policy
        .categories
        .iter()
        .map(|c| format!("\"{}\": 0 or 1", c.name))
        .collect();
    format!(
        "Answer with one JSON object and nothing else, of exactly this shape, with every \
         category present and each value the number 0 or 1:\n{{\"labels\": {{{}}}}}\n",
        fields.join(", ")
    )
}

/// The system prompt: the task, the policy, its categories, the answer shape.
pub fn system_prompt(policy: &Policy, format: PromptFormat) -> String {
    let mut out = String::from(
        "You are a content moderator applying a written moderation policy. For every category \
         of the policy, decide whether the message belongs in it: 1 if it does, 0 if it does \
         not. Judge each category on its own; a message may belong in several categories or \
         in none.\n\n",
    );
    out.push_str(&format!(
        "Policy: {} version {}\n",
        policy.id, policy.version
    ));
    if !policy.description.trim().is_empty() {
        out.push_str(policy.description.trim());
        out.push('\n');
    }
    out.push('\n');
    if format.answer_first {
        out.push_str(&answer_shape(policy));
        out.push('\n');
    }
    out.push_str("Categories:\n\n");
    let mut categories: Vec<&Category> = policy.categories.iter().collect();
    if format.reversed {
        categories.reverse();
    }
    for c in categories {
        if format.prose {
            out.push_str(&category_prose(c, format.examples_first));
        } else {
            out.push_str(&category_bullets(c, format.examples_first));
        }
        out.push('\n');
    }
    if !format.answer_first {
        out.push_str(&answer_shape(policy));
    }
    out
}

/// The user turn: the message between marker lines.
pub fn user_prompt(text: &str) -> String {
    format!("{TEXT_INTRO}\n{TEXT_OPEN}\n{text}\n{TEXT_CLOSE}")
}

/// The message a user turn written by [`user_prompt`] asks about.
pub fn text_of_user_prompt(user: &str) -> Option<&str> {
    let rest = user.strip_prefix(TEXT_INTRO)?.strip_prefix('\n')?;
    let rest = rest.strip_prefix(TEXT_OPEN)?.strip_prefix('\n')?;
    rest.strip_suffix(TEXT_CLOSE)?.strip_suffix('\n')
}

/// The whole prompt for one message: system then user.
pub fn render(policy: &Policy, format: PromptFormat, text: &str) -> Vec<ChatMessage> {
    vec![
        ChatMessage {
            role: "system",
            content: system_prompt(policy, format),
        },
        ChatMessage {
            role: "user",
            content: user_prompt(text),
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const POLICY: &str = r#"
[policy]
id = "t-chat"
version = "2"
description = "Test chat."

[[categories]]
name = "spam"
definition = "Advertising."
severity = "low"
decision = "flag"
target_precision = 0.9
positive_examples = ["Buy now!"]
negative_examples = ["I bought bread."]

[[categories]]
name = "insult"
definition = "Insults at a person."
severity = "high"
decision = "block"
target_precision = 0.9
positive_examples = ["You idiot.", "Loser."]
negative_examples = ["Silly idea."]
"#;

    #[test]
    fn canonical_rendering_is_pinned() {
        // Changing this text means changing TEMPLATE_VERSION.
        assert_eq!(TEMPLATE_VERSION, "policy-prompt/1");
        let p = Policy::parse(POLICY).unwrap();
        let expected = "You are a content moderator applying a written moderation policy. For \
every category of the policy, decide whether the message belongs in it: 1 if it does, 0 if it \
does not. Judge each category on its own; a message may belong in several categories or in \
none.

Policy: t-chat version 2
Test chat.

Categories:

## spam
Definition: Advertising.
Messages that belong in spam:
- \"Buy now!\"
Messages that do not belong in spam:
- \"I bought bread.\"

## insult
Definition: Insults at a person.
Messages that belong in insult:
- \"You idiot.\"
- \"Loser.\"
Messages that do not belong in insult:
- \"Silly idea.\"

Answer with one JSON object and nothing else, of exactly this shape, with every category \
present and each value the number 0 or 1:
{\"labels\": {\"spam\": 0 or 1, \"insult\": 0 or 1}}
";
        assert_eq!(system_prompt(&p, PromptFormat::CANONICAL), expected);
        let m = render(&p, PromptFormat::CANONICAL, "hello, you");
        assert_eq!(m[1].role, "user");
        assert_eq!(m[1].content, "Message to label:\n<<<\nhello, you\n>>>");
        assert_eq!(text_of_user_prompt(&m[1].content), Some("hello, you"));
    }

    #[test]
    fn variants_are_deterministic_distinct_and_keep_the_meaning() {
        let p = Policy::parse(POLICY).unwrap();
        let all = PromptFormat::variants(99);
        assert_eq!(all.len(), MAX_VARIANTS);
        assert_eq!(all[0], PromptFormat::CANONICAL);
        assert_eq!(PromptFormat::variants(3), all[..3]);
        let names: std::collections::BTreeSet<String> = all.iter().map(|f| f.name()).collect();
        assert_eq!(names.len(), MAX_VARIANTS);
        assert_eq!(
            all[0].name(),
            "bullets.examples-last.policy-order.answer-last"
        );
        let texts: std::collections::BTreeSet<String> =
            all.iter().map(|&f| system_prompt(&p, f)).collect();
        assert_eq!(
            texts.len(),
            MAX_VARIANTS,
            "every format renders differently"
        );
        for f in all {
            let s = system_prompt(&p, f);
            for needle in [
                "Advertising.",
                "Insults at a person.",
                "\"Buy now!\"",
                "\"Loser.\"",
                "\"Silly idea.\"",
                "{\"labels\": {\"spam\": 0 or 1, \"insult\": 0 or 1}}",
            ] {
                assert!(s.contains(needle), "{} lacks {needle}", f.name());
            }
            let spam = s.find("Advertising.").unwrap();
            let insult = s.find("Insults at").unwrap();
            assert_eq!(spam > insult, f.reversed);
            let shape = s.find("{\"labels\"").unwrap();
            assert_eq!(shape < spam, f.answer_first);
            assert_eq!(s.find("Buy now!").unwrap() < spam, f.examples_first);
            assert_eq!(s.contains("## spam"), !f.prose);
        }
    }
}

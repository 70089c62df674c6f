//! Structured output parsing: the teacher's answer text into one 0/1 label per category.
//!
//! The answer must hold a JSON object `{"labels": {"<category>": 0|1, ...}}` naming every
//! policy category and nothing else. Models often wrap it in a Markdown code fence or add a
//! sentence around it; that is tolerated: the first JSON object in the text that parses is used.
//! Values may be the numbers 0 and 1 (also written `0.0`, `1.0`) or `false` and `true`;
//! anything else is refused, as are missing and unknown categories.

use core::fmt;

/// Why an answer was refused (the labeller retries, then reports it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnswerError {
    /// No JSON object in the text.
    NoJson,
    /// The object has no `labels` object.
    NoLabels,
    /// Categories of the policy the answer does not label.
    Missing(Vec<String>),
    /// Keys that are not categories of the policy.
    Unknown(Vec<String>),
    /// A value that is not 0 or 1.
    BadValue {
        /// The category.
        category: String,
        /// The value as JSON.
        value: String,
    },
}

impl fmt::Display for AnswerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnswerError::NoJson => write!(f, "the answer holds no JSON object"),
            AnswerError::NoLabels => write!(f, "the answer's JSON object has no \"labels\" object"),
            AnswerError::Missing(c) => write!(f, "the answer does not label {}", c.join(", ")),
            AnswerError::Unknown(c) => {
                write!(f, "the answer labels unknown categories {}", c.join(", "))
            }
            AnswerError::BadValue { category, value } => {
                write!(f, "the label of {category} is {value}, not 0 or 1")
            }
        }
    }
}

impl std::error::Error for AnswerError {}

/// Every JSON object embedded in `text` (balanced braces outside strings), first first.
fn json_objects(
    text: &str,
) -> impl Iterator<Item = serde_json::Map<String, serde_json::Value>> + '_ {
    let bytes = text.as_bytes();
    (0..bytes.len())
        .filter(move |&i| bytes[i] == b'{')
        .filter_map(move |start| {
            let mut depth = 0usize;
            let mut in_string = false;
            let mut escaped = false;
            for (i, &b) in bytes.iter().enumerate().skip(start) {
                if in_string {
                    match b {
                        _ if escaped => escaped = false,
                        b'\\' => escaped = true,
                        b'"' => in_string = false,
                        _ => {}
                    }
                    continue;
                }
                match b {
                    b'"' => in_string = true,
                    b'{' => depth += 1,
                    b'}' => {
                        depth -= 1;
                        if depth == 0 {
                            return serde_json::from_str::<serde_json::Value>(&text[start..=i])
                                .ok()
                                .and_then(|v| match v {
                                    serde_json::Value::Object(m) => Some(m),
                                    _ => None,
                                });
                        }
                    }
                    _ => {}
                }
            }
            None
        })
}

/// The labels in `answer`, one per category in `categories` order.
pub fn parse_labels(answer: &str, categories: &[&str]) -> Result<Vec<bool>, AnswerError> {
    let mut saw_object = false;
    let mut labels_object = None;
    for object in json_objects(answer) {
        saw_object = true;
        if let Some(serde_json::Value::Object(labels)) = object.get("labels") {
            labels_object = Some(labels.clone());
            break;
        }
    }
    let labels = match labels_object {
        Some(l) => l,
        None if saw_object => return Err(AnswerError::NoLabels),
        None => return Err(AnswerError::NoJson),
    };
    let unknown: Vec<String> = labels
        .keys()
        .filter(|k| !categories.contains(&k.as_str()))
        .cloned()
        .collect();
    if !unknown.is_empty() {
        return Err(AnswerError::Unknown(unknown));
    }
    let missing: Vec<String> = categories
        .iter()
        .filter(|c| !labels.contains_key(**c))
        .map(|c| c.to_string())
        .collect();
    if !missing.is_empty() {
        return Err(AnswerError::Missing(missing));
    }
    categories
        .iter()
        .map(|&c| match &labels[c] {
            serde_json::Value::Bool(b) => Ok(*b),
            serde_json::Value::Number(n) if n.as_f64() == Some(0.0) => Ok(false),
            serde_json::Value::Number(n) if n.as_f64() == Some(1.0) => Ok(true),
            other => Err(AnswerError::BadValue {
                category: c.to_string(),
                value: other.to_string(),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CATS: [&str; 2] = ["spam", "insult"];

    #[test]
    fn plain_fenced_and_chatty_answers_parse() {
        let ok = |s: &str| parse_labels(s, &CATS).unwrap();
        assert_eq!(ok(r#"{"labels": {"spam": 1, "insult": 0}}"#), [true, false]);
        assert_eq!(
            ok("```json\n{\"labels\": {\"insult\": 1, \"spam\": 0}}\n```"),
            [false, true]
        );
        assert_eq!(
            ok("Sure! Here you go: {\"reason\": \"a } in {text\", \"labels\": {\"spam\": true, \"insult\": 1.0}} Hope it helps."),
            [true, true]
        );
        // A stray brace before the real object.
        assert_eq!(
            ok("{ not json } {\"labels\": {\"spam\": 0, \"insult\": 0}}"),
            [false, false]
        );
    }

    #[test]
    fn bad_answers_are_refused_with_the_reason() {
        let err = |s: &str| parse_labels(s, &CATS).unwrap_err();
        assert_eq!(err("I think it is spam."), AnswerError::NoJson);
        assert_eq!(err("{\"spam\": 1, \"insult\": 0}"), AnswerError::NoLabels);
        assert_eq!(
            err(r#"{"labels": {"spam": 1}}"#),
            AnswerError::Missing(vec!["insult".into()])
        );
        assert_eq!(
            err(r#"{"labels": {"spam": 1, "insult": 0, "toxic": 1}}"#),
            AnswerError::Unknown(vec!["toxic".into()])
        );
        let e = err(r#"{"labels": {"spam": 2, "insult": 0}}"#);
        assert_eq!(e.to_string(), "the label of spam is 2, not 0 or 1");
        assert!(matches!(
            err(r#"{"labels": {"spam": "1", "insult": 0}}"#),
            AnswerError::BadValue { .. }
        ));
        assert!(matches!(
            err(r#"{"labels": {"spam": 0.5, "insult": 0}}"#),
            AnswerError::BadValue { .. }
        ));
    }
}

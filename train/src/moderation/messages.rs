//! Labelled messages: a text column and one 0/1 column per policy category, from CSV or JSONL.
//!
//! CSV follows RFC 4180 (fields may be quoted with `"`, quotes doubled inside, newlines allowed
//! inside quotes); the header names the columns. JSONL holds one object per line. The text is
//! the column `text` (or `comment_text`, as in the Jigsaw toxic-comment files, which therefore
//! load as they are). Every policy category needs a column of the same name; other columns are
//! ignored. Labels are `0` or `1` (JSONL also takes `true`/`false`).

use super::policy::Policy;
use core::fmt;
use sha2::{Digest, Sha256};
use std::path::Path;

/// Names accepted for the text column, in order of preference.
pub const TEXT_COLUMNS: [&str; 2] = ["text", "comment_text"];
/// Name of the optional column that groups messages (see [`Messages::groups`]).
pub const GROUP_COLUMN: &str = "group";

/// Messages with one label per policy category.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Messages {
    /// The category names, in policy order (the order of each row of `labels`).
    pub categories: Vec<String>,
    /// The message texts.
    pub texts: Vec<String>,
    /// Per message, one 0/1 label per category.
    pub labels: Vec<Vec<bool>>,
    /// Per message, the group it belongs to (the optional column [`GROUP_COLUMN`]: the
    /// template a generated message was written from, the thread or source of a real one), or
    /// empty when the file has no such column. Threshold calibration keeps a group's messages
    /// in one fold, so that calibration scores, like the held-out split, come from phrasings
    /// the model did not train on.
    pub groups: Vec<String>,
}

/// Why a messages file could not be loaded; lines are 1-based and count the header.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum MessagesError {
    /// The file could not be read.
    Io {
        /// The file.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// The CSV has no header line, or the JSONL no line at all.
    Empty,
    /// A quoted CSV field is not closed before the end of the file.
    UnclosedQuote {
        /// Line where the field starts.
        line: usize,
    },
    /// There is no text column.
    NoTextColumn {
        /// The columns that exist.
        found: Vec<String>,
    },
    /// Policy categories without a column.
    MissingCategories {
        /// The categories that have no column.
        missing: Vec<String>,
        /// The columns that exist.
        found: Vec<String>,
    },
    /// A CSV record has a different number of fields than the header.
    WrongFieldCount {
        /// Line where the record starts.
        line: usize,
        /// Fields in the header.
        expected: usize,
        /// Fields in the record.
        found: usize,
    },
    /// A label is not 0 or 1.
    BadLabel {
        /// Line of the record.
        line: usize,
        /// The category's column.
        column: String,
        /// The value found.
        value: String,
    },
    /// A JSONL line is not a JSON object with a string text.
    BadJson {
        /// The line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The file has a header but no messages.
    NoRows,
}

impl fmt::Display for MessagesError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MessagesError::Io { path, message } => write!(f, "cannot read {path}: {message}"),
            MessagesError::Empty => write!(f, "the file is empty"),
            MessagesError::UnclosedQuote { line } => {
                write!(f, "line {line}: a quoted field is never closed")
            }
            MessagesError::NoTextColumn { found } => write!(
                f,
                "no text column (expected one named {}); columns: {}",
                TEXT_COLUMNS.join(" or "),
                found.join(", ")
            ),
            MessagesError::MissingCategories { missing, found } => write!(
                f,
                "no column for the policy categories {}; columns: {}",
                missing.join(", "),
                found.join(", ")
            ),
            MessagesError::WrongFieldCount {
                line,
                expected,
                found,
            } => write!(
                f,
                "line {line}: expected {expected} fields like the header, found {found}"
            ),
            MessagesError::BadLabel {
                line,
                column,
                value,
            } => write!(
                f,
                "line {line}, column {column}: label {value:?} is not 0 or 1"
            ),
            MessagesError::BadJson { line, message } => write!(f, "line {line}: {message}"),
            MessagesError::NoRows => write!(f, "the file holds no messages"),
        }
    }
}

impl std::error::Error for MessagesError {}

/// Splits CSV text into records of fields (RFC 4180), each with the line it starts on.
fn csv_records(text: &str) -> Result<Vec<(usize, Vec<String>)>, MessagesError> {
    let mut records = Vec::new();
    let mut fields: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut record_line = 1;
    let mut quoted = false;
    let mut field_started = false;
    let mut quote_line = 1;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                _ => {
                    if c == '\n' {
                        line += 1;
                    }
                    field.push(c);
                }
            }
            continue;
        }
        match c {
            '"' if !field_started => {
                quoted = true;
                field_started = true;
                quote_line = line;
            }
            ',' => {
                fields.push(core::mem::take(&mut field));
                field_started = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                fields.push(core::mem::take(&mut field));
                // Blank lines are skipped.
                if !(fields.len() == 1 && fields[0].trim().is_empty()) {
                    records.push((record_line, core::mem::take(&mut fields)));
                }
                fields.clear();
                field_started = false;
                line += 1;
                record_line = line;
            }
            _ => {
                field.push(c);
                field_started = true;
            }
        }
    }
    if quoted {
        return Err(MessagesError::UnclosedQuote { line: quote_line });
    }
    if field_started || !fields.is_empty() {
        fields.push(field);
        records.push((record_line, fields));
    }
    Ok(records)
}

fn parse_label(value: &str, line: usize, column: &str) -> Result<bool, MessagesError> {
    match value.trim() {
        "0" | "0.0" => Ok(false),
        "1" | "1.0" => Ok(true),
        other => Err(MessagesError::BadLabel {
            line,
            column: column.to_string(),
            value: other.to_string(),
        }),
    }
}

/// Where each needed column is: the text's index and each category's, in policy order.
fn map_columns(names: &[String], policy: &Policy) -> Result<(usize, Vec<usize>), MessagesError> {
    let text = TEXT_COLUMNS
        .iter()
        .find_map(|t| names.iter().position(|n| n == t))
        .ok_or_else(|| MessagesError::NoTextColumn {
            found: names.to_vec(),
        })?;
    let mut columns = Vec::new();
    let mut missing = Vec::new();
    for c in &policy.categories {
        match names.iter().position(|n| *n == c.name) {
            Some(i) => columns.push(i),
            None => missing.push(c.name.clone()),
        }
    }
    if !missing.is_empty() {
        return Err(MessagesError::MissingCategories {
            missing,
            found: names.to_vec(),
        });
    }
    Ok((text, columns))
}

/// Reads the message texts of `path` (CSV or JSONL as for [`Messages::load`]): the text column
/// only, any other column ignored; no labels needed (the input of teacher labelling).
pub fn read_texts(path: &Path) -> Result<Vec<String>, MessagesError> {
    let text = std::fs::read_to_string(path).map_err(|e| MessagesError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("jsonl" | "ndjson") => parse_texts_jsonl(&text),
        _ => parse_texts_csv(&text),
    }
}

/// The text column of CSV text (see [`read_texts`]).
pub fn parse_texts_csv(text: &str) -> Result<Vec<String>, MessagesError> {
    let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
    let mut records = csv_records(text)?.into_iter();
    let (_, header) = records.next().ok_or(MessagesError::Empty)?;
    let names: Vec<String> = header.iter().map(|n| n.trim().to_string()).collect();
    let column = TEXT_COLUMNS
        .iter()
        .find_map(|t| names.iter().position(|n| n == t))
        .ok_or_else(|| MessagesError::NoTextColumn {
            found: names.clone(),
        })?;
    let mut texts = Vec::new();
    for (line, mut fields) in records {
        if fields.len() != names.len() {
            return Err(MessagesError::WrongFieldCount {
                line,
                expected: names.len(),
                found: fields.len(),
            });
        }
        texts.push(fields.swap_remove(column));
    }
    if texts.is_empty() {
        return Err(MessagesError::NoRows);
    }
    Ok(texts)
}

/// The text of each JSONL object (see [`read_texts`]).
pub fn parse_texts_jsonl(text: &str) -> Result<Vec<String>, MessagesError> {
    let mut texts = Vec::new();
    let mut any_line = false;
    for (index, raw) in text.lines().enumerate() {
        if raw.trim().is_empty() {
            continue;
        }
        any_line = true;
        let bad = |message: String| MessagesError::BadJson {
            line: index + 1,
            message,
        };
        let value: serde_json::Value = serde_json::from_str(raw).map_err(|e| bad(e.to_string()))?;
        let object = value
            .as_object()
            .ok_or_else(|| bad("expected a JSON object".into()))?;
        let text = TEXT_COLUMNS
            .iter()
            .find_map(|t| object.get(*t))
            .ok_or_else(|| MessagesError::NoTextColumn {
                found: object.keys().cloned().collect(),
            })?
            .as_str()
            .ok_or_else(|| bad("the text is not a string".into()))?;
        texts.push(text.to_string());
    }
    if !any_line {
        return Err(MessagesError::Empty);
    }
    if texts.is_empty() {
        return Err(MessagesError::NoRows);
    }
    Ok(texts)
}

/// One CSV field, quoted (RFC 4180) when it holds a comma, quote, line break or edge spaces.
pub fn csv_field(field: &str) -> String {
    let needs_quotes = field.contains([',', '"', '\n', '\r'])
        || field.starts_with(' ')
        || field.ends_with(' ')
        || field.is_empty();
    if needs_quotes {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_string()
    }
}

impl Messages {
    /// Loads `path`: JSONL when its extension is `jsonl` or `ndjson`, CSV otherwise.
    pub fn load(path: &Path, policy: &Policy) -> Result<Messages, MessagesError> {
        let text = std::fs::read_to_string(path).map_err(|e| MessagesError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        match path.extension().and_then(|e| e.to_str()) {
            Some("jsonl" | "ndjson") => Messages::parse_jsonl(&text, policy),
            _ => Messages::parse_csv(&text, policy),
        }
    }

    /// Parses CSV text (see the module docs).
    pub fn parse_csv(text: &str, policy: &Policy) -> Result<Messages, MessagesError> {
        let text = text.strip_prefix('\u{FEFF}').unwrap_or(text);
        let mut records = csv_records(text)?.into_iter();
        let (_, header) = records.next().ok_or(MessagesError::Empty)?;
        let names: Vec<String> = header.iter().map(|n| n.trim().to_string()).collect();
        let (text_column, columns) = map_columns(&names, policy)?;
        let group_column = names.iter().position(|n| n == GROUP_COLUMN);
        let mut out = Messages {
            categories: policy.categories.iter().map(|c| c.name.clone()).collect(),
            ..Messages::default()
        };
        for (line, fields) in records {
            if fields.len() != names.len() {
                return Err(MessagesError::WrongFieldCount {
                    line,
                    expected: names.len(),
                    found: fields.len(),
                });
            }
            let labels = columns
                .iter()
                .map(|&i| parse_label(&fields[i], line, &names[i]))
                .collect::<Result<Vec<_>, _>>()?;
            out.texts.push(fields[text_column].clone());
            out.labels.push(labels);
            if let Some(g) = group_column {
                out.groups.push(fields[g].clone());
            }
        }
        if out.texts.is_empty() {
            return Err(MessagesError::NoRows);
        }
        Ok(out)
    }

    /// Parses JSONL text: one object per non-blank line (see the module docs).
    pub fn parse_jsonl(text: &str, policy: &Policy) -> Result<Messages, MessagesError> {
        let mut out = Messages {
            categories: policy.categories.iter().map(|c| c.name.clone()).collect(),
            ..Messages::default()
        };
        let mut any_line = false;
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            if raw.trim().is_empty() {
                continue;
            }
            any_line = true;
            let bad = |message: String| MessagesError::BadJson { line, message };
            let value: serde_json::Value =
                serde_json::from_str(raw).map_err(|e| bad(e.to_string()))?;
            let object = value
                .as_object()
                .ok_or_else(|| bad("expected a JSON object".into()))?;
            let names: Vec<String> = object.keys().cloned().collect();
            let (text_index, columns) = map_columns(&names, policy)?;
            let text = object
                .get(&names[text_index])
                .and_then(|v| v.as_str())
                .ok_or_else(|| bad(format!("{:?} is not a string", names[text_index])))?;
            let mut labels = Vec::with_capacity(columns.len());
            for &i in &columns {
                let name = &names[i];
                let label = match object.get(name) {
                    Some(serde_json::Value::Bool(b)) => *b,
                    Some(serde_json::Value::Number(n)) if n.as_f64() == Some(0.0) => false,
                    Some(serde_json::Value::Number(n)) if n.as_f64() == Some(1.0) => true,
                    other => {
                        return Err(MessagesError::BadLabel {
                            line,
                            column: name.clone(),
                            value: other.map(|v| v.to_string()).unwrap_or_default(),
                        })
                    }
                };
                labels.push(label);
            }
            match object.get(GROUP_COLUMN) {
                Some(serde_json::Value::String(g)) => out.groups.push(g.clone()),
                Some(other) => {
                    return Err(bad(format!("{GROUP_COLUMN:?} is {other}, not a string")))
                }
                None if !out.groups.is_empty() => {
                    return Err(bad(format!(
                        "no {GROUP_COLUMN:?} while earlier lines have one"
                    )))
                }
                None => {}
            }
            if !out.groups.is_empty() && out.groups.len() != out.texts.len() + 1 {
                return Err(bad(format!("{GROUP_COLUMN:?} on some lines only")));
            }
            out.texts.push(text.to_string());
            out.labels.push(labels);
        }
        if !any_line {
            return Err(MessagesError::Empty);
        }
        if out.texts.is_empty() {
            return Err(MessagesError::NoRows);
        }
        Ok(out)
    }

    /// The messages as CSV in the layout [`Messages::parse_csv`] reads: a `text` column, then one
    /// 0/1 column per category, then [`GROUP_COLUMN`] when the messages have groups; `\n` line
    /// ends.
    pub fn to_csv(&self) -> String {
        let mut out = String::from("text");
        for c in &self.categories {
            out.push(',');
            out.push_str(&csv_field(c));
        }
        let grouped = self.groups.len() == self.texts.len() && !self.groups.is_empty();
        if grouped {
            out.push(',');
            out.push_str(GROUP_COLUMN);
        }
        out.push('\n');
        for (i, (text, labels)) in self.texts.iter().zip(&self.labels).enumerate() {
            out.push_str(&csv_field(text));
            for &l in labels {
                out.push_str(if l { ",1" } else { ",0" });
            }
            if let Some(g) = self.groups.get(i).filter(|_| grouped) {
                out.push(',');
                out.push_str(&csv_field(g));
            }
            out.push('\n');
        }
        out
    }

    /// Number of messages.
    pub fn len(&self) -> usize {
        self.texts.len()
    }

    /// True without messages.
    pub fn is_empty(&self) -> bool {
        self.texts.is_empty()
    }

    /// Messages labelled positive, per category.
    pub fn positives(&self) -> Vec<usize> {
        (0..self.categories.len())
            .map(|c| self.labels.iter().filter(|l| l[c]).count())
            .collect()
    }

    /// Messages in no category.
    pub fn clean(&self) -> usize {
        self.labels.iter().filter(|l| !l.iter().any(|&x| x)).count()
    }

    /// The messages at `indices`, in that order.
    pub fn subset(&self, indices: &[usize]) -> Messages {
        Messages {
            categories: self.categories.clone(),
            texts: indices.iter().map(|&i| self.texts[i].clone()).collect(),
            labels: indices.iter().map(|&i| self.labels[i].clone()).collect(),
            groups: indices
                .iter()
                .filter_map(|&i| self.groups.get(i).cloned())
                .collect(),
        }
    }

    /// Row indices whose `index % 5` is in `folds`: the project's split is fold 4 held out.
    pub fn folds(&self, folds: &[usize]) -> Vec<usize> {
        (0..self.len())
            .filter(|i| folds.contains(&(i % 5)))
            .collect()
    }

    /// Lower-case hex SHA-256 over the messages: count, category names, then per message its
    /// text (u32 length-prefixed UTF-8) and its labels (one byte each).
    pub fn fingerprint(&self) -> String {
        let mut h = Sha256::new();
        h.update((self.len() as u64).to_le_bytes());
        for c in &self.categories {
            h.update((c.len() as u32).to_le_bytes());
            h.update(c.as_bytes());
        }
        for (text, labels) in self.texts.iter().zip(&self.labels) {
            h.update((text.len() as u32).to_le_bytes());
            h.update(text.as_bytes());
            h.update(labels.iter().map(|&l| u8::from(l)).collect::<Vec<_>>());
        }
        h.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(names: &[&str]) -> Policy {
        let mut text = String::from("[policy]\nid = \"t\"\nversion = \"1\"\n");
        for n in names {
            text.push_str(&format!(
                "[[categories]]\nname = \"{n}\"\ndefinition = \"d\"\nseverity = \"low\"\n\
                 decision = \"flag\"\ntarget_precision = 0.9\npositive_examples = [\"p\"]\n\
                 negative_examples = [\"n\"]\n"
            ));
        }
        Policy::parse(&text).unwrap()
    }

    #[test]
    fn csv_written_reads_back_and_texts_load_without_labels() {
        let p = policy(&["spam", "harassment"]);
        let m = Messages {
            categories: vec!["spam".into(), "harassment".into()],
            texts: vec![
                "plain".into(),
                "a, \"quoted\"\nline".into(),
                " edge ".into(),
                String::new(),
            ],
            labels: vec![
                vec![true, false],
                vec![false, true],
                vec![false, false],
                vec![true, true],
            ],
            groups: Vec::new(),
        };
        let csv = m.to_csv();
        assert!(
            csv.starts_with("text,spam,harassment\nplain,1,0\n"),
            "{csv}"
        );
        assert_eq!(Messages::parse_csv(&csv, &p).unwrap(), m);
        assert_eq!(parse_texts_csv(&csv).unwrap(), m.texts);
        let texts = parse_texts_csv("id,comment_text,x\n1,hello,2\n2,\"a,b\",3\n").unwrap();
        assert_eq!(texts, ["hello", "a,b"]);
        let texts = parse_texts_jsonl("{\"text\": \"hi\", \"id\": 3}\n\n{\"text\": \"yo\"}\n");
        assert_eq!(texts.unwrap(), ["hi", "yo"]);
        assert!(matches!(
            parse_texts_csv("id,body\n1,x\n"),
            Err(MessagesError::NoTextColumn { .. })
        ));
    }

    #[test]
    fn csv_with_quotes_and_newlines() {
        let p = policy(&["spam", "profanity"]);
        let csv = "id,text,profanity,spam,extra\n\
                   1,\"Hello, \"\"world\"\"\",0,1,x\r\n\
                   \n\
                   2,\"two\nlines\",1,0,y\n\
                   3,plain,1.0,0.0,z";
        let m = Messages::parse_csv(csv, &p).unwrap();
        assert_eq!(m.texts, ["Hello, \"world\"", "two\nlines", "plain"]);
        assert_eq!(
            m.labels,
            [vec![true, false], vec![false, true], vec![false, true]]
        );
        assert_eq!(m.categories, ["spam", "profanity"]);
        assert_eq!(m.positives(), [1, 2]);
        assert_eq!(m.clean(), 0);
    }

    #[test]
    fn jigsaw_layout_loads() {
        let p = policy(&["toxic", "insult"]);
        let csv = "id,comment_text,toxic,severe_toxic,obscene,threat,insult,identity_hate\n\
                   0001,\"You are nice.\",0,0,0,0,0,0\n\
                   0002,\"You are a fool.\",1,0,0,0,1,0\n";
        let m = Messages::parse_csv(csv, &p).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m.labels[1], [true, true]);
    }

    #[test]
    fn csv_errors_are_precise() {
        let p = policy(&["spam", "harassment"]);
        let e = Messages::parse_csv("text,spam\nhi,0\n", &p).unwrap_err();
        assert!(
            matches!(&e, MessagesError::MissingCategories { missing, .. } if missing == &["harassment"])
        );
        assert!(e.to_string().contains("harassment"), "{e}");
        let e = Messages::parse_csv("message,spam,harassment\nhi,0,0\n", &p).unwrap_err();
        assert!(matches!(e, MessagesError::NoTextColumn { .. }));
        let e =
            Messages::parse_csv("text,spam,harassment\nhi,0,0\n\"a\nb\",2,0\n", &p).unwrap_err();
        assert_eq!(
            e,
            MessagesError::BadLabel {
                line: 3,
                column: "spam".into(),
                value: "2".into()
            }
        );
        let e = Messages::parse_csv("text,spam,harassment\nhi,0\n", &p).unwrap_err();
        assert!(matches!(e, MessagesError::WrongFieldCount { line: 2, .. }));
        let e = Messages::parse_csv("text,spam,harassment\n\"hi,0,0\n", &p).unwrap_err();
        assert_eq!(e, MessagesError::UnclosedQuote { line: 2 });
        assert_eq!(
            Messages::parse_csv("text,spam,harassment\n", &p).unwrap_err(),
            MessagesError::NoRows
        );
        assert_eq!(
            Messages::parse_csv("", &p).unwrap_err(),
            MessagesError::Empty
        );
    }

    #[test]
    fn jsonl_loads_and_reports_lines() {
        let p = policy(&["spam", "harassment"]);
        let text = "{\"text\":\"hi\",\"spam\":0,\"harassment\":true}\n\n\
                    {\"comment_text\":\"buy\",\"spam\":1,\"harassment\":false,\"x\":3}\n";
        let m = Messages::parse_jsonl(text, &p).unwrap();
        assert_eq!(m.texts, ["hi", "buy"]);
        assert_eq!(m.labels, [vec![false, true], vec![true, false]]);
        let e = Messages::parse_jsonl("{\"text\":\"hi\",\"spam\":0,\"harassment\":3}\n", &p)
            .unwrap_err();
        assert!(matches!(e, MessagesError::BadLabel { line: 1, .. }));
        let e = Messages::parse_jsonl("{\"text\":\"hi\",\"spam\":0,\"harassment\":0}\n[1]\n", &p)
            .unwrap_err();
        assert!(matches!(e, MessagesError::BadJson { line: 2, .. }));
    }

    #[test]
    fn folds_and_fingerprint() {
        let p = policy(&["spam"]);
        let csv: String = std::iter::once("text,spam\n".to_string())
            .chain((0..12).map(|i| format!("m{i},{}\n", i % 2)))
            .collect();
        let m = Messages::parse_csv(&csv, &p).unwrap();
        assert_eq!(m.folds(&[4]), [4, 9]);
        assert_eq!(m.folds(&[0, 1, 2, 3]).len(), 10);
        let f = m.fingerprint();
        let mut changed = m.clone();
        changed.labels[3][0] = !changed.labels[3][0];
        assert_ne!(changed.fingerprint(), f);
        assert_eq!(m.subset(&[0, 1]).texts, ["m0", "m1"]);
        assert!(m.groups.is_empty() && m.subset(&[0, 1]).groups.is_empty());
    }

    #[test]
    fn groups_are_read_kept_in_subsets_and_written() {
        let p = policy(&["spam"]);
        let m = Messages::parse_csv("group,text,spam\nt1,a,1\nt2,b,0\n\"t,3\",c,0\n", &p).unwrap();
        assert_eq!(m.groups, ["t1", "t2", "t,3"]);
        assert_eq!(m.subset(&[2, 0]).groups, ["t,3", "t1"]);
        let csv = m.to_csv();
        assert!(csv.starts_with("text,spam,group\na,1,t1\n"), "{csv}");
        assert_eq!(Messages::parse_csv(&csv, &p).unwrap(), m);
        let jsonl = "{\"text\":\"a\",\"spam\":1,\"group\":\"g\"}\n{\"text\":\"b\",\"spam\":0,\"group\":\"h\"}\n";
        assert_eq!(Messages::parse_jsonl(jsonl, &p).unwrap().groups, ["g", "h"]);
        for bad in [
            "{\"text\":\"a\",\"spam\":1,\"group\":\"g\"}\n{\"text\":\"b\",\"spam\":0}\n",
            "{\"text\":\"a\",\"spam\":1}\n{\"text\":\"b\",\"spam\":0,\"group\":\"h\"}\n",
            "{\"text\":\"a\",\"spam\":1,\"group\":3}\n",
        ] {
            assert!(
                matches!(
                    Messages::parse_jsonl(bad, &p),
                    Err(MessagesError::BadJson { line: 1 | 2, .. })
                ),
                "{bad}"
            );
        }
    }

    #[test]
    fn bundled_messages_load() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/moderation");
        let policy = Policy::load(&root.join("policy.toml")).unwrap();
        let m = Messages::load(&root.join("messages.csv"), &policy).unwrap();
        assert!(m.len() >= 2000, "{}", m.len());
        assert!(
            m.positives().iter().all(|&n| n >= 300),
            "{:?}",
            m.positives()
        );
    }
}

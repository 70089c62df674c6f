//! Interaction logs and item metadata: streaming CSV readers and the in-memory [`RecData`].
//!
//! Two files describe a platform:
//!
//! - `items.csv`: `item,item_type,text` — one row per item; the text is everything after the
//!   second comma (so it may itself contain commas);
//! - `interactions.csv`: `user,item,item_type,timestamp[,weight]` — one row per interaction,
//!   timestamps in integer seconds, weight a finite non-negative number (default 1).
//!
//! The readers stream line by line through one reused buffer and hand each row to a callback
//! as borrowed fields, so a log of millions of rows is read without a per-row allocation.
//! Every error names the file, the line and the field.

use super::RecError;
use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

/// The header of the interaction log, without and with the optional weight column.
pub const INTERACTIONS_HEADER: &str = "user,item,item_type,timestamp";
/// The header of the item metadata file.
pub const ITEMS_HEADER: &str = "item,item_type,text";

/// One interaction row as read, its fields borrowed from the line buffer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InteractionRow<'a> {
    /// 1-based line number in the file.
    pub line: usize,
    /// User id.
    pub user: &'a str,
    /// Item id.
    pub item: &'a str,
    /// Item type name (e.g. `music`).
    pub item_type: &'a str,
    /// Seconds since an arbitrary epoch.
    pub timestamp: i64,
    /// Strength of the interaction (1 when the column is absent).
    pub weight: f32,
}

/// One item metadata row as read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ItemRow<'a> {
    /// 1-based line number in the file.
    pub line: usize,
    /// Item id.
    pub item: &'a str,
    /// Item type name.
    pub item_type: &'a str,
    /// Free text (title, description, tags).
    pub text: &'a str,
}

fn io_error(path: &str, e: std::io::Error) -> RecError {
    RecError::Io {
        path: path.to_string(),
        message: e.to_string(),
    }
}

/// Reads the header line and checks it; returns how many lines were consumed (1).
fn check_header<R: BufRead>(
    reader: &mut R,
    buf: &mut String,
    source: &str,
    accepted: &[&str],
) -> Result<(), RecError> {
    buf.clear();
    reader.read_line(buf).map_err(|e| io_error(source, e))?;
    let found = buf.trim_end_matches(['\n', '\r']).trim();
    let normalised: String = found
        .split(',')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(",");
    if accepted.contains(&normalised.as_str()) {
        Ok(())
    } else {
        Err(RecError::BadHeader {
            path: source.to_string(),
            expected: accepted.join(" or "),
            found: found.to_string(),
        })
    }
}

fn non_empty<'a>(
    text: &'a str,
    source: &str,
    line: usize,
    field: &'static str,
) -> Result<&'a str, RecError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(RecError::BadField {
            path: source.to_string(),
            line,
            field,
            text: String::new(),
            reason: "empty",
        });
    }
    Ok(text)
}

/// Streams an interaction log: checks the header, parses every non-blank line and calls `row`
/// with it. `source` names the file in errors. Returns the number of rows.
pub fn stream_interactions<R: BufRead>(
    reader: R,
    source: &str,
    mut row: impl FnMut(InteractionRow<'_>) -> Result<(), RecError>,
) -> Result<usize, RecError> {
    let with_weight = format!("{INTERACTIONS_HEADER},weight");
    data_lines(
        reader,
        source,
        &[INTERACTIONS_HEADER, &with_weight],
        |line, text| {
            let mut fields = [""; 5];
            let mut count = 0;
            for field in text.split(',') {
                if count < fields.len() {
                    fields[count] = field;
                }
                count += 1;
            }
            if !(4..=5).contains(&count) {
                return Err(RecError::FieldCount {
                    path: source.to_string(),
                    line,
                    expected: "4 or 5",
                    found: count,
                });
            }
            let user = non_empty(fields[0], source, line, "user")?;
            let item = non_empty(fields[1], source, line, "item")?;
            let item_type = non_empty(fields[2], source, line, "item_type")?;
            let ts_text = fields[3].trim();
            let timestamp = ts_text.parse::<i64>().map_err(|_| RecError::BadField {
                path: source.to_string(),
                line,
                field: "timestamp",
                text: ts_text.to_string(),
                reason: "not an integer number of seconds",
            })?;
            let weight = if count == 5 {
                let w_text = fields[4].trim();
                match w_text.parse::<f32>() {
                    Ok(w) if w.is_finite() && w >= 0.0 => w,
                    _ => {
                        return Err(RecError::BadField {
                            path: source.to_string(),
                            line,
                            field: "weight",
                            text: w_text.to_string(),
                            reason: "not a finite non-negative number",
                        })
                    }
                }
            } else {
                1.0
            };
            row(InteractionRow {
                line,
                user,
                item,
                item_type,
                timestamp,
                weight,
            })
        },
    )
}

/// Streams an item metadata file (`item,item_type,text`); the text is the rest of the line
/// after the second comma. Returns the number of rows.
pub fn stream_items<R: BufRead>(
    reader: R,
    source: &str,
    mut row: impl FnMut(ItemRow<'_>) -> Result<(), RecError>,
) -> Result<usize, RecError> {
    data_lines(reader, source, &[ITEMS_HEADER], |line, text| {
        let mut parts = text.splitn(3, ',');
        let (Some(item), Some(item_type), Some(rest)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(RecError::FieldCount {
                path: source.to_string(),
                line,
                expected: "3",
                found: text.split(',').count(),
            });
        };
        row(ItemRow {
            line,
            item: non_empty(item, source, line, "item")?,
            item_type: non_empty(item_type, source, line, "item_type")?,
            text: rest.trim(),
        })
    })
}

/// Checks the header (one of `headers`), then calls `each(line_number, text)` for every
/// non-blank line after it, without its line ending (the header is line 1). Returns the number
/// of lines `each` took.
fn data_lines<R: BufRead>(
    mut reader: R,
    source: &str,
    headers: &[&str],
    mut each: impl FnMut(usize, &str) -> Result<(), RecError>,
) -> Result<usize, RecError> {
    let mut buf = String::new();
    check_header(&mut reader, &mut buf, source, headers)?;
    let mut line = 1;
    let mut rows = 0;
    loop {
        buf.clear();
        if reader
            .read_line(&mut buf)
            .map_err(|e| io_error(source, e))?
            == 0
        {
            break;
        }
        line += 1;
        let text = buf.trim_end_matches(['\n', '\r']);
        if text.trim().is_empty() {
            continue;
        }
        each(line, text)?;
        rows += 1;
    }
    Ok(rows)
}

/// The items of a platform: ids, types and text, indexed densely from 0.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Catalog {
    /// Item type names, indexed by type id (order of first appearance).
    pub type_names: Vec<String>,
    /// Item ids, indexed by item index.
    pub item_ids: Vec<String>,
    /// Type id of every item.
    pub item_type: Vec<u8>,
    /// Text of every item.
    pub item_text: Vec<String>,
    index: HashMap<String, u32>,
}

impl Catalog {
    /// An empty catalogue with these type names (ids in this order).
    pub fn with_types(type_names: &[&str]) -> Catalog {
        Catalog {
            type_names: type_names.iter().map(|s| s.to_string()).collect(),
            ..Catalog::default()
        }
    }

    /// Number of items.
    pub fn len(&self) -> usize {
        self.item_ids.len()
    }

    /// True if there are no items.
    pub fn is_empty(&self) -> bool {
        self.item_ids.is_empty()
    }

    /// Number of item types.
    pub fn num_types(&self) -> usize {
        self.type_names.len()
    }

    /// The type id of a type name, if known.
    pub fn type_id(&self, name: &str) -> Option<u8> {
        self.type_names
            .iter()
            .position(|t| t == name)
            .map(|i| i as u8)
    }

    /// The index of an item id, if known.
    pub fn item_index(&self, id: &str) -> Option<u32> {
        self.index.get(id).copied()
    }

    /// Adds an item (registering its type if new); returns its index, or `None` if the id is
    /// already present or there would be more than 255 types.
    pub fn push(&mut self, id: &str, item_type: &str, text: &str) -> Option<u32> {
        if self.index.contains_key(id) {
            return None;
        }
        let t = match self.type_id(item_type) {
            Some(t) => t,
            None if self.type_names.len() < 255 => {
                self.type_names.push(item_type.to_string());
                (self.type_names.len() - 1) as u8
            }
            None => return None,
        };
        let index = self.item_ids.len() as u32;
        self.index.insert(id.to_string(), index);
        self.item_ids.push(id.to_string());
        self.item_type.push(t);
        self.item_text.push(text.to_string());
        Some(index)
    }

    /// Item indices of one type, ascending.
    pub fn items_of_type(&self, t: u8) -> Vec<u32> {
        (0..self.len() as u32)
            .filter(|&i| self.item_type[i as usize] == t)
            .collect()
    }

    /// Reads an item metadata file.
    pub fn load(path: &Path) -> Result<Catalog, RecError> {
        let source = path.display().to_string();
        let file = std::fs::File::open(path).map_err(|e| io_error(&source, e))?;
        Catalog::read(std::io::BufReader::new(file), &source)
    }

    /// Reads item metadata from any reader; `source` names it in errors.
    pub fn read<R: BufRead>(reader: R, source: &str) -> Result<Catalog, RecError> {
        let mut catalog = Catalog::default();
        let rows = stream_items(reader, source, |row| {
            if catalog.type_id(row.item_type).is_none() && catalog.num_types() >= 255 {
                return Err(RecError::BadField {
                    path: source.to_string(),
                    line: row.line,
                    field: "item_type",
                    text: row.item_type.to_string(),
                    reason: "more than 255 item types",
                });
            }
            catalog
                .push(row.item, row.item_type, row.text)
                .map(|_| ())
                .ok_or_else(|| RecError::DuplicateItem {
                    path: source.to_string(),
                    line: row.line,
                    item: row.item.to_string(),
                })
        })?;
        if rows == 0 {
            return Err(RecError::NoRows {
                path: source.to_string(),
            });
        }
        Ok(catalog)
    }
}

/// One interaction with dense ids.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interaction {
    /// User index into [`RecData::user_ids`].
    pub user: u32,
    /// Item index into the [`Catalog`].
    pub item: u32,
    /// Seconds since an arbitrary epoch.
    pub timestamp: i64,
    /// Strength of the interaction.
    pub weight: f32,
}

/// A platform's items and interactions, interactions sorted by (user, timestamp).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RecData {
    /// The items.
    pub catalog: Catalog,
    /// User ids, indexed by user index.
    pub user_ids: Vec<String>,
    /// All interactions, grouped by user and time-ordered within a user.
    pub interactions: Vec<Interaction>,
}

impl RecData {
    /// Builds the data set from a catalogue, user ids and interactions in any order (sorted
    /// here, stably, so equal timestamps keep their file order).
    pub fn new(
        catalog: Catalog,
        user_ids: Vec<String>,
        mut interactions: Vec<Interaction>,
    ) -> Self {
        interactions.sort_by_key(|x| (x.user, x.timestamp));
        RecData {
            catalog,
            user_ids,
            interactions,
        }
    }

    /// Loads `items.csv` and `interactions.csv` (the interactions streamed, users interned).
    pub fn load(items: &Path, interactions: &Path) -> Result<RecData, RecError> {
        let catalog = Catalog::load(items)?;
        let source = interactions.display().to_string();
        let file = std::fs::File::open(interactions).map_err(|e| io_error(&source, e))?;
        RecData::read_interactions(catalog, std::io::BufReader::new(file), &source)
    }

    /// Reads an interaction log against a catalogue; `source` names the log in errors.
    pub fn read_interactions<R: BufRead>(
        catalog: Catalog,
        reader: R,
        source: &str,
    ) -> Result<RecData, RecError> {
        let mut users: HashMap<String, u32> = HashMap::new();
        let mut user_ids = Vec::new();
        let mut interactions = Vec::new();
        let rows = stream_interactions(reader, source, |row| {
            let item = catalog
                .item_index(row.item)
                .ok_or_else(|| RecError::UnknownItem {
                    path: source.to_string(),
                    line: row.line,
                    item: row.item.to_string(),
                })?;
            let expected = &catalog.type_names[catalog.item_type[item as usize] as usize];
            if expected != row.item_type {
                return Err(RecError::TypeMismatch {
                    path: source.to_string(),
                    line: row.line,
                    item: row.item.to_string(),
                    expected: expected.clone(),
                    found: row.item_type.to_string(),
                });
            }
            let user = match users.get(row.user) {
                Some(&u) => u,
                None => {
                    let u = user_ids.len() as u32;
                    users.insert(row.user.to_string(), u);
                    user_ids.push(row.user.to_string());
                    u
                }
            };
            interactions.push(Interaction {
                user,
                item,
                timestamp: row.timestamp,
                weight: row.weight,
            });
            Ok(())
        })?;
        if rows == 0 {
            return Err(RecError::NoRows {
                path: source.to_string(),
            });
        }
        Ok(RecData::new(catalog, user_ids, interactions))
    }

    /// Number of users.
    pub fn num_users(&self) -> usize {
        self.user_ids.len()
    }

    /// The interactions of each user, in user order (each slice time-ordered).
    pub fn by_user(&self) -> impl Iterator<Item = &[Interaction]> {
        self.interactions.chunk_by(|a, b| a.user == b.user)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ITEMS: &str = "item,item_type,text\nm1,music,calm piano, night\np1,podcast,news talk\n\na1,audiobook,a long novel\n";

    #[test]
    fn reads_items_and_interactions() {
        let catalog = Catalog::read(ITEMS.as_bytes(), "items.csv").unwrap();
        assert_eq!(catalog.len(), 3);
        assert_eq!(catalog.type_names, ["music", "podcast", "audiobook"]);
        assert_eq!(catalog.item_text[0], "calm piano, night");
        let log = "user,item,item_type,timestamp,weight\nu2,p1,podcast,50,0.5\nu1,m1,music,20,1\nu2,m1,music,10,2\n";
        let data = RecData::read_interactions(catalog, log.as_bytes(), "log.csv").unwrap();
        assert_eq!(data.user_ids, ["u2", "u1"]);
        // Sorted by (user, time).
        let seq: Vec<(u32, u32, i64)> = data
            .interactions
            .iter()
            .map(|x| (x.user, x.item, x.timestamp))
            .collect();
        assert_eq!(seq, [(0, 0, 10), (0, 1, 50), (1, 0, 20)]);
        assert_eq!(data.interactions[1].weight, 0.5);
        assert_eq!(data.by_user().count(), 2);
    }

    #[test]
    fn weight_column_is_optional() {
        let catalog = Catalog::read(ITEMS.as_bytes(), "items.csv").unwrap();
        let log = "user,item,item_type,timestamp\nu1,a1,audiobook,7\n";
        let data = RecData::read_interactions(catalog, log.as_bytes(), "log.csv").unwrap();
        assert_eq!(data.interactions[0].weight, 1.0);
    }

    fn log_error(log: &str) -> String {
        let catalog = Catalog::read(ITEMS.as_bytes(), "items.csv").unwrap();
        RecData::read_interactions(catalog, log.as_bytes(), "log.csv")
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn errors_name_file_line_and_field() {
        let h = "user,item,item_type,timestamp\n";
        assert_eq!(
            log_error(&format!("{h}u1,m1,music,10\nu1,m1,music,soon\n")),
            "log.csv: line 3: field timestamp = \"soon\": not an integer number of seconds"
        );
        assert_eq!(
            log_error(&format!("{h}u1,m1,music,10,-1\n")),
            "log.csv: line 2: field weight = \"-1\": not a finite non-negative number"
        );
        assert_eq!(
            log_error(&format!("{h}u1,m9,music,10\n")),
            "log.csv: line 2: field item = \"m9\": not in the item metadata"
        );
        assert!(log_error(&format!("{h}u1,m1,podcast,10\n")).contains("line 2: field item_type"));
        assert!(log_error(&format!("{h}u1,m1\n")).contains("line 2: expected 4 or 5 fields"));
        assert!(log_error(&format!("{h},m1,music,1\n")).contains("field user = \"\": empty"));
        assert!(log_error("user,item,when\n").contains("line 1: expected the header"));
        assert_eq!(log_error(h), "log.csv: a header but no data rows");
        let dup = "item,item_type,text\nm1,music,x\nm1,music,y\n";
        assert_eq!(
            Catalog::read(dup.as_bytes(), "items.csv")
                .unwrap_err()
                .to_string(),
            "items.csv: line 3: field item = \"m1\": listed twice"
        );
    }

    #[test]
    fn missing_file_is_named() {
        let e = Catalog::load(Path::new("/nonexistent/items.csv")).unwrap_err();
        assert!(e.to_string().starts_with("/nonexistent/items.csv: "), "{e}");
    }
}

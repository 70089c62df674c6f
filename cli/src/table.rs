//! Reading and writing rows of numbers as CSV, the interchange of `mote run`.

use std::fmt::Display;
use std::path::Path;

/// Reads rows of numbers; a first line that does not parse as numbers is taken as a header.
pub fn read_rows<T: std::str::FromStr>(path: &Path) -> Result<Vec<Vec<T>>, String>
where
    T::Err: Display,
{
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut rows = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let parsed: Result<Vec<T>, _> = line.split(',').map(|v| v.trim().parse::<T>()).collect();
        match parsed {
            Ok(row) => rows.push(row),
            Err(_) if index == 0 => continue, // header
            Err(e) => {
                return Err(format!(
                    "{}:{}: not a number ({e}): {line}",
                    path.display(),
                    index + 1
                ))
            }
        }
    }
    Ok(rows)
}

/// Writes rows of numbers, one row per line, comma-separated.
pub fn write_rows<T: Display>(path: &Path, rows: &[Vec<T>]) -> Result<(), String> {
    let mut text = String::new();
    for row in rows {
        let line: Vec<String> = row.iter().map(|v| v.to_string()).collect();
        text.push_str(&line.join(","));
        text.push('\n');
    }
    std::fs::write(path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))
}

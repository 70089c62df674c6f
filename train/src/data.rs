//! Tabular data sets: CSV loading, the project-wide train/test split, and a provenance hash.
//!
//! Everything downstream (training, export calibration, evaluation) reads the same
//! [`Dataset`], so the split rule and the fingerprint live here, in one place.

use core::fmt;
use sha2::{Digest, Sha256};
use std::path::Path;

/// A table of f32 features with one f32 target per row (a class index or a regression value).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Dataset {
    /// One row per sample, each `num_features()` long.
    pub features: Vec<Vec<f32>>,
    /// One target per sample: the class index for classification, the value for regression.
    pub targets: Vec<f32>,
    /// Column names from the CSV header (features only; the target's name is not kept).
    pub feature_names: Vec<String>,
}

/// Why a CSV file could not be loaded; line numbers are 1-based and count the header.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DataError {
    /// The file could not be read.
    Io {
        /// The file.
        path: String,
        /// The operating system's message.
        message: String,
    },
    /// The file has no header line.
    MissingHeader,
    /// The header has fewer than two columns (at least one feature and the target are needed).
    TooFewColumns {
        /// Columns found in the header.
        found: usize,
    },
    /// A data line has a different number of fields than the header.
    WrongFieldCount {
        /// 1-based line number.
        line: usize,
        /// Fields in the header.
        expected: usize,
        /// Fields on this line.
        found: usize,
    },
    /// A field is not a finite number.
    BadNumber {
        /// 1-based line number.
        line: usize,
        /// 1-based column number.
        column: usize,
        /// The offending text.
        text: String,
    },
    /// The header is present but there are no data rows.
    NoRows,
}

impl fmt::Display for DataError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DataError::Io { path, message } => write!(f, "cannot read {path}: {message}"),
            DataError::MissingHeader => write!(f, "the CSV file is empty (expected a header line)"),
            DataError::TooFewColumns { found } => {
                write!(
                    f,
                    "the header has {found} column(s); need at least one feature and a target"
                )
            }
            DataError::WrongFieldCount {
                line,
                expected,
                found,
            } => {
                write!(
                    f,
                    "line {line}: expected {expected} fields like the header, found {found}"
                )
            }
            DataError::BadNumber { line, column, text } => {
                write!(
                    f,
                    "line {line}, column {column}: {text:?} is not a finite number"
                )
            }
            DataError::NoRows => write!(f, "the CSV file has a header but no data rows"),
        }
    }
}

impl std::error::Error for DataError {}

/// The digits data set (UCI Optical Recognition of Handwritten Digits, test part, via
/// scikit-learn; CC BY 4.0): 1797 rows of 64 pixels (0–16) and a label 0–9. Compiled in so that
/// the quickstart and the tests run from anywhere.
pub const DIGITS_CSV: &str = include_str!("../../data/digits.csv");

/// The bundled digits data set, parsed.
pub fn digits() -> Dataset {
    // The bundled file is valid; a parse failure would be a build-time mistake caught by tests.
    Dataset::parse_csv(DIGITS_CSV).unwrap_or_else(|e| panic!("bundled digits.csv: {e}"))
}

impl Dataset {
    /// Loads a comma-separated file with a header row; the last column is the target.
    ///
    /// Blank lines are skipped and fields are trimmed; anything else that is not a finite
    /// number is an error that names its line and column.
    pub fn load_csv(path: &Path) -> Result<Dataset, DataError> {
        let text = std::fs::read_to_string(path).map_err(|e| DataError::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        Dataset::parse_csv(&text)
    }

    /// Parses CSV text in the format of [`Dataset::load_csv`] (useful for tests and embedded data).
    pub fn parse_csv(text: &str) -> Result<Dataset, DataError> {
        let mut lines = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty());
        let (_, header) = lines.next().ok_or(DataError::MissingHeader)?;
        let names: Vec<String> = header.split(',').map(|s| s.trim().to_string()).collect();
        if names.len() < 2 {
            return Err(DataError::TooFewColumns { found: names.len() });
        }
        let n_features = names.len() - 1;
        let mut data = Dataset {
            feature_names: names[..n_features].to_vec(),
            ..Dataset::default()
        };
        for (index, line) in lines {
            let line_no = index + 1;
            let fields: Vec<&str> = line.split(',').collect();
            if fields.len() != names.len() {
                return Err(DataError::WrongFieldCount {
                    line: line_no,
                    expected: names.len(),
                    found: fields.len(),
                });
            }
            let mut row = Vec::with_capacity(names.len());
            for (col, field) in fields.iter().enumerate() {
                let text = field.trim();
                match text.parse::<f32>() {
                    Ok(v) if v.is_finite() => row.push(v),
                    _ => {
                        return Err(DataError::BadNumber {
                            line: line_no,
                            column: col + 1,
                            text: text.to_string(),
                        })
                    }
                }
            }
            data.targets.push(row.pop().unwrap_or_default());
            data.features.push(row);
        }
        if data.features.is_empty() {
            return Err(DataError::NoRows);
        }
        Ok(data)
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// True if there are no rows.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// Number of feature columns (the model's input length).
    pub fn num_features(&self) -> usize {
        self.features
            .first()
            .map_or(self.feature_names.len(), Vec::len)
    }

    /// The rows at `indices`, in that order, with the same feature names.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        Dataset {
            features: indices.iter().map(|&i| self.features[i].clone()).collect(),
            targets: indices.iter().map(|&i| self.targets[i]).collect(),
            feature_names: self.feature_names.clone(),
        }
    }

    /// The project-wide split: `(train, test)` where row `i` is test iff `i % 5 == 4`.
    ///
    /// Deterministic and order-based, so every crate and every reference number (scikit-learn,
    /// GPy) uses exactly the same 80/20 split.
    pub fn split_mod5(&self) -> (Dataset, Dataset) {
        let (test, train): (Vec<usize>, Vec<usize>) = (0..self.len()).partition(|i| i % 5 == 4);
        (self.subset(&train), self.subset(&test))
    }

    /// Number of classes for a classification target: `max(label) + 1` (0 when empty).
    pub fn num_classes(&self) -> usize {
        self.targets.iter().fold(0.0f32, |m, &t| m.max(t)) as usize + usize::from(!self.is_empty())
    }

    /// Lower-case hex SHA-256 over the data values, recorded in checkpoints as provenance.
    ///
    /// Hashed, all little-endian: row count and feature count as u64, then per row its features
    /// and then its target as f32 bit patterns. Feature names are not hashed, so renaming a
    /// column keeps the fingerprint; any changed, added or reordered value changes it.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update((self.len() as u64).to_le_bytes());
        hasher.update((self.num_features() as u64).to_le_bytes());
        for (row, target) in self.features.iter().zip(&self.targets) {
            for v in row {
                hasher.update(v.to_le_bytes());
            }
            hasher.update(target.to_le_bytes());
        }
        hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn data_path(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../data")
            .join(name)
    }

    #[test]
    fn parses_and_reports_errors_with_lines() {
        let d = Dataset::parse_csv("a,b,y\n1,2,0\n\n3, 4 ,1\n").unwrap();
        assert_eq!(d.features, vec![vec![1.0, 2.0], vec![3.0, 4.0]]);
        assert_eq!(d.targets, vec![0.0, 1.0]);
        assert_eq!(d.feature_names, vec!["a", "b"]);
        assert_eq!(d.num_features(), 2);

        let e = Dataset::parse_csv("a,b,y\n1,2,0\n1,2\n").unwrap_err();
        assert_eq!(
            e,
            DataError::WrongFieldCount {
                line: 3,
                expected: 3,
                found: 2
            }
        );
        let e = Dataset::parse_csv("a,b,y\n1,x,0\n").unwrap_err();
        assert_eq!(
            e,
            DataError::BadNumber {
                line: 2,
                column: 2,
                text: "x".into()
            }
        );
        assert!(e.to_string().contains("line 2, column 2"));
        let e = Dataset::parse_csv("a,b,y\n1,nan,0\n").unwrap_err();
        assert!(matches!(e, DataError::BadNumber { line: 2, .. }));
        assert_eq!(
            Dataset::parse_csv("").unwrap_err(),
            DataError::MissingHeader
        );
        assert_eq!(
            Dataset::parse_csv("y\n1\n").unwrap_err(),
            DataError::TooFewColumns { found: 1 }
        );
        assert_eq!(Dataset::parse_csv("a,y\n").unwrap_err(), DataError::NoRows);
        let e = Dataset::load_csv(Path::new("/nonexistent/x.csv")).unwrap_err();
        assert!(matches!(e, DataError::Io { .. }));
    }

    #[test]
    fn bundled_data_sets_load() {
        let digits = Dataset::load_csv(&data_path("digits.csv")).unwrap();
        assert_eq!(
            (digits.len(), digits.num_features(), digits.num_classes()),
            (1797, 64, 10)
        );
        let diabetes = Dataset::load_csv(&data_path("diabetes.csv")).unwrap();
        assert_eq!((diabetes.len(), diabetes.num_features()), (442, 10));
        let cancer = Dataset::load_csv(&data_path("breast_cancer.csv")).unwrap();
        assert_eq!((cancer.len(), cancer.num_classes()), (569, 2));
    }

    #[test]
    fn split_mod5_is_interleaved() {
        let d = Dataset {
            features: (0..12).map(|i| vec![i as f32]).collect(),
            targets: (0..12).map(|i| i as f32).collect(),
            feature_names: vec!["x".into()],
        };
        let (train, test) = d.split_mod5();
        assert_eq!(test.targets, vec![4.0, 9.0]);
        assert_eq!(train.len(), 10);
        assert!(!train.targets.contains(&4.0));
    }

    #[test]
    fn fingerprint_tracks_values() {
        let d = Dataset::parse_csv("a,y\n1,0\n2,1\n").unwrap();
        let f = d.fingerprint();
        assert_eq!(f.len(), 64);
        assert_eq!(f, d.clone().fingerprint());
        let mut e = d.clone();
        e.features[1][0] = 2.5;
        assert_ne!(f, e.fingerprint());
        let mut renamed = d.clone();
        renamed.feature_names[0] = "b".into();
        assert_eq!(f, renamed.fingerprint());
    }
}

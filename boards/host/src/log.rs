//! Decodes the defmt frames the firmware wrote, with the table in its ELF.

use crate::BoardError;

/// One decoded log message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// `error`, `warn`, ... or `None` for `println!`.
    pub level: Option<String>,
    /// The formatted message.
    pub text: String,
}

impl std::fmt::Display for Line {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.level {
            Some(level) => write!(f, "[{level}] {}", self.text),
            None => f.write_str(&self.text),
        }
    }
}

/// Decodes every complete frame in `stream` using the defmt table of `elf` (the ELF's bytes).
///
/// A truncated last frame (firmware killed mid-write) is dropped; a malformed one is an error.
pub fn decode(elf: &[u8], stream: &[u8]) -> Result<Vec<Line>, BoardError> {
    let table = defmt_decoder::Table::parse(elf)
        .map_err(|e| BoardError::Defmt(format!("reading the table: {e}")))?
        .ok_or_else(|| BoardError::Defmt("the ELF has no .defmt section".into()))?;
    let mut decoder = table.new_stream_decoder();
    decoder.received(stream);
    let mut lines = Vec::new();
    loop {
        match decoder.decode() {
            Ok(frame) => lines.push(Line {
                level: frame.level().map(|l| l.as_str().to_string()),
                text: frame.display_message().to_string(),
            }),
            Err(defmt_decoder::DecodeError::UnexpectedEof) => break,
            Err(defmt_decoder::DecodeError::Malformed) => {
                return Err(BoardError::Defmt(format!(
                    "malformed frame after {} good ones",
                    lines.len()
                )))
            }
        }
    }
    Ok(lines)
}

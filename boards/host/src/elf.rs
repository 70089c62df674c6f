//! What the host reads from the firmware ELF: section sizes and a few symbols.

use crate::BoardError;
use object::{Object, ObjectSection, ObjectSymbol};

/// Sizes of the firmware's sections, in bytes (from the section headers).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct Sections {
    /// `.vector_table`: the exception vectors (flash).
    pub vector_table: u64,
    /// `.text`: code (flash).
    pub text: u64,
    /// `.rodata`: constants (flash).
    pub rodata: u64,
    /// `.data`: initialised statics (RAM, with their initial values in flash).
    pub data: u64,
    /// `.bss` plus `.uninit`: zeroed and uninitialised statics (RAM).
    pub bss: u64,
}

impl Sections {
    /// Flash the firmware itself takes: vectors, code, constants and `.data`'s initial values.
    /// The model partition is not included.
    pub fn flash(&self) -> u64 {
        self.vector_table + self.text + self.rodata + self.data
    }
}

/// A parsed firmware ELF.
pub struct Elf<'a> {
    file: object::File<'a>,
}

impl<'a> Elf<'a> {
    /// Parses `bytes` as an ELF.
    pub fn parse(bytes: &'a [u8]) -> Result<Elf<'a>, BoardError> {
        let file = object::File::parse(bytes).map_err(|e| BoardError::Elf(e.to_string()))?;
        Ok(Elf { file })
    }

    /// Size of the named section, 0 if absent.
    pub fn section_size(&self, name: &str) -> u64 {
        self.file.section_by_name(name).map_or(0, |s| s.size())
    }

    /// The section sizes behind flash and RAM figures.
    pub fn sections(&self) -> Sections {
        Sections {
            vector_table: self.section_size(".vector_table"),
            text: self.section_size(".text"),
            rodata: self.section_size(".rodata"),
            data: self.section_size(".data"),
            bss: self.section_size(".bss") + self.section_size(".uninit"),
        }
    }

    /// Address and size of the named symbol.
    pub fn symbol(&self, name: &str) -> Result<(u64, u64), BoardError> {
        self.file
            .symbols()
            .find(|s| s.name() == Ok(name))
            .map(|s| (s.address(), s.size()))
            .ok_or_else(|| BoardError::Elf(format!("no symbol `{name}`")))
    }

    /// The model partition's `[start, end)` as linked (from `memory.x`).
    pub fn partition(&self) -> Result<(u64, u64), BoardError> {
        Ok((
            self.symbol("_mote_partition_start")?.0,
            self.symbol("_mote_partition_end")?.0,
        ))
    }
}

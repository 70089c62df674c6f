//! The featurizer as it was first written, kept as the test oracle: the straightforward
//! reading of the module docs (a `match` per character, a fresh buffer per word, one hash pass
//! per feature). The fast featurizer in `text.rs` must emit exactly what this one emits, word
//! for word, bucket for bucket and shape for shape; `text.rs`'s differential tests check it.

use super::{
    fnv1a32, fnv1a32_continue, FeatureSink, Shape, MAX_BUCKET_BITS, MAX_WORD_CHARS,
    MIN_BUCKET_BITS, STREET_TYPES,
};
use crate::Error;

const PHONE_DIGITS: u8 = 7;
const HOUSE_NUMBER_DIGITS: usize = 5;
const REPLACEMENT: char = '\u{FFFD}';

/// FNV-1a over `c`'s UTF-8 bytes.
fn hash_char(state: u32, c: char) -> u32 {
    let mut buf = [0u8; 4];
    fnv1a32_continue(state, c.encode_utf8(&mut buf).as_bytes())
}

/// Whether a word's unigram hash is that of a [`STREET_TYPES`] word.
fn is_street_type(unigram: u32) -> bool {
    STREET_TYPES
        .iter()
        .any(|t| fnv1a32_continue(fnv1a32(b"w"), t.as_bytes()) == unigram)
}

/// What one decoded character is to the featurizer.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    /// A letter, folded; `upper` if it was a capital that case folding tracks.
    Letter { c: char, upper: bool },
    /// An ASCII digit.
    Digit(u8),
    /// `@`, `$` or `*`: a word character without being a letter.
    Symbol(char),
    /// A pictograph: a word by itself.
    Pictograph(char),
    /// Ignored entirely.
    Skip,
    /// `!`.
    Bang,
    /// Ends a word.
    Separator,
}

/// Base letters of U+00C0..=U+00FF (`\0` marks a non-letter, `*` a letter kept as it is).
const LATIN1: &[u8; 64] = b"aaaaaa*ceeeeiiii*nooooo\0ouuuuy**aaaaaa*ceeeeiiii*nooooo\0ouuuuy*y";

/// Base letters of U+0100..=U+017F.
const LATIN_EXT_A: &[u8; 128] = b"aaaaaaccccccccddddeeeeeeeeeegggggggghhhhiiiiiiiiiiiijjkkkllllllllllnnnnnnnnnoooooooorrrrrrssssssssttttttuuuuuuuuuuuuwwyyyzzzzzzs";

fn classify(c: char) -> Class {
    let code = c as u32;
    match c {
        'a'..='z' => Class::Letter { c, upper: false },
        'A'..='Z' => Class::Letter {
            c: c.to_ascii_lowercase(),
            upper: true,
        },
        '0'..='9' => Class::Digit(code as u8 - b'0'),
        '@' | '$' | '*' => Class::Symbol(c),
        '!' => Class::Bang,
        '\''
        | '\u{AD}'
        | '\u{2018}'
        | '\u{2019}'
        | '\u{200B}'..='\u{200D}'
        | '\u{2060}'
        | '\u{FEFF}'
        | '\u{FE00}'..='\u{FE0F}'
        | '\u{300}'..='\u{36F}' => Class::Skip,
        '\u{C0}'..='\u{FF}' => {
            let index = (code - 0xC0) as usize;
            match LATIN1.get(index) {
                Some(0) | None => Class::Separator,
                Some(b'*') => {
                    // Æ Ð Þ (and their small forms, ß, ÿ...) stay themselves, small.
                    let small = if (0xC0..0xDF).contains(&code) {
                        char::from_u32(code + 0x20).unwrap_or(c)
                    } else {
                        c
                    };
                    Class::Letter {
                        c: small,
                        upper: code < 0xDF,
                    }
                }
                Some(&base) => Class::Letter {
                    c: base as char,
                    upper: code < 0xDF,
                },
            }
        }
        '\u{100}'..='\u{17F}' => match LATIN_EXT_A.get((code - 0x100) as usize) {
            Some(&base) => Class::Letter {
                c: base as char,
                upper: false,
            },
            None => Class::Separator,
        },
        // Greek and Cyrillic capitals.
        '\u{391}'..='\u{3A9}' | '\u{410}'..='\u{42F}' => Class::Letter {
            c: char::from_u32(code + 0x20).unwrap_or(c),
            upper: true,
        },
        '\u{400}'..='\u{40F}' => Class::Letter {
            c: char::from_u32(code + 0x50).unwrap_or(c),
            upper: true,
        },
        '\u{2600}'..='\u{27BF}' | '\u{1F000}'..='\u{1FAFF}' => Class::Pictograph(c),
        // Latin-1 punctuation, general punctuation, symbols, arrows, maths, boxes, CJK
        // punctuation, specials (U+FFFD among them).
        '\u{0}'..='\u{BF}'
        | '\u{2000}'..='\u{2BFF}'
        | '\u{3000}'..='\u{303F}'
        | '\u{FFF0}'..='\u{FFFF}' => Class::Separator,
        _ => Class::Letter { c, upper: false },
    }
}

/// The letter a digit or symbol stands for inside a word with letters, if any.
fn leet(c: char) -> char {
    match c {
        '0' => 'o',
        '1' => 'i',
        '3' => 'e',
        '4' => 'a',
        '5' => 's',
        '7' => 't',
        '@' => 'a',
        '$' => 's',
        other => other,
    }
}

/// The reference featurizer: same interface as `text::Featurizer`.
#[derive(Debug, Clone)]
pub struct Reference {
    bits: u8,
    /// UTF-8 decoding: the code point so far, continuation bytes still expected, and the
    /// smallest code point the sequence may encode (to refuse overlong forms).
    utf8_code: u32,
    utf8_need: u8,
    utf8_min: u32,
    /// The current word, folded but not yet normalised.
    word: [char; MAX_WORD_CHARS],
    word_len: u8,
    has_letter: bool,
    letters: u8,
    upper: u8,
    /// FNV state after `"b" + previous word + " "`, once there was a word.
    bigram_prefix: Option<u32>,
    in_bang: bool,
    /// The current word has an `@` after its first character, with something after it.
    at_inside: bool,
    /// The last word was an email candidate ended by `.`: a letter or digit next is an email.
    email_dot: bool,
    /// Digits in the current run of words without letters (saturating).
    run_digits: u8,
    /// `phone` was emitted for the current run.
    phone_done: bool,
    /// Words ended since the last house number (a letterless word of 1 to 5 digits;
    /// saturating, `u8::MAX`: none yet).
    since_number: u8,
    /// The unigram hash of the last word, when it had letters.
    last_unigram: Option<u32>,
}

impl Reference {
    /// A featurizer mapping features to `2^bits` buckets; `bits` in
    /// [`MIN_BUCKET_BITS`]`..=`[`MAX_BUCKET_BITS`] ([`Error::BadDimension`] otherwise).
    pub fn new(bits: u8) -> Result<Reference, Error> {
        if !(MIN_BUCKET_BITS..=MAX_BUCKET_BITS).contains(&bits) {
            return Err(Error::BadDimension);
        }
        Ok(Reference {
            bits,
            utf8_code: 0,
            utf8_need: 0,
            utf8_min: 0,
            word: ['\0'; MAX_WORD_CHARS],
            word_len: 0,
            has_letter: false,
            letters: 0,
            upper: 0,
            bigram_prefix: None,
            in_bang: false,
            at_inside: false,
            email_dot: false,
            run_digits: 0,
            phone_done: false,
            since_number: u8::MAX,
            last_unigram: None,
        })
    }

    /// Feeds the next bytes of the message.
    pub fn push(&mut self, bytes: &[u8], sink: &mut impl FeatureSink) {
        for &b in bytes {
            self.push_byte(b, sink);
        }
    }

    /// Ends the message: flushes a pending word or UTF-8 sequence and resets the state, so the
    /// featurizer is ready for the next message.
    pub fn finish(&mut self, sink: &mut impl FeatureSink) {
        if self.utf8_need > 0 {
            self.utf8_need = 0;
            self.push_char(REPLACEMENT, sink);
        }
        self.end_word(sink);
        self.bigram_prefix = None;
        self.in_bang = false;
        self.email_dot = false;
        self.run_digits = 0;
        self.phone_done = false;
        self.since_number = u8::MAX;
        self.last_unigram = None;
    }

    /// Features of a whole message: `push(text)` then `finish`.
    pub fn featurize(&mut self, text: &[u8], sink: &mut impl FeatureSink) {
        self.push(text, sink);
        self.finish(sink);
    }

    fn push_byte(&mut self, b: u8, sink: &mut impl FeatureSink) {
        if self.utf8_need > 0 {
            if b & 0xC0 == 0x80 {
                self.utf8_code = (self.utf8_code << 6) | u32::from(b & 0x3F);
                self.utf8_need -= 1;
                if self.utf8_need == 0 {
                    let c = if self.utf8_code < self.utf8_min {
                        REPLACEMENT
                    } else {
                        char::from_u32(self.utf8_code).unwrap_or(REPLACEMENT)
                    };
                    self.push_char(c, sink);
                }
                return;
            }
            // The sequence broke off: it stands for one replacement character, and this byte
            // starts afresh.
            self.utf8_need = 0;
            self.push_char(REPLACEMENT, sink);
        }
        match b {
            0x00..=0x7F => self.push_char(b as char, sink),
            0xC2..=0xDF => self.start_sequence(u32::from(b & 0x1F), 1, 0x80),
            0xE0..=0xEF => self.start_sequence(u32::from(b & 0x0F), 2, 0x800),
            0xF0..=0xF4 => self.start_sequence(u32::from(b & 0x07), 3, 0x1_0000),
            _ => self.push_char(REPLACEMENT, sink),
        }
    }

    fn start_sequence(&mut self, code: u32, need: u8, min: u32) {
        self.utf8_code = code;
        self.utf8_need = need;
        self.utf8_min = min;
    }

    fn push_char(&mut self, c: char, sink: &mut impl FeatureSink) {
        let class = classify(c);
        if class != Class::Skip && class != Class::Bang {
            self.in_bang = false;
        }
        if class != Class::Skip && core::mem::take(&mut self.email_dot) {
            if let Class::Letter { .. } | Class::Digit(_) = class {
                self.emit_shape(Shape::Email, sink);
            }
        }
        match class {
            Class::Skip => {}
            Class::Letter { c, upper } => {
                let len = usize::from(self.word_len);
                let repeats = len >= 2
                    && self.word.get(len - 1) == Some(&c)
                    && self.word.get(len - 2) == Some(&c);
                if !repeats && self.store(c) {
                    self.has_letter = true;
                    self.letters = self.letters.saturating_add(1);
                    self.upper = self.upper.saturating_add(u8::from(upper));
                }
            }
            Class::Digit(d) => {
                self.store((b'0' + d) as char);
            }
            Class::Symbol(s) => {
                if s == '@' && self.word_len > 0 {
                    self.at_inside = true;
                }
                self.store(s);
            }
            Class::Pictograph(p) => {
                self.end_word(sink);
                self.store(p);
                self.has_letter = true;
                self.end_word(sink);
            }
            Class::Bang => {
                self.end_word(sink);
                if !self.in_bang {
                    self.in_bang = true;
                    self.emit_shape(Shape::Bang, sink);
                }
            }
            Class::Separator => {
                let email = self.has_letter
                    && self.at_inside
                    && self.word.get(usize::from(self.word_len).wrapping_sub(1)) != Some(&'@');
                self.end_word(sink);
                self.email_dot = email && c == '.';
            }
        }
    }

    /// Appends to the current word; false when the word is full.
    fn store(&mut self, c: char) -> bool {
        match self.word.get_mut(usize::from(self.word_len)) {
            Some(slot) => {
                *slot = c;
                self.word_len += 1;
                true
            }
            None => false,
        }
    }

    fn emit_shape(&self, shape: Shape, sink: &mut impl FeatureSink) {
        sink.feature(self.bucket(fnv1a32(shape.feature())));
        sink.shape(shape);
    }

    fn bucket(&self, hash: u32) -> u32 {
        let mask = (1u32 << self.bits) - 1;
        ((hash >> self.bits) ^ hash) & mask
    }

    /// Normalises the pending word (if any) and emits its features.
    fn end_word(&mut self, sink: &mut impl FeatureSink) {
        let len = usize::from(self.word_len);
        if len == 0 {
            return;
        }
        let mut normal = ['\0'; MAX_WORD_CHARS];
        let mut n = 0;
        for &c in self.word.iter().take(len) {
            let c = if self.has_letter {
                leet(c)
            } else if c.is_ascii_digit() {
                '#'
            } else {
                c
            };
            let repeats = self.has_letter
                && n >= 2
                && normal.get(n - 1) == Some(&c)
                && normal.get(n - 2) == Some(&c);
            if !repeats {
                if let Some(slot) = normal.get_mut(n) {
                    *slot = c;
                    n += 1;
                }
            }
        }
        let word = normal.get(..n).unwrap_or(&[]);
        sink.word(word);
        // Unigram.
        let unigram = word.iter().fold(fnv1a32(b"w"), |h, &c| hash_char(h, c));
        sink.feature(self.bucket(unigram));
        // Bigram with the previous word.
        if let Some(prefix) = self.bigram_prefix {
            let bigram = word.iter().fold(prefix, |h, &c| hash_char(h, c));
            sink.feature(self.bucket(bigram));
        }
        let prefix = word.iter().fold(fnv1a32(b"b"), |h, &c| hash_char(h, c));
        self.bigram_prefix = Some(fnv1a32_continue(prefix, b" "));
        // Character trigrams of "<" + word + ">".
        let at = |k: usize| -> char {
            if k == 0 {
                '<'
            } else {
                word.get(k - 1).copied().unwrap_or('>')
            }
        };
        for start in 0..n {
            let h = [at(start), at(start + 1), at(start + 2)]
                .iter()
                .fold(fnv1a32(b"c"), |h, &c| hash_char(h, c));
            sink.feature(self.bucket(h));
        }
        if self.letters >= 2 && self.upper == self.letters {
            self.emit_shape(Shape::Caps, sink);
        }
        let digits = word.iter().filter(|&&c| c == '#').count();
        let number = !self.has_letter && digits == n && n <= HOUSE_NUMBER_DIGITS;
        // Street type after a house number (`42 Maple Street`), or before one (`Oak Ave 7`).
        let address = if self.has_letter {
            self.since_number <= 1 && is_street_type(unigram)
        } else {
            number && self.last_unigram.is_some_and(is_street_type)
        };
        if address {
            sink.shape(Shape::Address);
        }
        self.since_number = if number {
            0
        } else {
            self.since_number.saturating_add(1)
        };
        self.last_unigram = self.has_letter.then_some(unigram);
        if self.has_letter {
            self.run_digits = 0;
            self.phone_done = false;
        } else {
            self.run_digits = self
                .run_digits
                .saturating_add(u8::try_from(digits).unwrap_or(u8::MAX));
            if self.run_digits >= PHONE_DIGITS && !self.phone_done {
                self.phone_done = true;
                self.emit_shape(Shape::Phone, sink);
            }
        }
        self.at_inside = false;
        self.word_len = 0;
        self.has_letter = false;
        self.letters = 0;
        self.upper = 0;
    }
}

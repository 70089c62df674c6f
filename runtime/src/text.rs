//! Text features for moderation: normalisation and hashed word and character n-grams.
//!
//! One implementation for the host and the device: `mote-train` learns from exactly the
//! features this module emits, so a model sees the same buckets in training and on the
//! microcontroller, bit for bit. The featurizer streams: it takes the message in chunks of any
//! size, keeps a bounded state (about 200 bytes, no allocation), never panics, and treats
//! invalid UTF-8 as a separator.
//!
//! # Normalisation
//!
//! Bytes are decoded as UTF-8; every invalid or truncated sequence becomes U+FFFD (a
//! separator). Each character is then
//!
//! - **folded**: ASCII and Latin-1 capitals to lower case; Latin-1 and Latin Extended-A letters
//!   with diacritics to their ASCII base letter (`é` → `e`, `Ł` → `l`); Greek and Cyrillic
//!   capitals to lower case; other characters from U+00C0 up are letters kept as they are;
//! - **skipped** (they neither appear nor split words): apostrophes `'` U+2018 U+2019, the soft
//!   hyphen U+00AD, combining diacritics U+0300–U+036F, zero-width characters U+200B–U+200D,
//!   U+2060, U+FEFF and variation selectors U+FE00–U+FE0F, so `d.o.n't` → `d o nt` but
//!   `i\u{200B}diot` → `idiot`;
//! - a **word character**: letters, digits, `@`, `$` and `*`;
//! - a **symbol** (pictographs U+2600–U+27BF and U+1F000–U+1FAFF): a word of its own;
//! - `!`: a separator that also emits the feature `bang` once per run of `!`;
//! - anything else: a separator.
//!
//! A **word** is a maximal run of word characters, at most [`MAX_WORD_CHARS`] of them (later
//! ones are dropped; a letter is also dropped when the two stored before it are the same
//! letter). A word with at least one letter is normalised further: digits and symbols that
//! stand for letters are replaced (`0`→`o`, `1`→`i`, `3`→`e`, `4`→`a`, `5`→`s`, `7`→`t`,
//! `@`→`a`, `$`→`s`), then every run of one repeated character is cut to two
//! (`fr33eee` → `free`, `l0000ser` → `looser`, `h3ll0o0o` → `helloo`). A word without letters
//! becomes its **shape**: each digit becomes `#`, `@` `$` `*` stay (`555-0142` → `###`,
//! `####`; `$500` → `$###`).
//!
//! # Features
//!
//! For every normalised word `w` (in order), with `u` the previous word of the message:
//!
//! 1. the word unigram `"w" + w`;
//! 2. the word bigram `"b" + u + " " + w` (not for the first word);
//! 3. the character trigrams of `"<" + w + ">"`: `"c" + t` for each window `t` of three
//!    characters (a word of `n` characters has `n` of them);
//! 4. `"s" + "caps"` when the word had at least two letters, all upper case before folding
//!    (ASCII and Latin-1 letters count).
//!
//! and `"s" + "bang"` for each run of `!`, and two shape features for contact details, whose
//! words alone (`jane`, `doeaexample`, `###`) say little:
//!
//! - `"s" + "email"` when a word with letters that has an `@` after its first character is
//!   ended by `.` and the next character is a letter or digit (`jane.doe@example.com`: the word
//!   `doe@example`, then `.c`); once per such word;
//! - `"s" + "phone"` once a run of consecutive words without letters holds seven or more digits
//!   (`555-014-2287`, `+44 7700 900123`); once per run. A word with letters or a pictograph
//!   ends the run.
//!
//! A third shape, `address`, is reported to [`FeatureSink::shape`] but not hashed: a word of
//! [`STREET_TYPES`] (`street`, `rd`, `ave`, ...) with a house number (a letterless word of one
//! to five digits) at most one word before it (`42 Maple Street`), or a house number right after
//! one (`Oak Ave 7`). Words are matched by their unigram hash (32 bits; a chance match is
//! `29 / 2^32` per word).
//!
//! The prefixes (`w`, `b`, `c`, `s`) keep the kinds of
//! feature apart. Each feature string is hashed with 32-bit FNV-1a over its UTF-8 bytes
//! (offset basis `0x811C9DC5`, prime `0x01000193`; `fnv1a32("a") = 0xE40C292C`) and mapped to
//! one of `2^bits` buckets by xor-folding, as the FNV authors recommend for power-of-two
//! ranges: `bucket = ((h >> bits) ^ h) & (2^bits − 1)`.

use crate::Error;

#[cfg(test)]
#[path = "text_reference.rs"]
mod reference;

/// Most characters kept of one word.
pub const MAX_WORD_CHARS: usize = 32;
/// Fewest bucket bits a featurizer accepts.
pub const MIN_BUCKET_BITS: u8 = 4;
/// Most bucket bits a featurizer accepts (a million buckets).
pub const MAX_BUCKET_BITS: u8 = 20;
/// The bucket count used by `mote train moderation` unless told otherwise: `2^12`.
pub const DEFAULT_BUCKET_BITS: u8 = 12;

/// Digits in a run of letterless words that make it a phone number (`sphone`).
const PHONE_DIGITS: u8 = 7;

const FNV_OFFSET: u32 = 0x811C_9DC5;
const FNV_PRIME: u32 = 0x0100_0193;
const REPLACEMENT: char = '\u{FFFD}';

/// 32-bit FNV-1a over `bytes`, continuing from the hash state `state` (start with
/// [`fnv1a32`] or `0x811C9DC5`).
pub const fn fnv1a32_continue(mut state: u32, bytes: &[u8]) -> u32 {
    let mut i = 0;
    while i < bytes.len() {
        state ^= bytes[i] as u32;
        state = state.wrapping_mul(FNV_PRIME);
        i += 1;
    }
    state
}

/// 32-bit FNV-1a of `bytes`.
pub const fn fnv1a32(bytes: &[u8]) -> u32 {
    fnv1a32_continue(FNV_OFFSET, bytes)
}

/// FNV-1a over `c`'s UTF-8 bytes; an ASCII character is its one byte, hashed without encoding
/// (the featurizer's hot path: most characters of most messages).
#[inline(always)]
fn hash_char(state: u32, c: char) -> u32 {
    let code = c as u32;
    if code < 0x80 {
        return (state ^ code).wrapping_mul(FNV_PRIME);
    }
    hash_wide_char(state, c)
}

/// [`hash_char`] of a character beyond ASCII: encodes it.
#[inline(never)]
fn hash_wide_char(state: u32, c: char) -> u32 {
    let mut buf = [0u8; 4];
    fnv1a32_continue(state, c.encode_utf8(&mut buf).as_bytes())
}

/// FNV-1a state after `"c"`, where every trigram's hash starts.
const TRIGRAM_BASIS: u32 = fnv1a32(b"c");

/// The bucket of `hash` among `2^bits` (xor-folding, see the module docs).
#[inline(always)]
fn fold_bucket(hash: u32, bits: u8) -> u32 {
    ((hash >> bits) ^ hash) & ((1u32 << bits) - 1)
}

/// A sink that passes the buckets on to `sink` a batch at a time ([`FeatureSink::features`]),
/// keeping them in order with the words and shapes when `S::ORDERED`; across words otherwise.
struct Batched<'s, S: FeatureSink> {
    sink: &'s mut S,
    buckets: [u32; BATCH],
    len: usize,
}

/// Buckets per [`FeatureSink::features`] call at most.
const BATCH: usize = 32;

impl<'s, S: FeatureSink> Batched<'s, S> {
    fn new(sink: &'s mut S) -> Self {
        Batched {
            sink,
            buckets: [0; BATCH],
            len: 0,
        }
    }

    /// Hands the buckets gathered so far to the sink.
    #[inline(always)]
    fn flush(&mut self) {
        if self.len > 0 {
            self.sink
                .features(self.buckets.get(..self.len).unwrap_or(&[]));
            self.len = 0;
        }
    }
}

impl<S: FeatureSink> FeatureSink for Batched<'_, S> {
    #[inline(always)]
    fn feature(&mut self, bucket: u32) {
        if let Some(slot) = self.buckets.get_mut(self.len) {
            *slot = bucket;
            self.len += 1;
        }
        if self.len == BATCH {
            self.flush();
        }
    }

    fn shape(&mut self, shape: Shape) {
        if S::ORDERED {
            self.flush();
        }
        self.sink.shape(shape);
    }

    fn word(&mut self, normalized: &[char]) {
        if S::ORDERED {
            self.flush();
        }
        self.sink.word(normalized);
    }
}

/// The shape features: facts about a message's form rather than its words.
///
/// Each is emitted as a hashed feature like any other, and also reported to
/// [`FeatureSink::shape`] by name, so a model can read them directly: a mean of embeddings
/// dilutes one `email` feature among a message's dozens of word features.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Shape {
    /// A word of two or more letters, all capitals (`"s" + "caps"`).
    Caps,
    /// A run of `!` (`"s" + "bang"`).
    Bang,
    /// An email address (`"s" + "email"`).
    Email,
    /// A phone number (`"s" + "phone"`).
    Phone,
    /// A street address: a street-type word ([`STREET_TYPES`]) at most two words after a
    /// house number, or a house number right after one (`42 Maple Street`, `Oak Ave 7`).
    /// Reported to [`FeatureSink::shape`] only, not hashed, so models trained before it existed
    /// see the same features.
    Address,
}

impl Shape {
    /// Every shape, in bit order (bit `i` of a shape mask is `ALL[i]`).
    pub const ALL: [Shape; 5] = [
        Shape::Caps,
        Shape::Bang,
        Shape::Email,
        Shape::Phone,
        Shape::Address,
    ];

    /// The feature string hashed for the shape ([`Shape::Address`] is not hashed; its string
    /// only names it).
    pub const fn feature(self) -> &'static [u8] {
        match self {
            Shape::Caps => b"scaps",
            Shape::Bang => b"sbang",
            Shape::Email => b"semail",
            Shape::Phone => b"sphone",
            Shape::Address => b"saddress",
        }
    }

    /// The shapes whose bits are set in `mask`, in bit order.
    pub fn in_mask(mask: u8) -> impl Iterator<Item = Shape> {
        Shape::ALL.into_iter().filter(move |s| mask & s.bit() != 0)
    }

    /// The shape's name (the feature string without its `s` prefix).
    pub fn name(self) -> &'static str {
        match self {
            Shape::Caps => "caps",
            Shape::Bang => "bang",
            Shape::Email => "email",
            Shape::Phone => "phone",
            Shape::Address => "address",
        }
    }

    /// The shape's bit in a shape mask.
    pub const fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// Street-type words (normalised) that make a nearby house number an address ([`Shape::Address`]):
/// the common English street designators and their usual abbreviations.
pub const STREET_TYPES: [&str; 29] = [
    "street",
    "st",
    "road",
    "rd",
    "avenue",
    "ave",
    "av",
    "lane",
    "ln",
    "drive",
    "dr",
    "close",
    "way",
    "court",
    "ct",
    "place",
    "pl",
    "boulevard",
    "blvd",
    "crescent",
    "cres",
    "terrace",
    "square",
    "sq",
    "grove",
    "gardens",
    "parkway",
    "highway",
    "hwy",
];

/// The unigram hashes (`fnv1a32("w" + t)`) of [`STREET_TYPES`]: a word is compared by its
/// unigram hash, which the featurizer computes anyway, and only next to a house number.
const STREET_TYPE_HASHES: [u32; STREET_TYPES.len()] = {
    let mut out = [0u32; STREET_TYPES.len()];
    let mut i = 0;
    while i < out.len() {
        out[i] = fnv1a32_continue(fnv1a32(b"w"), STREET_TYPES[i].as_bytes());
        i += 1;
    }
    out
};

/// Whether a word's unigram hash is that of a [`STREET_TYPES`] word.
fn is_street_type(unigram: u32) -> bool {
    STREET_TYPE_HASHES.contains(&unigram)
}

/// Longest house number, in digits, that [`Shape::Address`] accepts.
const HOUSE_NUMBER_DIGITS: usize = 5;

/// Where the featurizer sends what it finds.
///
/// Any `FnMut(u32)` closure is a sink that receives the buckets only.
pub trait FeatureSink {
    /// Whether [`FeatureSink::shape`] and [`FeatureSink::word`] calls must come in order with
    /// the features (yes unless a sink says otherwise). A sink that only sums the features and
    /// collects the shapes (the moderation bag) says no, and receives the features of several
    /// words per [`FeatureSink::features`] call; the features stay in their order either way.
    const ORDERED: bool = true;
    /// One feature, as its bucket in `0..2^bits`.
    fn feature(&mut self, bucket: u32);
    /// Several features in order, as [`FeatureSink::feature`] for each: the featurizer hands
    /// over up to 32 at a time (a word's, or several words' for a sink that is not
    /// [`FeatureSink::ORDERED`]), which a sink may add faster than one by one.
    fn features(&mut self, buckets: &[u32]) {
        for &bucket in buckets {
            self.feature(bucket);
        }
    }
    /// A shape feature, right after its bucket went to [`FeatureSink::feature`].
    fn shape(&mut self, _shape: Shape) {}
    /// A normalised word, before its features are emitted (for inspection and tests).
    fn word(&mut self, _normalized: &[char]) {}
}

impl<F: FnMut(u32)> FeatureSink for F {
    fn feature(&mut self, bucket: u32) {
        self(bucket)
    }
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

/// [`classify`] of an ASCII byte: the hot path, a few comparisons.
#[inline(always)]
fn classify_ascii(b: u8) -> Class {
    match b {
        b'a'..=b'z' => Class::Letter {
            c: b as char,
            upper: false,
        },
        b'A'..=b'Z' => Class::Letter {
            c: (b | 0x20) as char,
            upper: true,
        },
        b'0'..=b'9' => Class::Digit(b - b'0'),
        b'@' | b'$' | b'*' => Class::Symbol(b as char),
        b'!' => Class::Bang,
        b'\'' => Class::Skip,
        _ => Class::Separator,
    }
}

fn classify(c: char) -> Class {
    let code = c as u32;
    if let Ok(b) = u8::try_from(code) {
        if b < 0x80 {
            return classify_ascii(b);
        }
    }
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

/// Streams bytes of one message at a time into hashed features (see the module docs).
///
/// Call [`Featurizer::push`] with the message's bytes in as many chunks as convenient, then
/// [`Featurizer::finish`], which also resets the featurizer for the next message. The
/// features do not depend on how the message was cut into chunks.
#[derive(Debug, Clone)]
pub struct Featurizer {
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

impl Featurizer {
    /// A featurizer mapping features to `2^bits` buckets; `bits` in
    /// [`MIN_BUCKET_BITS`]`..=`[`MAX_BUCKET_BITS`] ([`Error::BadDimension`] otherwise).
    pub fn new(bits: u8) -> Result<Featurizer, Error> {
        if !(MIN_BUCKET_BITS..=MAX_BUCKET_BITS).contains(&bits) {
            return Err(Error::BadDimension);
        }
        Ok(Featurizer {
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

    /// The number of buckets, `2^bits`.
    pub fn buckets(&self) -> u32 {
        1 << self.bits
    }

    /// The bucket bits this featurizer was made with.
    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// Feeds the next bytes of the message.
    pub fn push(&mut self, bytes: &[u8], sink: &mut impl FeatureSink) {
        let mut sink = Batched::new(sink);
        self.push_all(bytes, &mut sink);
        sink.flush();
    }

    #[inline(never)]
    fn push_all<S: FeatureSink>(&mut self, bytes: &[u8], sink: &mut Batched<'_, S>) {
        for &b in bytes {
            let small = b | 0x20;
            if small.is_ascii_lowercase() && self.utf8_need == 0 && !self.email_dot {
                // An ASCII letter (`push_class` without the classes): the hottest path.
                self.in_bang = false;
                self.push_letter(small as char, b & 0x20 == 0);
            } else if b == b' ' && self.utf8_need == 0 {
                // A space (`push_class` of a separator that is not `.`): ends the word.
                self.in_bang = false;
                self.email_dot = false;
                self.end_word(sink);
            } else if b < 0x80 && self.utf8_need == 0 {
                // ASCII outside a sequence: most bytes of most messages.
                self.push_class(b as char, classify_ascii(b), sink);
            } else {
                self.push_byte(b, sink);
            }
        }
    }

    /// Ends the message: flushes a pending word or UTF-8 sequence and resets the state, so the
    /// featurizer is ready for the next message.
    pub fn finish(&mut self, sink: &mut impl FeatureSink) {
        let mut sink = Batched::new(sink);
        if self.utf8_need > 0 {
            self.utf8_need = 0;
            self.push_char(REPLACEMENT, &mut sink);
        }
        self.end_word(&mut sink);
        sink.flush();
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

    #[inline(never)]
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
        self.push_class(c, classify(c), sink);
    }

    /// Handles character `c` of class `class` (`classify(c)`).
    #[inline(always)]
    fn push_class(&mut self, c: char, class: Class, sink: &mut impl FeatureSink) {
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
            Class::Letter { c, upper } => self.push_letter(c, upper),
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

    /// Appends letter `c` (folded; `upper` if it was a capital) to the current word, unless
    /// the word is full or ends with `c` twice already.
    #[inline(always)]
    fn push_letter(&mut self, c: char, upper: bool) {
        let len = usize::from(self.word_len);
        let repeats =
            len >= 2 && self.word.get(len - 1) == Some(&c) && self.word.get(len - 2) == Some(&c);
        if !repeats && self.store(c) {
            self.has_letter = true;
            self.letters = self.letters.saturating_add(1);
            self.upper = self.upper.saturating_add(u8::from(upper));
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
        fold_bucket(hash, self.bits)
    }

    /// Normalises the pending word (if any) and emits its features.
    fn end_word(&mut self, sink: &mut impl FeatureSink) {
        let len = usize::from(self.word_len).min(MAX_WORD_CHARS);
        if len == 0 {
            return;
        }
        // Normalise in place: the write position `n` never passes the read position `i`.
        let has_letter = self.has_letter;
        let mut n = 0;
        let mut digits = 0;
        // The last two characters written.
        let (mut last, mut before) = ('\0', '\0');
        // The bits of all characters written: below 0x80 when they are all ASCII.
        let mut wide = 0;
        for i in 0..len {
            let Some(&c) = self.word.get(i) else { break };
            let c = if has_letter {
                leet(c)
            } else if c.is_ascii_digit() {
                digits += 1;
                '#'
            } else {
                c
            };
            if has_letter && n >= 2 && last == c && before == c {
                continue;
            }
            if let Some(slot) = self.word.get_mut(n) {
                *slot = c;
                n += 1;
                (before, last) = (last, c);
                wide |= c as u32;
            }
        }
        let bits = self.bits;
        let word = self.word.get(..n).unwrap_or(&[]);
        sink.word(word);
        // The unigram, the bigram with the previous word and the next word's bigram prefix.
        let (mut unigram, mut prefix) = (fnv1a32(b"w"), fnv1a32(b"b"));
        let mut bigram = self.bigram_prefix.unwrap_or(0);
        for &c in word {
            unigram = hash_char(unigram, c);
            prefix = hash_char(prefix, c);
            bigram = hash_char(bigram, c);
        }
        sink.feature(fold_bucket(unigram, bits));
        if self.bigram_prefix.is_some() {
            sink.feature(fold_bucket(bigram, bits));
        }
        // Then the character trigrams of "<" + word + ">", one per character.
        if let Some((&first, rest)) = word.split_first() {
            if wide < 0x80 {
                // All ASCII: each character is its one byte.
                let step = |h: u32, c: u32| (h ^ c).wrapping_mul(FNV_PRIME);
                let (mut a, mut b) = ('<' as u32, first as u32);
                for &c in rest {
                    let c = c as u32;
                    sink.feature(fold_bucket(step(step(step(TRIGRAM_BASIS, a), b), c), bits));
                    (a, b) = (b, c);
                }
                let h = step(step(step(TRIGRAM_BASIS, a), b), '>' as u32);
                sink.feature(fold_bucket(h, bits));
            } else {
                let (mut a, mut b) = ('<', first);
                for &c in rest.iter().chain(core::iter::once(&'>')) {
                    let h = hash_char(hash_char(hash_char(TRIGRAM_BASIS, a), b), c);
                    sink.feature(fold_bucket(h, bits));
                    (a, b) = (b, c);
                }
            }
        }
        self.bigram_prefix = Some(fnv1a32_continue(prefix, b" "));
        if self.letters >= 2 && self.upper == self.letters {
            self.emit_shape(Shape::Caps, sink);
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::format;
    use std::string::{String, ToString};
    use std::vec::Vec;

    #[derive(Default)]
    struct Collect {
        buckets: Vec<u32>,
        words: Vec<String>,
    }

    impl FeatureSink for Collect {
        fn feature(&mut self, bucket: u32) {
            self.buckets.push(bucket);
        }
        fn word(&mut self, normalized: &[char]) {
            self.words.push(normalized.iter().collect());
        }
    }

    fn run(text: &[u8]) -> Collect {
        let mut f = Featurizer::new(DEFAULT_BUCKET_BITS).unwrap();
        let mut out = Collect::default();
        f.featurize(text, &mut out);
        out
    }

    fn words(text: &str) -> Vec<String> {
        run(text.as_bytes()).words
    }

    fn bucket(bits: u8, s: &str) -> u32 {
        let h = fnv1a32(s.as_bytes());
        ((h >> bits) ^ h) & ((1 << bits) - 1)
    }

    #[test]
    fn fnv1a32_matches_reference_vectors() {
        // From the FNV reference test suite (Fowler, Noll, Vo).
        assert_eq!(fnv1a32(b""), 0x811C_9DC5);
        assert_eq!(fnv1a32(b"a"), 0xE40C_292C);
        assert_eq!(fnv1a32(b"foobar"), 0xBF9C_F968);
        assert_eq!(
            fnv1a32_continue(fnv1a32(b"foo"), b"bar"),
            fnv1a32(b"foobar")
        );
    }

    #[test]
    fn normalises_case_leet_and_repeats() {
        assert_eq!(words("Hello WORLD"), ["hello", "world"]);
        assert_eq!(words("fr33eee m0n3y!!!"), ["free", "money"]);
        assert_eq!(words("l0000ser"), ["looser"]);
        assert_eq!(words("h3ll0o0o"), ["helloo"]);
        assert_eq!(words("h3ll0"), ["hello"]);
        assert_eq!(words("@ss $tupid"), ["ass", "stupid"]);
        assert_eq!(words("don't"), ["dont"]);
        assert_eq!(words("i\u{200B}d\u{AD}iot"), ["idiot"]);
        assert_eq!(words("Café ÉCOLE Łódź"), ["cafe", "ecole", "lodz"]);
        assert_eq!(words("straße ÆON"), ["straße", "æon"]);
        assert_eq!(words("ПРИВЕТ Ωmega"), ["привет", "ωmega"]);
        assert_eq!(words("looooool"), ["lool"]);
        assert_eq!(words("f*ck"), ["f*ck"]);
    }

    #[test]
    fn words_without_letters_become_shapes() {
        assert_eq!(words("call 555-014-2287"), ["call", "###", "###", "####"]);
        assert_eq!(words("only $500"), ["only", "$###"]);
        assert_eq!(words("room 101b"), ["room", "ioib"]);
    }

    #[test]
    fn pictographs_are_words_and_separators_split() {
        assert_eq!(words("win💰now"), ["win", "💰", "now"]);
        assert_eq!(words("a.b,c;d\te\nf"), ["a", "b", "c", "d", "e", "f"]);
        assert_eq!(words("bit.ly/x"), ["bit", "ly", "x"]);
    }

    #[test]
    fn hash_char_is_fnv_over_the_utf8_bytes() {
        for c in [
            'a',
            '\0',
            '\u{7F}',
            '\u{80}',
            'é',
            'ω',
            '€',
            '💰',
            '\u{10FFFF}',
        ] {
            let mut buf = [0u8; 4];
            let bytes = c.encode_utf8(&mut buf).as_bytes();
            assert_eq!(hash_char(FNV_OFFSET, c), fnv1a32(bytes), "{c:?}");
            assert_eq!(hash_char(7, c), fnv1a32_continue(7, bytes), "{c:?}");
        }
    }

    #[test]
    fn hand_checked_features() {
        // "Hi!" -> word "hi": unigram, trigrams "<hi", "hi>", then one bang.
        let bits = DEFAULT_BUCKET_BITS;
        let expected = [
            bucket(bits, "whi"),
            bucket(bits, "c<hi"),
            bucket(bits, "chi>"),
            bucket(bits, "sbang"),
        ];
        assert_eq!(run(b"Hi!!!").buckets, expected);
        // Two words: the second has a bigram; "OK" is all capitals.
        let expected = [
            bucket(bits, "wok"),
            bucket(bits, "c<ok"),
            bucket(bits, "cok>"),
            bucket(bits, "scaps"),
            bucket(bits, "wgo"),
            bucket(bits, "bok go"),
            bucket(bits, "c<go"),
            bucket(bits, "cgo>"),
        ];
        assert_eq!(run(b"OK go").buckets, expected);
        // A one-letter word has one trigram "<a>" and is never "caps".
        let expected = [bucket(bits, "wa"), bucket(bits, "c<a>")];
        assert_eq!(run(b"A").buckets, expected);
        assert!(run(b"").buckets.is_empty());
        assert!(run(b" ... ").buckets.is_empty());
    }

    /// How often the flag feature `name` (e.g. `"semail"`) fires on `text` (20 bucket bits, so
    /// no other feature of these short texts shares its bucket).
    fn flag_count(text: &str, name: &str) -> usize {
        let mut f = Featurizer::new(20).unwrap();
        let mut out = Vec::new();
        f.featurize(text.as_bytes(), &mut |b| out.push(b));
        let target = bucket(20, name);
        out.iter().filter(|&&b| b == target).count()
    }

    #[test]
    fn email_addresses_are_flagged() {
        for text in [
            "write to jane.doe@example.com now",
            "jane_doe@mail.example",
            "MARIA42@EXAMPLE.ORG",
            "ivan@inbox.example.net",
            "a@b.c",
        ] {
            assert_eq!(flag_count(text, "semail"), 1, "{text}");
        }
        assert_eq!(flag_count("a@b.c and x@y.z", "semail"), 2);
        for text in [
            "pl3@se send it",
            "cr@p. ok",
            "send it by email please",
            "@sam. hi",
            "me@. x",
            "meet @ 5.30",
            "doe@example",
        ] {
            assert_eq!(flag_count(text, "semail"), 0, "{text}");
        }
    }

    #[test]
    fn phone_numbers_are_flagged() {
        for text in [
            "call 555-014-2287",
            "(555) 014 2287 after six",
            "+44 7700 900123",
            "07700 900123",
            "5550142287",
            "555.014.2287!",
        ] {
            assert_eq!(flag_count(text, "sphone"), 1, "{text}");
        }
        assert_eq!(flag_count("555 0142 or else 555 0199", "sphone"), 2);
        for text in [
            "room 12 at 8:30",
            "final score 3 to 2",
            "$1000 voucher",
            "5,000 a week",
            "555 then 0142",
            "call me after six",
        ] {
            assert_eq!(flag_count(text, "sphone"), 0, "{text}");
        }
    }

    /// The shapes `text` has, as a mask.
    fn shapes_of(text: &str) -> u8 {
        struct Shapes(u8);
        impl FeatureSink for Shapes {
            fn feature(&mut self, _: u32) {}
            fn shape(&mut self, shape: Shape) {
                self.0 |= shape.bit();
            }
        }
        let mut sink = Shapes(0);
        Featurizer::new(10)
            .unwrap()
            .featurize(text.as_bytes(), &mut sink);
        sink.0
    }

    #[test]
    fn street_addresses_are_shapes() {
        for text in [
            "He lives at 42 Maple Street, flat 3.",
            "new place: 7 Elm Rd",
            "42 Street",
            "Kings Ave 12, apartment 4",
            "at 120 HARBOUR ROAD",
            "10 Oak Avenue",
        ] {
            assert_ne!(shapes_of(text) & Shape::Address.bit(), 0, "{text}");
        }
        for text in [
            "The street festival starts on Saturday.",
            "see you at the station at 8:30",
            "42 old mill road",
            "call 555 0142 later",
            "the road is 123456 steps long",
            "Maple Street",
        ] {
            assert_eq!(shapes_of(text) & Shape::Address.bit(), 0, "{text}");
        }
        // Every shape is reported, once per finding, after its hashed feature (if any).
        assert_eq!(
            shapes_of("CALL 555-014-2287 or x@y.z at 4 Elm St!"),
            0b11111
        );
    }

    #[test]
    fn invalid_utf8_is_a_separator() {
        assert_eq!(run(b"ab\xFFcd").words, ["ab", "cd"]);
        // A truncated sequence, an overlong form, a surrogate, a stray continuation byte.
        assert_eq!(run(b"ab\xE2\x82cd").words, ["ab", "cd"]);
        assert_eq!(run(b"ab\xC0\xAFcd").words, ["ab", "cd"]);
        assert_eq!(run(b"ab\xED\xA0\x80cd").words, ["ab", "cd"]);
        assert_eq!(run(b"ab\x80cd").words, ["ab", "cd"]);
        assert_eq!(run(b"ab\xE2").words, ["ab"]);
    }

    #[test]
    fn long_words_are_cut_and_state_stays_bounded() {
        let long = "x".repeat(10) + &"ab".repeat(100);
        let w = words(&long);
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].chars().count(), MAX_WORD_CHARS);
        assert!(core::mem::size_of::<Featurizer>() <= 200);
    }

    #[test]
    fn finish_resets_between_messages() {
        let mut f = Featurizer::new(8).unwrap();
        let (mut a, mut b) = (Collect::default(), Collect::default());
        f.featurize(b"hello there", &mut a);
        f.featurize(b"hello there", &mut b);
        assert_eq!(a.buckets, b.buckets);
        assert_eq!(f.buckets(), 256);
        assert!(a.buckets.iter().all(|&x| x < 256));
    }

    #[test]
    fn bucket_bits_are_checked() {
        assert_eq!(Featurizer::new(3).unwrap_err(), Error::BadDimension);
        assert_eq!(Featurizer::new(21).unwrap_err(), Error::BadDimension);
        assert_eq!(Featurizer::new(20).unwrap().bits(), 20);
    }

    /// Everything a featurizer tells its sink, in order.
    #[derive(Debug, Default, PartialEq)]
    struct Events(Vec<Event>);

    #[derive(Debug, PartialEq)]
    enum Event {
        Feature(u32),
        Shape(Shape),
        Word(String),
    }

    impl FeatureSink for Events {
        fn feature(&mut self, bucket: u32) {
            self.0.push(Event::Feature(bucket));
        }
        fn shape(&mut self, shape: Shape) {
            self.0.push(Event::Shape(shape));
        }
        fn word(&mut self, normalized: &[char]) {
            self.0.push(Event::Word(normalized.iter().collect()));
        }
    }

    /// A sink that does not need its shapes in order with the features (as the moderation bag):
    /// the features and the shapes, each in their order.
    #[derive(Default)]
    struct Unordered {
        features: Vec<u32>,
        shapes: Vec<Shape>,
    }

    impl FeatureSink for Unordered {
        const ORDERED: bool = false;
        fn feature(&mut self, bucket: u32) {
            self.features.push(bucket);
        }
        fn features(&mut self, buckets: &[u32]) {
            assert!(!buckets.is_empty() && buckets.len() <= BATCH);
            self.features.extend_from_slice(buckets);
        }
        fn shape(&mut self, shape: Shape) {
            self.shapes.push(shape);
        }
    }

    /// What the featurizer and the reference (`text_reference.rs`) emit for `text` cut at `cut`
    /// (the featurizer is fed the two pieces; the reference the whole text), each run twice to
    /// check that `finish` resets. Also checks that a sink that is not [`FeatureSink::ORDERED`]
    /// receives the same features and shapes, each in the same order.
    fn both(text: &[u8], bits: u8, cut: usize) -> (Events, Events) {
        let (head, tail) = text.split_at(cut.min(text.len()));
        let mut fast = Featurizer::new(bits).unwrap();
        let mut reference = reference::Reference::new(bits).unwrap();
        let (mut a, mut b) = (Events::default(), Events::default());
        let mut unordered = Unordered::default();
        for _ in 0..2 {
            fast.push(head, &mut a);
            fast.push(tail, &mut a);
            fast.finish(&mut a);
            fast.push(head, &mut unordered);
            fast.push(tail, &mut unordered);
            fast.finish(&mut unordered);
            reference.featurize(text, &mut b);
        }
        let features: Vec<u32> = (b.0.iter())
            .filter_map(|e| match e {
                Event::Feature(bucket) => Some(*bucket),
                _ => None,
            })
            .collect();
        let shapes: Vec<Shape> = (b.0.iter())
            .filter_map(|e| match e {
                Event::Shape(shape) => Some(*shape),
                _ => None,
            })
            .collect();
        assert_eq!(unordered.features, features);
        assert_eq!(unordered.shapes, shapes);
        (a, b)
    }

    /// Pieces of text that exercise every rule of the module docs.
    const PIECES: &[&str] = &[
        "hey",
        "FREE",
        "Prize",
        "fr33eee",
        "m0n3y",
        "l0000ser",
        "h3ll0o0o",
        "w1n",
        "NOW!!!",
        "!",
        "@ss",
        "$tupid",
        "f*ck",
        "$500",
        "555-0142",
        "555.014.2287",
        "+44 7700 900123",
        "(555)",
        "42",
        "12345",
        "123456",
        "Maple",
        "Street",
        "st",
        "Oak",
        "Ave",
        "7",
        "rd",
        "HWY",
        "jane.doe@example.com",
        "a@b.c",
        "x@y.",
        "@sam.",
        "me@",
        "doe@example",
        "don't",
        "d.o.n't",
        "i\u{200B}diot",
        "so\u{AD}ft",
        "Café",
        "ÉCOLE",
        "Łódź",
        "straße",
        "ÆON",
        "þorn",
        "ÿ",
        "×",
        "÷",
        "ПРИВЕТ",
        "Ёж",
        "Ωmega",
        "日本語",
        "ǅ",
        "ı",
        "e\u{301}",
        "\u{FE0F}",
        "\u{FEFF}",
        "\u{2060}",
        "\u{2019}",
        "\u{2018}",
        "💰",
        "☺",
        "🫶",
        "\u{3000}",
        "\u{FFFD}",
        "\u{2014}",
        "\u{10FFFF}",
        "looooool",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz",
        "0000000000000000000000000000000000000",
        "4ever",
        "1337",
        "a1b2c3",
        "***",
        "$$$",
        "@@@",
        "é@x.y",
        "ab@cd.ef",
        "Ω@Ω.Ω",
    ];

    /// Text made of [`PIECES`] and separators.
    fn pieces_text() -> impl Strategy<Value = Vec<u8>> {
        let piece = prop::sample::select(PIECES);
        let sep =
            prop::sample::select(&[" ", " ", "", ".", ",", "-", "\n", "!", "'", "@", "\u{A0}"][..]);
        proptest::collection::vec((piece, sep), 0..60).prop_map(|parts| {
            parts
                .into_iter()
                .flat_map(|(p, s)| [p, s])
                .collect::<String>()
                .into_bytes()
        })
    }

    #[test]
    fn equals_the_reference_on_the_pieces_each_alone() {
        for bits in [4, 12, 20] {
            for piece in PIECES {
                for text in [
                    piece.to_string(),
                    format!("{piece} {piece}!"),
                    format!("x.{piece}."),
                ] {
                    let (fast, reference) = both(text.as_bytes(), bits, text.len() / 2);
                    assert_eq!(fast, reference, "{text:?}");
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn equals_the_reference_on_pieces(text in pieces_text(), bits in 4u8..=20, cut in 0usize..400) {
            let (fast, reference) = both(&text, bits, cut);
            prop_assert_eq!(fast, reference);
        }

        #[test]
        fn equals_the_reference_on_any_text(text in "\\PC{0,200}", bits in 4u8..=20, cut in 0usize..400) {
            let (fast, reference) = both(text.as_bytes(), bits, cut);
            prop_assert_eq!(fast, reference);
        }

        #[test]
        fn equals_the_reference_on_chat_alphabet(text in "[a-zA-Z0-9@$*!' .,#éÉßÆþΩωЖжЁ💰☺\u{200B}\u{AD}\u{301}\u{FE0F}-]{0,300}", bits in 4u8..=20, cut in 0usize..400) {
            let (fast, reference) = both(text.as_bytes(), bits, cut);
            prop_assert_eq!(fast, reference);
        }

        #[test]
        fn equals_the_reference_on_repeats_and_leetspeak(text in "[aA4@oO0iI1eE3sS5$tT7*!'. #-]{0,300}", bits in 4u8..=20, cut in 0usize..400) {
            let (fast, reference) = both(text.as_bytes(), bits, cut);
            prop_assert_eq!(fast, reference);
        }

        #[test]
        fn equals_the_reference_on_any_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..400), bits in 4u8..=20, cut in 0usize..400) {
            let (fast, reference) = both(&bytes, bits, cut);
            prop_assert_eq!(fast, reference);
        }

        #[test]
        fn equals_the_reference_on_utf8_fragments(bytes in proptest::collection::vec(prop::sample::select(&[0x41u8, 0x61, 0x20, 0x21, 0x40, 0x2E, 0x35, 0x80, 0xBF, 0xC2, 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0xF0, 0x9F, 0x92, 0xB0, 0xED, 0xA0, 0xC0, 0xFF, 0xF4, 0x90][..]), 0..300), bits in 4u8..=20, cut in 0usize..400) {
            let (fast, reference) = both(&bytes, bits, cut);
            prop_assert_eq!(fast, reference);
        }
    }

    proptest! {
        #[test]
        fn any_bytes_give_buckets_in_range(bytes in proptest::collection::vec(any::<u8>(), 0..400), bits in 4u8..=20) {
            let mut f = Featurizer::new(bits).unwrap();
            let mut out = Vec::new();
            f.featurize(&bytes, &mut |b| out.push(b));
            prop_assert!(out.iter().all(|&b| b < (1u32 << bits)));
        }

        #[test]
        fn chunking_does_not_change_features(text in "\\PC{0,120}", raw in proptest::collection::vec(any::<u8>(), 0..60), cut in 0usize..200) {
            let mut bytes = text.into_bytes();
            bytes.extend(raw);
            let cut = cut.min(bytes.len());
            let (head, tail) = bytes.split_at(cut);
            let mut f = Featurizer::new(12).unwrap();
            let mut whole = Vec::new();
            f.featurize(&bytes, &mut |b| whole.push(b));
            let mut pieces = Vec::new();
            let mut sink = |b| pieces.push(b);
            f.push(head, &mut sink);
            for byte in tail {
                f.push(core::slice::from_ref(byte), &mut sink);
            }
            f.finish(&mut sink);
            prop_assert_eq!(whole, pieces);
        }
    }
}

//! Lexical features of a token: the `[NORM, PREFIX, SUFFIX, SHAPE]` string ids the NER embeds
//! (reference README §2–§3), with Python's `str` predicates on Unicode 14.
//!
//! Python's `isalpha`/`isdigit`/`isspace`/`isupper` differ from Rust's `char` predicates (for
//! example `is_alphabetic` also covers combining vowel signs, `is_whitespace` misses U+001C–U+001F),
//! so they are answered from range tables generated out of Python 3.11 itself
//! (`scripts/gen-unicode-tables.py` → `pyunicode_tables.rs`), with an ASCII fast path. `lower()`
//! is Rust's `str::to_lowercase`, which implements the same full Unicode mapping with final sigma;
//! it can differ from Python only on characters assigned after Unicode 14.

use std::collections::HashMap;

use super::hash::murmurhash64a;
use super::pyunicode_tables::{ALPHA, DIGIT, SPACE, UPPER};

/// spaCy's `BASE_NORMS` (`spacy/lang/norm_exceptions.py`, MIT, see `LICENSE-spaCy`).
const BASE_NORMS_JSON: &str = include_str!("base_norms.json");
/// spaCy's symbol table `IDS` (`spacy/symbols.pyx`, MIT, see `LICENSE-spaCy`).
const SYMBOLS_JSON: &str = include_str!("symbols.json");

fn in_table(table: &[(u32, u32)], c: char) -> bool {
    let cp = u32::from(c);
    table
        .binary_search_by(|&(lo, hi)| {
            if hi < cp {
                std::cmp::Ordering::Less
            } else if lo > cp {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Python's `c.isalpha()`: general category L*.
pub fn py_isalpha(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphabetic()
    } else {
        in_table(ALPHA, c)
    }
}

/// Python's `c.isdigit()`: Numeric_Type Digit or Decimal (`'²'` yes, `'½'` no).
pub fn py_isdigit(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_digit()
    } else {
        in_table(DIGIT, c)
    }
}

/// Python's `c.isupper()` for one char: the Uppercase property.
pub fn py_isupper(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_uppercase()
    } else {
        in_table(UPPER, c)
    }
}

/// Python's `c.isspace()`: bidi class WS/B/S or category Zs (includes U+001C–U+001F).
pub fn py_isspace(c: char) -> bool {
    in_table(SPACE, c)
}

/// Python's `s.isspace()`: non-empty and every char is whitespace.
pub fn py_str_isspace(s: &str) -> bool {
    !s.is_empty() && s.chars().all(py_isspace)
}

/// spaCy's `word_shape` (`spacy/lang/lex_attrs.py`), written into `out` (cleared first).
pub fn word_shape_into(text: &str, out: &mut String) {
    out.clear();
    if text.chars().count() >= 100 {
        out.push_str("LONG");
        return;
    }
    let mut last: Option<char> = None;
    let mut seq = 0usize;
    for c in text.chars() {
        let shape = if py_isalpha(c) {
            if py_isupper(c) { 'X' } else { 'x' }
        } else if py_isdigit(c) {
            'd'
        } else {
            c
        };
        if Some(shape) == last {
            seq += 1;
        } else {
            seq = 0;
            last = Some(shape);
        }
        if seq < 4 {
            out.push(shape);
        }
    }
}

/// spaCy's `word_shape` as a new string.
pub fn word_shape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    word_shape_into(text, &mut out);
    out
}

/// The string-id rule and the NORM tables: symbols, `BASE_NORMS` and the model's `lexeme_norm`.
#[derive(Debug, Clone)]
pub struct Lexicon {
    symbols: HashMap<String, u64>,
    base_norms: HashMap<String, String>,
    lexeme_norm: HashMap<u64, String>,
}

/// Why the embedded tables could not be read (a build defect, never a user error).
#[derive(Debug, thiserror::Error)]
#[error("embedded spaCy table {name}: {source}")]
pub struct TableError {
    name: &'static str,
    source: serde_json::Error,
}

impl Lexicon {
    /// A lexicon with the embedded spaCy tables and the model's `lexeme_norm` (keyed by string id).
    ///
    /// # Errors
    /// [`TableError`] if an embedded table does not parse (cannot happen with the shipped files).
    pub fn new(lexeme_norm: HashMap<u64, String>) -> Result<Self, TableError> {
        let symbols = serde_json::from_str(SYMBOLS_JSON).map_err(|source| TableError {
            name: "symbols.json",
            source,
        })?;
        let base_norms = serde_json::from_str(BASE_NORMS_JSON).map_err(|source| TableError {
            name: "base_norms.json",
            source,
        })?;
        Ok(Self {
            symbols,
            base_norms,
            lexeme_norm,
        })
    }

    /// spaCy's `get_string_id`: 0 for `""`, the symbol id for a symbol, else MurmurHash64A seed 1.
    pub fn string_id(&self, s: &str) -> u64 {
        if s.is_empty() {
            return 0;
        }
        match self.symbols.get(s) {
            Some(&id) => id,
            None => murmurhash64a(s.as_bytes(), 1),
        }
    }

    /// The lexeme NORM id of `text`: `lexeme_norm`, then `BASE_NORMS`, then `text.lower()`.
    fn lexeme_norm_id(&self, text: &str, scratch: &mut String) -> u64 {
        if let Some(norm) = self.lexeme_norm.get(&self.string_id(text)) {
            return self.string_id(norm);
        }
        if let Some(norm) = self.base_norms.get(text) {
            return self.string_id(norm);
        }
        scratch.clear();
        if text.is_ascii() {
            scratch.extend(text.chars().map(|c| c.to_ascii_lowercase()));
        } else {
            scratch.push_str(&text.to_lowercase());
        }
        self.string_id(scratch)
    }

    /// The four feature ids `[NORM, PREFIX, SUFFIX, SHAPE]` of a token with text `text` and the
    /// NORM of a tokenizer special case, if it had one. `scratch` is reused between calls.
    pub fn features_with(&self, text: &str, norm: Option<&str>, scratch: &mut String) -> [u64; 4] {
        let norm_id = match norm {
            Some(norm) => self.string_id(norm),
            None => self.lexeme_norm_id(text, scratch),
        };
        let prefix = match text.chars().next() {
            Some(c) => &text[..c.len_utf8()],
            None => "",
        };
        let suffix = match text.char_indices().rev().nth(2) {
            Some((i, _)) => &text[i..],
            None => text,
        };
        word_shape_into(text, scratch);
        [
            norm_id,
            self.string_id(prefix),
            self.string_id(suffix),
            self.string_id(scratch),
        ]
    }

    /// [`Lexicon::features_with`] with a fresh scratch buffer.
    pub fn features(&self, text: &str, norm: Option<&str>) -> [u64; 4] {
        self.features_with(text, norm, &mut String::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon() -> Lexicon {
        let mut lexeme_norm = HashMap::new();
        let probe = Lexicon::new(HashMap::new()).unwrap();
        lexeme_norm.insert(probe.string_id("colour"), "color".to_owned());
        Lexicon::new(lexeme_norm).unwrap()
    }

    #[test]
    fn embedded_tables_have_spacy_sizes() {
        let lex = lexicon();
        assert_eq!(lex.symbols.len(), 457);
        assert_eq!(lex.base_norms.len(), 45);
        assert_eq!(lex.string_id(""), 0);
        assert_eq!(lex.string_id("X"), 101);
    }

    #[test]
    fn readme_feature_vectors() {
        let lex = lexicon();
        let cases: [(&str, Option<&str>, [u64; 4]); 8] = [
            (
                "Iran",
                None,
                [
                    11104119483603518588,
                    4690420944186131903,
                    6840958122370687302,
                    10887629174180191697,
                ],
            ),
            (
                "’s",
                None,
                [
                    16428057658620181782,
                    9283054155332335931,
                    614914527630368944,
                    12685219922295555250,
                ],
            ),
            (
                "did",
                Some("do"),
                [
                    2158845516055552166,
                    8148669997605808657,
                    13583488448875926965,
                    4088098365541558500,
                ],
            ),
            (
                "n’t",
                Some("not"),
                [
                    447765159362469301,
                    13210364986222294696,
                    16712971838599463365,
                    6415657131683920182,
                ],
            ),
            (
                "U.S.",
                None,
                [
                    7742618937320755052,
                    8804677687338025421,
                    13611846068488418672,
                    9346084826459880894,
                ],
            ),
            (
                "\n\n",
                None,
                [
                    908432558851201422,
                    962983613142996970,
                    908432558851201422,
                    908432558851201422,
                ],
            ),
            (
                "A",
                None,
                [
                    11901859001352538922,
                    14862748245026736845,
                    14862748245026736845,
                    101,
                ],
            ),
            (
                "colour",
                None,
                [
                    7045580820573707335,
                    16900879642891266615,
                    17577015140245084783,
                    13110060611322374290,
                ],
            ),
        ];
        for (text, norm, want) in cases {
            assert_eq!(lex.features(text, norm), want, "token {text:?}");
        }
    }

    #[test]
    fn word_shape_examples() {
        assert_eq!(word_shape("Iran"), "Xxxx");
        assert_eq!(word_shape("U.S."), "X.X.");
        assert_eq!(word_shape("2019"), "dddd");
        assert_eq!(word_shape("minister"), "xxxx");
        assert_eq!(word_shape("\n\n"), "\n\n");
        assert_eq!(word_shape("1234567!!!!!!"), "dddd!!!!");
        // Combining vowel sign U+093E is not alphabetic in Python.
        assert_eq!(word_shape("का"), "xा");
        assert_eq!(word_shape("²①½"), "dd½");
        assert_eq!(word_shape(&"a".repeat(100)), "LONG");
        assert_eq!(word_shape(&"é".repeat(99)), "xxxx");
    }

    #[test]
    fn python_predicates_on_tricky_chars() {
        assert!(py_isalpha('ß') && py_isalpha('ǅ') && py_isalpha('ʰ') && py_isalpha('中'));
        assert!(!py_isalpha('\u{093E}') && !py_isalpha('Ⅻ') && !py_isalpha('1'));
        assert!(py_isdigit('²') && py_isdigit('①') && py_isdigit('٣'));
        assert!(!py_isdigit('½') && !py_isdigit('Ⅻ') && !py_isdigit('a'));
        assert!(py_isupper('Ä') && py_isupper('Ⅻ') && !py_isupper('ǅ') && !py_isupper('a'));
        for c in [
            '\u{1C}', '\u{1F}', '\u{85}', '\u{A0}', '\u{2028}', '\u{3000}', ' ', '\t',
        ] {
            assert!(py_isspace(c), "{:?}", c);
        }
        assert!(!py_isspace('\u{200B}') && !py_isspace('\u{FEFF}') && !py_isspace('x'));
        assert!(py_str_isspace("\n\n ") && !py_str_isspace("") && !py_str_isspace(" a"));
    }

    #[test]
    fn lower_is_full_unicode_and_final_sigma() {
        let lex = lexicon();
        // NORM = lower(): 'İ' lowers to two code points; final sigma becomes 'ς'.
        assert_eq!(lex.features("İ", None)[0], lex.string_id("i\u{307}"));
        assert_eq!(lex.features("ΟΔΟΣ", None)[0], lex.string_id("οδος"));
        // BASE_NORMS applies when lexeme_norm has no entry.
        assert_eq!(lex.features("“", None)[0], lex.string_id("\""));
        assert_eq!(lex.features("£", None)[0], lex.string_id("$"));
    }
}

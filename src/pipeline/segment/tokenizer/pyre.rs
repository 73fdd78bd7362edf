//! Python `re` patterns, as spaCy stores them, compiled for Rust with Python's matching
//! semantics.
//!
//! spaCy saves its prefix, suffix, infix and URL rules as Python `re` pattern strings. Python's
//! dialect differs from the Rust one in small ways that matter for exactness, so the pattern is
//! translated at load time, never hand-copied:
//!
//! - every literal punctuation char is re-emitted as `\x{..}`, so Python's superfluous escapes
//!   (`\'`, `\!`) and chars that are special only in Rust (`[`, `&&`, `--`, `~~` inside classes,
//!   `\<` word boundaries in fancy-regex) stay literals;
//! - `\uXXXX`, `\UXXXXXXXX`, `\xXX` and `\n`-style escapes become `\x{..}`;
//! - `\s`/`\S` become Python's `str.isspace` set (Unicode 14, which also has U+001C..U+001F);
//!   `\w` becomes `[\p{L}\p{N}_]` (Python: `str.isalnum()` or `_`); `\d` stays (category Nd in
//!   both);
//! - `$` (not MULTILINE) becomes `\z`. Python's `$` also matches before one final `\n`; the
//!   tokenizer only applies these patterns to chunks without `\n` or to all-whitespace chunks,
//!   where no rule of the model can match (a unit test checks every whitespace char);
//! - the inline flag `(?u)` (Unicode, the default in both) is dropped; other flags are refused;
//! - capturing groups become non-capturing (the tokenizer only uses whole-match offsets).
//!
//! For speed the pattern is also split into its top-level alternatives. Runs of alternatives
//! without look-around go to one `regex-automata` (lazy DFA) regex; each alternative with
//! look-around goes to `fancy-regex`, behind a prefilter: the same alternative with its
//! look-arounds deleted, a superset the DFA checks cheaply. A gate (all alternatives,
//! look-arounds deleted) finds the next position where anything might match. Python's `search`
//! returns the leftmost match and, at that position, the first alternative that matches;
//! `PyRegex::search_from` applies exactly that rule (parts tried in order, anchored at each
//! gate position), so the result is the one the single backtracking regex gives, in time linear
//! in the text.
//!
//! Known limits, none reachable with en_core_web_sm's rules on the parity data: fancy-regex
//! stops after a million backtracking steps and that counts as "no match" where Python would
//! keep going; after an empty `finditer` match the search resumes one char later (Python 3.7+
//! may still find a non-empty match at the same position; the model's infix rules never match
//! the empty string).

use std::fmt::Write as _;

use regex_automata::meta::Regex;
use regex_automata::{Anchored, Input};

/// Why a stored pattern cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PatternError {
    /// The pattern uses Python syntax the translator does not handle.
    #[error("unsupported Python regex syntax at char {pos}: {what}")]
    Unsupported {
        /// Char offset into the Python pattern.
        pos: usize,
        /// What was found.
        what: String,
    },
    /// The translated pattern did not compile.
    #[error("translated pattern does not compile: {0}")]
    Compile(String),
}

/// One top-level alternative of a translated pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Branch {
    /// The alternative in fancy-regex syntax.
    pub(crate) full: String,
    /// The alternative with every look-around deleted (`regex` syntax; matches a superset).
    pub(crate) stripped: String,
    /// True when the alternative has a look-around.
    pub(crate) fancy: bool,
}

/// Python's `str.isspace()` set (Python 3.11, Unicode 14.0).
pub(crate) const PY_SPACE: &[char] = &[
    '\u{9}', '\u{a}', '\u{b}', '\u{c}', '\u{d}', '\u{1c}', '\u{1d}', '\u{1e}', '\u{1f}', '\u{20}',
    '\u{85}', '\u{a0}', '\u{1680}', '\u{2000}', '\u{2001}', '\u{2002}', '\u{2003}', '\u{2004}',
    '\u{2005}', '\u{2006}', '\u{2007}', '\u{2008}', '\u{2009}', '\u{200a}', '\u{2028}', '\u{2029}',
    '\u{202f}', '\u{205f}', '\u{3000}',
];

/// Python's `str.isspace()` for one char.
pub(crate) fn py_isspace(c: char) -> bool {
    match c {
        '\u{9}'..='\u{d}' | '\u{1c}'..='\u{20}' => true,
        _ if c.is_ascii() => false,
        _ => PY_SPACE.contains(&c),
    }
}

/// Class items for Python's `\s`.
fn space_items() -> String {
    PY_SPACE.iter().map(|&c| hex(c)).collect()
}

fn hex(c: char) -> String {
    format!("\\x{{{:X}}}", u32::from(c))
}

/// A char as a literal that means itself in both fancy-regex and `regex`, in or out of a class.
fn lit(c: char) -> String {
    if c.is_alphanumeric() && !c.is_ascii() || c.is_ascii_alphanumeric() {
        c.to_string()
    } else {
        hex(c)
    }
}

/// The kind of an open group while translating.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    Plain,
    Lookaround,
}

struct Translator<'a> {
    chars: Vec<char>,
    pos: usize,
    pattern: &'a str,
    /// Open groups, innermost last.
    groups: Vec<Group>,
    branches: Vec<Branch>,
    full: String,
    stripped: String,
    fancy: bool,
    /// The last item written was a whole look-around group (a quantifier after it must not be
    /// copied to `stripped`).
    after_lookaround: bool,
}

/// Translates a Python `re` pattern into its top-level alternatives.
///
/// # Errors
/// [`PatternError::Unsupported`] for syntax outside the translated subset (back-references,
/// conditionals, flags other than `u`, `\N{..}`, octal escapes).
pub(crate) fn translate(pattern: &str) -> Result<Vec<Branch>, PatternError> {
    let mut t = Translator {
        chars: pattern.chars().collect(),
        pos: 0,
        pattern,
        groups: Vec::new(),
        branches: Vec::new(),
        full: String::new(),
        stripped: String::new(),
        fancy: false,
        after_lookaround: false,
    };
    t.run()?;
    Ok(t.branches)
}

impl Translator<'_> {
    fn err(&self, what: impl Into<String>) -> PatternError {
        PatternError::Unsupported {
            pos: self.pos,
            what: format!("{} in {:?}…", what.into(), truncate(self.pattern)),
        }
    }

    fn in_lookaround(&self) -> bool {
        self.groups.contains(&Group::Lookaround)
    }

    /// Writes an item to `full` and, outside look-arounds, to `stripped`.
    fn emit(&mut self, s: &str) {
        self.full.push_str(s);
        if !self.in_lookaround() {
            self.stripped.push_str(s);
        }
        self.after_lookaround = false;
    }

    fn peek(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn run(&mut self) -> Result<(), PatternError> {
        while let Some(c) = self.peek(0) {
            match c {
                '\\' => {
                    let item = self.escape(false)?;
                    self.emit(&item);
                }
                '[' => {
                    let class = self.class()?;
                    self.emit(&class);
                }
                '(' => self.open_group()?,
                ')' => {
                    self.pos += 1;
                    match self.groups.pop() {
                        None => return Err(self.err("unbalanced ')'")),
                        Some(Group::Lookaround) => {
                            self.full.push(')');
                            if !self.in_lookaround() {
                                self.after_lookaround = true;
                            }
                        }
                        Some(Group::Plain) => self.emit(")"),
                    }
                }
                '|' if self.groups.is_empty() => {
                    self.pos += 1;
                    self.finish_branch();
                }
                '|' => {
                    self.pos += 1;
                    self.emit("|");
                }
                '*' | '+' | '?' => {
                    self.pos += 1;
                    self.quantifier(c.to_string());
                }
                '{' => {
                    if let Some((q, len)) = self.brace_quantifier() {
                        self.pos += len;
                        self.quantifier(q);
                    } else {
                        self.pos += 1;
                        self.emit(&lit('{'));
                    }
                }
                '$' => {
                    self.pos += 1;
                    self.emit("\\z");
                }
                '^' => {
                    self.pos += 1;
                    self.emit("^");
                }
                '.' => {
                    self.pos += 1;
                    self.emit(".");
                }
                _ => {
                    self.pos += 1;
                    self.emit(&lit(c));
                }
            }
        }
        if !self.groups.is_empty() {
            return Err(self.err("unclosed '('"));
        }
        self.finish_branch();
        Ok(())
    }

    fn finish_branch(&mut self) {
        self.branches.push(Branch {
            full: std::mem::take(&mut self.full),
            stripped: std::mem::take(&mut self.stripped),
            fancy: std::mem::take(&mut self.fancy),
        });
        self.after_lookaround = false;
    }

    /// A quantifier (with an optional lazy `?`) for the previous item.
    fn quantifier(&mut self, mut q: String) {
        if self.peek(0) == Some('?') {
            self.pos += 1;
            q.push('?');
        }
        self.full.push_str(&q);
        if !self.in_lookaround() && !self.after_lookaround {
            self.stripped.push_str(&q);
        }
    }

    /// `{m}`, `{m,}`, `{,n}`, `{m,n}` at `pos` → (regex syntax, chars consumed). Python reads any
    /// other `{` as a literal.
    fn brace_quantifier(&self) -> Option<(String, usize)> {
        let rest: String = self.chars[self.pos..].iter().take(24).collect();
        let close = rest.find('}')?;
        let body = &rest[1..close];
        let valid = |s: &str| s.chars().all(|c| c.is_ascii_digit());
        let q = match body.split_once(',') {
            None if !body.is_empty() && valid(body) => format!("{{{body}}}"),
            Some((lo, hi)) if valid(lo) && valid(hi) => {
                let lo = if lo.is_empty() { "0" } else { lo };
                format!("{{{lo},{hi}}}")
            }
            _ => return None,
        };
        Some((q, rest[..=close].chars().count()))
    }

    fn open_group(&mut self) -> Result<(), PatternError> {
        let rest: String = self.chars[self.pos..].iter().take(5).collect();
        let (kind, syntax, len) = if rest.starts_with("(?:") {
            (Group::Plain, "(?:", 3)
        } else if rest.starts_with("(?=") {
            (Group::Lookaround, "(?=", 3)
        } else if rest.starts_with("(?!") {
            (Group::Lookaround, "(?!", 3)
        } else if rest.starts_with("(?<=") {
            (Group::Lookaround, "(?<=", 4)
        } else if rest.starts_with("(?<!") {
            (Group::Lookaround, "(?<!", 4)
        } else if rest.starts_with("(?P<") {
            let close = self.chars[self.pos..]
                .iter()
                .position(|&c| c == '>')
                .ok_or_else(|| self.err("unclosed group name"))?;
            self.pos += close + 1;
            self.groups.push(Group::Plain);
            self.emit("(?:");
            return Ok(());
        } else if rest.starts_with("(?") {
            // Inline flags: only `(?u)` (Unicode matching, the default for str patterns).
            let close = self.chars[self.pos..]
                .iter()
                .position(|&c| c == ')')
                .ok_or_else(|| self.err("unclosed flag group"))?;
            let flags: String = self.chars[self.pos + 2..self.pos + close].iter().collect();
            if !flags.is_empty() && flags.chars().all(|f| f == 'u') {
                self.pos += close + 1;
                return Ok(());
            }
            return Err(self.err(format!("group or flags (?{flags})")));
        } else {
            (Group::Plain, "(?:", 1)
        };
        self.pos += len;
        if kind == Group::Lookaround {
            self.fancy = true;
            self.full.push_str(syntax);
            self.groups.push(kind);
        } else {
            self.emit(syntax);
            self.groups.push(kind);
        }
        Ok(())
    }

    /// Reads `n` hex digits after the current position.
    fn hex_digits(&mut self, n: usize) -> Result<char, PatternError> {
        let digits: String = self.chars[self.pos..].iter().take(n).collect();
        if digits.chars().count() != n {
            return Err(self.err("short hex escape"));
        }
        let value = u32::from_str_radix(&digits, 16).map_err(|_| self.err("bad hex escape"))?;
        self.pos += n;
        char::from_u32(value).ok_or_else(|| self.err("hex escape is not a char"))
    }

    /// An escape at `pos` (a `\`) → regex text. In a class, shorthand classes come back as
    /// class items (no brackets).
    fn escape(&mut self, in_class: bool) -> Result<String, PatternError> {
        self.pos += 1;
        let c = self.peek(0).ok_or_else(|| self.err("trailing backslash"))?;
        self.pos += 1;
        let literal = |c: char| Ok(lit(c));
        match c {
            'u' => self.hex_digits(4).map(lit),
            'U' => self.hex_digits(8).map(lit),
            'x' => self.hex_digits(2).map(lit),
            'n' => literal('\n'),
            't' => literal('\t'),
            'r' => literal('\r'),
            'f' => literal('\u{c}'),
            'v' => literal('\u{b}'),
            'a' => literal('\u{7}'),
            'd' => Ok("\\d".to_owned()),
            'D' => Ok("\\D".to_owned()),
            'w' if in_class => Ok("\\p{L}\\p{N}_".to_owned()),
            'w' => Ok("[\\p{L}\\p{N}_]".to_owned()),
            'W' if !in_class => Ok("[^\\p{L}\\p{N}_]".to_owned()),
            's' if in_class => Ok(space_items()),
            's' => Ok(format!("[{}]", space_items())),
            'S' if !in_class => Ok(format!("[^{}]", space_items())),
            'A' if !in_class => Ok("\\A".to_owned()),
            'Z' if !in_class => Ok("\\z".to_owned()),
            'b' if !in_class => Ok("\\b".to_owned()),
            'B' if !in_class => Ok("\\B".to_owned()),
            'b' => literal('\u{8}'),
            c if c.is_ascii_alphanumeric() => Err(self.err(format!("escape \\{c}"))),
            c => literal(c),
        }
    }

    /// A character class at `pos` (a `[`) → regex text.
    fn class(&mut self) -> Result<String, PatternError> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::from("[");
        if self.peek(0) == Some('^') {
            self.pos += 1;
            out.push('^');
        }
        let mut first = true;
        loop {
            let c = self.peek(0).ok_or_else(|| PatternError::Unsupported {
                pos: start,
                what: "unclosed character class".to_owned(),
            })?;
            if c == ']' && !first {
                self.pos += 1;
                break;
            }
            first = false;
            // One item: a char (maybe the start of a range) or a shorthand class.
            let (item, single) = if c == '\\' {
                let before = self.pos;
                let item = self.escape(true)?;
                let single = self.chars[before + 1] != 'd'
                    && !matches!(self.chars[before + 1], 'D' | 'w' | 's');
                (item, single)
            } else {
                self.pos += 1;
                (lit(c), true)
            };
            out.push_str(&item);
            if single && self.peek(0) == Some('-') && self.peek(1).is_some_and(|n| n != ']') {
                self.pos += 1;
                let hi = if self.peek(0) == Some('\\') {
                    self.escape(true)?
                } else {
                    let c = self.peek(0).unwrap_or(']');
                    self.pos += 1;
                    lit(c)
                };
                let _ = write!(out, "-{hi}");
            }
        }
        out.push(']');
        Ok(out)
    }
}

fn truncate(s: &str) -> String {
    s.chars().take(40).collect()
}

/// A group of consecutive alternatives, matched by one engine.
#[derive(Debug)]
enum Part {
    /// Alternatives without look-around, as one leftmost-first DFA-backed regex.
    Plain(Regex),
    /// One alternative with look-around, and its look-around-free superset as a prefilter.
    Fancy {
        exact: fancy_regex::Regex,
        prefilter: Regex,
    },
}

impl Part {
    /// This part's preferred match starting exactly at byte `at`.
    fn match_at(&self, text: &str, at: usize) -> Option<(usize, usize)> {
        match self {
            Part::Plain(re) => anchored(re, text, at),
            Part::Fancy { exact, prefilter } => {
                anchored(prefilter, text, at)?;
                let input = fancy_regex::RegexInput::new(text)
                    .from_pos(at)
                    .anchored(true);
                // A backtracking-limit error counts as no match (see the module docs).
                let m = exact.find_input(input).ok().flatten()?;
                Some((m.start(), m.end()))
            }
        }
    }
}

/// `re`'s match starting exactly at `at` (look-behinds see the text before `at`).
fn anchored(re: &Regex, text: &str, at: usize) -> Option<(usize, usize)> {
    let input = Input::new(text).range(at..).anchored(Anchored::Yes);
    re.search(&input).map(|m| (m.start(), m.end()))
}

/// A compiled Python pattern with Python's `search` / `match` / `finditer` semantics.
#[derive(Debug)]
pub(crate) struct PyRegex {
    parts: Vec<Part>,
    /// All alternatives, look-arounds deleted: no alternative matches where this does not.
    gate: Regex,
}

fn compile(pattern: &str) -> Result<Regex, PatternError> {
    Regex::new(pattern).map_err(|e| PatternError::Compile(e.to_string()))
}

impl PyRegex {
    /// Translates and compiles a Python pattern.
    ///
    /// # Errors
    /// [`PatternError`] when the pattern cannot be translated or compiled.
    pub(crate) fn new(pattern: &str) -> Result<Self, PatternError> {
        let branches = translate(pattern)?;
        let mut parts = Vec::new();
        let mut plain: Vec<&str> = Vec::new();
        let flush = |plain: &mut Vec<&str>, parts: &mut Vec<Part>| -> Result<(), PatternError> {
            if !plain.is_empty() {
                let joined: Vec<String> = plain.iter().map(|b| format!("(?:{b})")).collect();
                parts.push(Part::Plain(compile(&joined.join("|"))?));
                plain.clear();
            }
            Ok(())
        };
        for branch in &branches {
            if branch.fancy {
                flush(&mut plain, &mut parts)?;
                let exact = fancy_regex::Regex::new(&branch.full)
                    .map_err(|e| PatternError::Compile(e.to_string()))?;
                parts.push(Part::Fancy {
                    exact,
                    prefilter: compile(&branch.stripped)?,
                });
            } else {
                plain.push(&branch.full);
            }
        }
        flush(&mut plain, &mut parts)?;
        let gate: Vec<String> = branches
            .iter()
            .map(|b| format!("(?:{})", b.stripped))
            .collect();
        Ok(Self {
            parts,
            gate: compile(&gate.join("|"))?,
        })
    }

    /// Python `pattern.search(text, pos)`: the leftmost match starting at or after byte `pos`
    /// (look-behinds see the text before `pos`), as a byte range.
    ///
    /// Python tries each position in turn and, at each, each alternative in order. The gate
    /// skips to the next position where any alternative might match; there the parts are
    /// tried in order, anchored, so the cost stays linear in the text.
    pub(crate) fn search_from(&self, text: &str, pos: usize) -> Option<(usize, usize)> {
        let mut pos = pos;
        while pos <= text.len() {
            let candidate = self.gate.search(&Input::new(text).range(pos..))?.start();
            if let Some(m) = self.parts.iter().find_map(|p| p.match_at(text, candidate)) {
                return Some(m);
            }
            pos = candidate + text[candidate..].chars().next().map_or(1, char::len_utf8);
        }
        None
    }

    /// Python `pattern.search(text)`.
    pub(crate) fn search(&self, text: &str) -> Option<(usize, usize)> {
        self.search_from(text, 0)
    }

    /// Python `pattern.match(text)` (anchored at the start) succeeded.
    pub(crate) fn matches_at_start(&self, text: &str) -> bool {
        anchored(&self.gate, text, 0).is_some()
            && self.parts.iter().any(|p| p.match_at(text, 0).is_some())
    }

    /// Python `pattern.finditer(text)` as byte ranges, appended to `out`.
    pub(crate) fn find_iter(&self, text: &str, out: &mut Vec<(usize, usize)>) {
        let mut pos = 0;
        while pos <= text.len() {
            let Some((s, e)) = self.search_from(text, pos) else {
                break;
            };
            out.push((s, e));
            pos = if e > s {
                e
            } else {
                // An empty match: continue after the next char (see the module docs).
                e + text[e..].chars().next().map_or(1, char::len_utf8)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn branches(p: &str) -> Vec<(String, String, bool)> {
        translate(p)
            .unwrap()
            .into_iter()
            .map(|b| (b.full, b.stripped, b.fancy))
            .collect()
    }

    #[test]
    fn escapes_become_hex_literals() {
        assert_eq!(
            branches(r"^\'|^\u00A6|\U0001F600$"),
            vec![
                ("^\\x{27}".into(), "^\\x{27}".into(), false),
                ("^\\x{A6}".into(), "^\\x{A6}".into(), false),
                ("\\x{1F600}\\z".into(), "\\x{1F600}\\z".into(), false),
            ]
        );
    }

    #[test]
    fn python_class_punctuation_stays_literal() {
        // In Python `[…|(?:\'"]` is one class of literal chars; `&&`, `--`, `[` too.
        let re = PyRegex::new(r"(?<=[a|(?:\'&&--[])\.$").unwrap();
        for (text, hit) in [
            ("a.", true),
            ("|.", true),
            ("(.", true),
            ("&.", true),
            ("-.", true),
            ("[.", true),
            ("'.", true),
            ("b.", false),
        ] {
            assert_eq!(re.search(text).is_some(), hit, "{text}");
        }
    }

    #[test]
    fn lookarounds_are_stripped_from_the_prefilter() {
        assert_eq!(
            branches(r"(?<=[0-9])[+\-](?=[0-9-])"),
            vec![(
                "(?<=[0-9])[\\x{2B}\\x{2D}](?=[0-9\\x{2D}])".into(),
                "[\\x{2B}\\x{2D}]".into(),
                true
            )]
        );
    }

    #[test]
    fn search_is_leftmost_then_first_alternative() {
        // Values checked with Python's re: the leftmost start wins, then the first alternative.
        let re = PyRegex::new(r"ab|(?<=x)a").unwrap();
        assert_eq!(re.search("xab"), Some((1, 3)));
        let re = PyRegex::new(r"(?<=x)a|ab").unwrap();
        assert_eq!(re.search("xab"), Some((1, 2)));
        let re = PyRegex::new(r"b$|(?<=x)a").unwrap();
        assert_eq!(re.search("xab"), Some((1, 2)));
        // Prefix-style alternation order: Python takes '…' before '……'.
        let re = PyRegex::new("^…|^……").unwrap();
        assert_eq!(re.search("……x"), Some((0, 3)));
    }

    #[test]
    fn finditer_lookbehind_sees_previous_text() {
        let re = PyRegex::new(r"(?<=[0-9])[+\-\*^](?=[0-9-])").unwrap();
        let mut out = Vec::new();
        re.find_iter("1-2-3", &mut out);
        assert_eq!(out, vec![(1, 2), (3, 4)]);
    }

    #[test]
    fn brace_quantifiers_and_literal_braces() {
        let re = PyRegex::new(r"^a{2,}$|^\{|^b{,2}c$").unwrap();
        assert!(re.matches_at_start("aa"));
        assert!(!re.matches_at_start("a"));
        assert!(re.matches_at_start("{x"));
        assert!(re.matches_at_start("bbc"));
        assert!(!re.matches_at_start("bbbc"));
    }

    #[test]
    fn flags_other_than_u_are_refused() {
        assert!(PyRegex::new("(?u)^a").is_ok());
        assert!(matches!(
            PyRegex::new("(?i)^a"),
            Err(PatternError::Unsupported { .. })
        ));
        assert!(PyRegex::new(r"(a)\1").is_err());
    }

    #[test]
    fn py_isspace_matches_python() {
        for c in PY_SPACE {
            assert!(py_isspace(*c), "{c:?}");
        }
        for c in ['a', '\u{200b}', '\u{180e}', '\u{feff}', '_', '\0'] {
            assert!(!py_isspace(c), "{c:?}");
        }
        let count = (0..=0x10FFFFu32)
            .filter_map(char::from_u32)
            .filter(|&c| py_isspace(c))
            .count();
        assert_eq!(count, PY_SPACE.len());
    }
}

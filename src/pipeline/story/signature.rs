//! The story signature: normalized word shingles of the cleaned text, hashed into a fixed-size
//! MinHash and cut into LSH bands.
//!
//! Hand-written rather than taken from `gaoya` or `probminhash`: the signature is a wire
//! format. It is stored in the shared JetStream KV index and compared by every replica and by
//! `lede process`, so its hash functions must be fixed, seeded and identical across builds,
//! platforms and crate upgrades. The whole thing is one 64-bit token hash (FNV-1a), one
//! shingle mixer and 128 multiply-add permutations: short enough to own, and it is
//! deterministic by construction.

use unicode_normalization::UnicodeNormalization;

/// Words per shingle (word n-grams).
pub const SHINGLE_WORDS: usize = 3;
/// MinHash values per signature.
pub const PERMUTATIONS: usize = 128;
/// LSH bands; each band is [`BAND_ROWS`] consecutive MinHash values (the first
/// `BANDS·BAND_ROWS` of them; all [`PERMUTATIONS`] are compared when a candidate is verified).
///
/// A new story writes one index entry per band, so the band count is the index's write cost:
/// it was most of what stories cost a worker end to end. One-value bands find a copy of
/// Jaccard similarity `s` as a candidate with probability `1 - (1 - s)^8`: 0.94 at 0.3, 0.98
/// at 0.4, 0.996 at 0.5, which is more than the 16 two-value bands used before (0.78, 0.94,
/// 0.99) for half the writes, at the price of more false candidates (two articles share a
/// band when they share its least shingle), which the full signature then turns down. On the
/// DEV stream 6 to 16 one-value bands and 10 to 16 two-value bands gave identical keys; 8
/// two-value bands and 4 one-value bands lost truncated copies.
pub const BANDS: usize = 8;
/// MinHash values per band.
pub const BAND_ROWS: usize = 1;

/// A paragraph at either end of a text with fewer words than this looks like outlet framing
/// (a header, byline, copyright or sign-up line) rather than article body; see
/// [`Signature::body`].
pub const FRAME_WORDS: usize = 20;
/// Such paragraphs set aside at each end, at most.
pub const FRAME_PARAGRAPHS: usize = 2;

/// Seed of the permutation parameters (changing it changes every stored signature).
const SEED: u64 = 0x6c65_6465_7374_6f72; // "ledestor"

/// A fixed-size MinHash signature of one article's text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signature {
    /// The minimum of each permutation over the shingle hashes (top 32 bits).
    pub mins: [u32; PERMUTATIONS],
    /// Distinct shingles in the text (for the containment estimate).
    pub shingles: u32,
    /// Distinct shingles of the text's body: the text without up to [`FRAME_PARAGRAPHS`]
    /// paragraphs of under [`FRAME_WORDS`] words at each end (one paragraph always stays).
    /// Containment is only trusted when the shorter text has enough of them: a short text in
    /// an outlet's frame is mostly frame, and the frame is in every article of that outlet.
    pub body: u32,
}

/// The permutation parameters `(a, b)`: `h(x) = a·x + b (mod 2^64)`, `a` odd, from SplitMix64.
const PARAMS: [(u64, u64); PERMUTATIONS] = params();

const fn splitmix(state: u64) -> (u64, u64) {
    let state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (state, z ^ (z >> 31))
}

const fn params() -> [(u64, u64); PERMUTATIONS] {
    let mut out = [(0u64, 0u64); PERMUTATIONS];
    let mut state = SEED;
    let mut i = 0;
    while i < PERMUTATIONS {
        let (s, a) = splitmix(state);
        let (s, b) = splitmix(s);
        state = s;
        out[i] = (a | 1, b);
        i += 1;
    }
    out
}

/// The 64-bit finalizer of MurmurHash3: spreads a combined shingle hash over all bits.
const fn mix(mut z: u64) -> u64 {
    z ^= z >> 33;
    z = z.wrapping_mul(0xff51_afd7_ed55_8ccd);
    z ^= z >> 33;
    z = z.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    z ^ (z >> 33)
}

/// FNV-1a, the hash of one normalized word, fed byte by byte as the word is read.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

fn fnv(h: u64, byte: u8) -> u64 {
    (h ^ u64::from(byte)).wrapping_mul(FNV_PRIME)
}

/// Calls `f` with each character of the NFKC form of `text`, line by line: a line the quick
/// check passes (most lines of news text: curly quotes and dashes are NFKC-stable) is read as
/// it is, only the others go through the decompose/recompose pass, which was most of the
/// signature's time. A line break is a starter that composes with nothing, so normalizing line
/// by line gives the characters normalizing the whole text does.
fn for_each_nfkc_char(text: &str, mut f: impl FnMut(char)) {
    use unicode_normalization::{IsNormalized, is_nfkc_quick};
    for line in text.split_inclusive('\n') {
        if is_nfkc_quick(line.chars()) == IsNormalized::Yes {
            line.chars().for_each(&mut f);
        } else {
            line.nfkc().for_each(&mut f);
        }
    }
}

/// The normalized words of `text`: NFKC, lower-cased, maximal runs of letters and digits,
/// each as the FNV-1a hash of its UTF-8 bytes.
///
/// Punctuation, quotes, dashes and whitespace of any kind separate words and are otherwise
/// ignored, so curly/straight quotes, dash styles, non-breaking spaces and paragraph spacing
/// never change a signature.
pub fn words(text: &str) -> Vec<u64> {
    let mut out = Vec::with_capacity(text.len() / 5);
    let mut h = FNV_OFFSET;
    let mut in_word = false;
    for_each_nfkc_char(text, |c| {
        if c.is_ascii_alphanumeric() {
            // ASCII: one byte, its lower case.
            h = fnv(h, c.to_ascii_lowercase() as u8);
            in_word = true;
        } else if !c.is_ascii() && c.is_alphanumeric() {
            let mut utf8 = [0u8; 4];
            for lower in c.to_lowercase() {
                for &b in lower.encode_utf8(&mut utf8).as_bytes() {
                    h = fnv(h, b);
                }
            }
            in_word = true;
        } else if in_word {
            out.push(h);
            h = FNV_OFFSET;
            in_word = false;
        }
    });
    if in_word {
        out.push(h);
    }
    out
}

/// Distinct shingles of `words`.
fn distinct_shingles(words: &[u64]) -> Vec<u64> {
    let mut shingles: Vec<u64> = if words.len() < SHINGLE_WORDS {
        vec![shingle(words)]
    } else {
        words.windows(SHINGLE_WORDS).map(shingle).collect()
    };
    shingles.sort_unstable();
    shingles.dedup();
    shingles
}

/// The number of words of paragraph `p` (as [`words`] counts them) when it is under
/// [`FRAME_WORDS`]; `None` as soon as it reaches that.
fn short_paragraph(p: &str) -> Option<usize> {
    let mut n = 0;
    let mut in_word = false;
    for c in p.nfkc() {
        let alnum = c.is_alphanumeric();
        if alnum && !in_word {
            n += 1;
            if n >= FRAME_WORDS {
                return None;
            }
        }
        in_word = alnum;
    }
    Some(n)
}

/// Words of the frame-like paragraphs at the start and at the end of `text` (see
/// [`Signature::body`]). Paragraphs are separated by blank lines, as `clean` writes them.
fn frame_words(text: &str) -> (usize, usize) {
    let paragraphs: Vec<&str> = text
        .split("\n\n")
        .filter(|p| p.chars().any(char::is_alphanumeric))
        .collect();
    let (mut lo, mut hi) = (0, paragraphs.len());
    let (mut head, mut tail) = (0, 0);
    while lo < FRAME_PARAGRAPHS && hi - lo > 1 {
        let Some(n) = short_paragraph(paragraphs[lo]) else {
            break;
        };
        head += n;
        lo += 1;
    }
    while paragraphs.len() - hi < FRAME_PARAGRAPHS && hi - lo > 1 {
        let Some(n) = short_paragraph(paragraphs[hi - 1]) else {
            break;
        };
        tail += n;
        hi -= 1;
    }
    (head, tail)
}

impl Signature {
    /// The signature of `text`, or `None` when it has no word at all.
    ///
    /// # Examples
    /// ```
    /// use lede::pipeline::story::Signature;
    /// let a = Signature::of("The council approved the budget on Friday.").unwrap();
    /// let b = Signature::of("the council approved the budget on friday").unwrap();
    /// assert_eq!(a, b);
    /// assert!(Signature::of(" -- ").is_none());
    /// ```
    pub fn of(text: &str) -> Option<Self> {
        let words = words(text);
        if words.is_empty() {
            return None;
        }
        let shingles = distinct_shingles(&words);
        let mut mins = [u64::MAX; PERMUTATIONS];
        for &x in &shingles {
            for (m, &(a, b)) in mins.iter_mut().zip(PARAMS.iter()) {
                let h = a.wrapping_mul(x).wrapping_add(b);
                if h < *m {
                    *m = h;
                }
            }
        }
        let mut out = [0u32; PERMUTATIONS];
        for (o, m) in out.iter_mut().zip(mins) {
            // The high half of a multiply-add is its well-mixed half.
            *o = (m >> 32) as u32;
        }
        let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
        let (head, tail) = frame_words(text);
        // The paragraphs split the text's words, so this is a proper part of them; the test
        // only keeps a slice from ever being out of range.
        let body = if head + tail == 0 || head + tail >= words.len() {
            count(shingles.len())
        } else {
            count(distinct_shingles(&words[head..words.len() - tail]).len())
        };
        Some(Self {
            mins: out,
            shingles: count(shingles.len()),
            body,
        })
    }

    /// The estimated Jaccard similarity of the two shingle sets (share of equal MinHashes).
    pub fn jaccard(&self, other: &Self) -> f64 {
        let equal = self
            .mins
            .iter()
            .zip(other.mins.iter())
            .filter(|(a, b)| a == b)
            .count();
        equal as f64 / PERMUTATIONS as f64
    }

    /// The estimated share of the smaller set's shingles found in the larger one, from the
    /// Jaccard estimate and the two exact set sizes: |A∩B| = J·(|A|+|B|)/(1+J).
    pub fn containment(&self, other: &Self) -> f64 {
        let j = self.jaccard(other);
        let (a, b) = (f64::from(self.shingles), f64::from(other.shingles));
        let smaller = a.min(b).max(1.0);
        (j * (a + b) / (1.0 + j) / smaller).min(1.0)
    }

    /// One 64-bit hash per LSH band (the band index is part of the hash).
    pub fn bands(&self) -> [u64; BANDS] {
        let mut out = [0u64; BANDS];
        for (i, o) in out.iter_mut().enumerate() {
            let mut h = mix(SEED ^ (i as u64));
            for &v in &self.mins[i * BAND_ROWS..(i + 1) * BAND_ROWS] {
                h = mix(h ^ u64::from(v));
            }
            *o = h;
        }
        out
    }
}

/// Combines the word hashes of one shingle (order matters).
fn shingle(words: &[u64]) -> u64 {
    let mut h = SEED;
    for &w in words {
        h = mix(h.rotate_left(23) ^ w);
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_permutation_parameters_are_odd_and_distinct() {
        let mut seen: Vec<u64> = PARAMS.iter().map(|p| p.0).collect();
        assert!(seen.iter().all(|a| a % 2 == 1));
        seen.sort_unstable();
        seen.dedup();
        assert_eq!(seen.len(), PERMUTATIONS);
    }

    #[test]
    fn the_signature_is_a_fixed_wire_format() {
        // Pinned: a change here invalidates every index in the fleet (see the module docs).
        let s = Signature::of("one two three four").expect("words");
        assert_eq!(s.shingles, 2);
        assert_eq!(
            s.mins[0],
            Signature::of("ONE two, three—four").expect("w").mins[0]
        );
        assert_eq!(words("a"), [0xaf63_dc4c_8601_ec8c]);
        // The band keys too: every replica and release must look up what another wrote.
        assert_eq!(s.bands()[0], 0xac81_eeb3_e001_c824);
    }

    /// The words as first written: every text through NFKC, each word lower-cased into a
    /// string, then hashed.
    fn words_by_the_book(text: &str) -> Vec<u64> {
        let hash = |w: &str| w.bytes().fold(FNV_OFFSET, fnv);
        let mut out = Vec::new();
        let mut word = String::new();
        for c in text.nfkc() {
            if c.is_alphanumeric() {
                word.extend(c.to_lowercase());
            } else if !word.is_empty() {
                out.push(hash(&word));
                word.clear();
            }
        }
        if !word.is_empty() {
            out.push(hash(&word));
        }
        out
    }

    #[test]
    fn words_skip_normalization_only_where_it_changes_nothing() {
        let seed = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../shared/data/seed/article.txt"
        ))
        .expect("the seed article (../shared)");
        let tricky = [
            // Already NFKC: ASCII, curly quotes, dashes, accented letters, other scripts.
            "“Hello,” she said — it’s fine. Café, naïve, Ærø, Straße",
            "Ελληνικά ΣΊΣΥΦΟΣ, Русский текст, 日本語のテキスト, عربي",
            // Letters whose lower case is longer, or not one char: İ, ẞ, Σ at a word's end.
            "İstanbul İİ ẞ ΟΔΥΣΣΕΥΣ",
            // Not NFKC: ligatures, circled and fullwidth digits and letters, a no-break
            // space, a decomposed accent, superscripts, the Kelvin and Ohm signs.
            "\u{fb01}ne \u{fb02}ow \u{2460}\u{2461} ＡＢＣ１２３ a\u{a0}b e\u{301}t\u{e9} x\u{b2} 3\u{212a} 5\u{2126}",
            "",
            "  -- ... ",
            // Lines that need NFKC beside lines that do not, and an accent after a break.
            "plain line\n\u{fb01}ne\u{a0}line\n\u{301}accent after a break\n\nlast",
        ];
        for text in tricky.iter().copied().chain([seed.as_str()]) {
            assert_eq!(words(text), words_by_the_book(text), "{text:?}");
        }
    }

    #[test]
    fn punctuation_and_case_do_not_change_the_signature() {
        let a = Signature::of("“Hello,” she said — it’s fine.\u{a0}Really.").expect("w");
        let b = Signature::of("\"hello\" she said - it's fine. really").expect("w");
        assert_eq!(a, b);
    }

    #[test]
    fn estimates_follow_overlap() {
        let base: Vec<String> = (0..200).map(|i| format!("w{i}")).collect();
        let a = Signature::of(&base.join(" ")).expect("w");
        let half = Signature::of(&base[..100].join(" ")).expect("w");
        let other: Vec<String> = (0..200).map(|i| format!("x{i}")).collect();
        let c = Signature::of(&other.join(" ")).expect("w");
        let j = a.jaccard(&half);
        assert!((0.35..0.65).contains(&j), "{j}");
        assert!(a.containment(&half) > 0.85, "{}", a.containment(&half));
        assert!(a.jaccard(&c) < 0.05);
        assert_eq!(a.jaccard(&a), 1.0);
    }

    #[test]
    fn short_paragraphs_at_either_end_are_not_body() {
        let body = "The council voted on Tuesday to approve a budget that raises property taxes \
                    by two percent and adds four hundred teachers to the city's schools next year.";
        let plain = Signature::of(body).expect("w");
        assert_eq!(plain.body, plain.shingles);
        // A header and a byline before, a footer after: only the body paragraph counts.
        let framed = Signature::of(&format!(
            "Metro Courier | Local news\n\nBy Staff\n\n{body}\n\nComments are closed."
        ))
        .expect("w");
        assert_eq!(framed.body, plain.shingles);
        assert!(framed.shingles > plain.shingles);
        // One paragraph always stays, and a long end paragraph is body.
        let short =
            Signature::of("[Simple, quick take away]\n\nSimple, quick take away.").expect("w");
        assert_eq!(short.body, 2);
        let two = Signature::of(&format!("{body}\n\n{body} Again.")).expect("w");
        assert_eq!(two.body, two.shingles);
        // At most two paragraphs go at each end.
        let many = Signature::of(&format!("a b c\n\nd e f\n\ng h i\n\n{body}")).expect("w");
        let kept = Signature::of(&format!("g h i\n\n{body}")).expect("w");
        assert_eq!(many.body, kept.shingles);
        // Odd paragraphs: empty, punctuation only, compatibility characters that NFKC turns
        // into letters or digits, combining marks after a break.
        for text in [
            "a\n\n\n\n\n\nb",
            "--\n\n\u{2460}\u{2461}\n\nword",
            "\u{fb01}ne\n\n\u{301}x y z\n\n...",
            "\n\nx\n\n",
        ] {
            let s = Signature::of(text).expect("words");
            assert!(s.body <= s.shingles, "{text:?}");
        }
    }
}

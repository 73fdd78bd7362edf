//! Inference: tok2vec (HashEmbed → maxout/layernorm mixer → 4 residual window-CNN blocks →
//! linear), the precomputed lower layer and the greedy BILUO decoder (reference README §4–§5).
//!
//! Matrix products go through `faer`'s safe `matmul` with `Par::Seq`: its f32 kernels pick
//! AVX-512/AVX2/FMA at run time and were 2.4–3.3× faster than `matrixmultiply` (via `ndarray`)
//! on this model's shapes (948×384·384×288 etc.: 110–150 vs 40–90 GFLOP/s on the Zen 5 dev box).
//! `Par::Seq` keeps every product on the calling thread, so the output does not depend on the
//! thread count. The elementwise loops (embedding sums, maxout, layer norm, decoder dot
//! products) run under `pulp`'s run-time dispatch so they are vectorised for AVX2/AVX-512 too.
//! The mixer's 384×288 product is folded into the embedding tables at load time (see
//! [`super::weights::Embed`]). All working memory lives in a reused [`Scratch`]: after the
//! first documents have grown it, a document allocates only its result.
//!
//! Summation order differs from thinc's BLAS calls (as any BLAS does); on every DEV parity
//! document the entities are identical to spaCy's.

use faer::{Accum, MatMut, MatRef, Par};

use super::hash::murmurhash3_u64;
use super::lexical::{Lexicon, py_str_isspace};
use super::weights::{
    Activation, HIDDEN, LOWER_PIECES, Matrix, Move, N_FEATS, PIECES, WIDTH, Weights,
};
use crate::pipeline::Label;

/// Rows of zeros the encoder puts before and after a document.
const PAD: usize = 4;
/// Width of one lower-layer feature slot (`HIDDEN × LOWER_PIECES`).
const SLOT: usize = HIDDEN * LOWER_PIECES;

/// An entity as a token range `[start, end)` with its label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenEntity {
    /// Index of the first token.
    pub start: usize,
    /// One past the last token.
    pub end: usize,
    /// The label.
    pub label: Label,
}

/// Reusable working memory for [`super::EntityModel::recognize_with`].
#[derive(Debug, Default)]
pub struct Scratch {
    feats: Vec<[u64; 4]>,
    is_space: Vec<bool>,
    /// Per-document cache of embedded features (see [`EmbedCache`]).
    cache: EmbedCache,
    /// Per token, the cache entry of each column.
    entries: Vec<[u32; 4]>,
    /// Window matrices ((n+8) × 288).
    wide: Vec<f32>,
    /// Maxout pre-activations ((n+8) × 288).
    pieces: Vec<f32>,
    /// Padded token vectors ((n+8) × 96).
    x: Vec<f32>,
    /// tok2vec output (n × 64).
    h: Vec<f32>,
    /// Precomputed lower layer (n × 3 × 128).
    lower: Vec<f32>,
    text: String,
}

/// The distinct `(column, feature id)` pairs of one document, each with its projected
/// embedding (the sum of its four HashEmbed rows through the mixer weights). Words, shapes and
/// affixes repeat within an article, so this gathers each table row once per document rather
/// than once per token (about a fifth as many row reads on news text).
#[derive(Debug, Default)]
struct EmbedCache {
    /// Open addressing: `(column · 2⁶² ⊕ id, entry + 1)`; entry 0 marks an empty slot.
    slots: Vec<(u64, u32)>,
    /// `PIECES·WIDTH` floats per entry.
    vectors: Vec<f32>,
    len: u32,
}

impl EmbedCache {
    /// Empties the cache, with room in the index for up to `capacity` distinct pairs (vectors
    /// grow with the pairs actually seen).
    fn reset(&mut self, capacity: usize) {
        let slots = (2 * capacity).next_power_of_two().max(16);
        self.slots.clear();
        self.slots.resize(slots, (0, 0));
        self.len = 0;
    }

    /// The entry of `id` in `column`, embedding it on first sight.
    #[inline(always)]
    fn entry(&mut self, weights: &Weights, column: usize, id: u64) -> u32 {
        let key = id ^ ((column as u64) << 62);
        let mask = self.slots.len() - 1;
        // Fibonacci hashing of the key (ids are hashes, but symbols are small integers).
        let mut i = (key.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize & mask;
        loop {
            let (k, e) = self.slots[i];
            if e == 0 {
                break;
            }
            if k == key {
                return e - 1;
            }
            i = (i + 1) & mask;
        }
        let entry = self.len;
        self.len += 1;
        self.slots[i] = (key, entry + 1);
        let table = &weights.embed[column];
        let end = (entry as usize + 1) * PIECES * WIDTH;
        if self.vectors.len() < end {
            self.vectors.resize(end.max(2 * self.vectors.len()), 0.0);
        }
        let dst = &mut self.vectors
            [entry as usize * PIECES * WIDTH..(entry as usize + 1) * PIECES * WIDTH];
        dst.fill(0.0);
        for word in murmurhash3_u64(id, table.seed) {
            let r = (word % table.rows) as usize * PIECES * WIDTH;
            for (d, e) in dst.iter_mut().zip(&table.table[r..r + PIECES * WIDTH]) {
                *d += e;
            }
        }
        entry
    }

    #[inline(always)]
    fn vector(&self, entry: u32) -> &[f32] {
        let at = entry as usize * PIECES * WIDTH;
        &self.vectors[at..at + PIECES * WIDTH]
    }
}

fn grow(buf: &mut Vec<f32>, len: usize) -> &mut [f32] {
    if buf.len() < len {
        buf.resize(len, 0.0);
    }
    &mut buf[..len]
}

/// `out (m × w.rows) = a (m × k) · wᵀ`.
fn matmul_t(a: &[f32], m: usize, w: &Matrix, out: &mut [f32]) {
    let (n, k) = (w.rows, w.cols);
    let a = MatRef::from_row_major_slice(&a[..m * k], m, k);
    let w = MatRef::from_row_major_slice(&w.data, n, k);
    let c = MatMut::from_row_major_slice_mut(&mut out[..m * n], m, n);
    faer::linalg::matmul::matmul(c, Accum::Replace, a, w.transpose(), 1.0, Par::Seq);
}

/// Sum of `v` with eight independent lanes, so the compiler can vectorise it.
#[inline(always)]
fn lane_sum(v: &[f32; WIDTH]) -> f32 {
    let mut lanes = [0f32; 8];
    for chunk in v.chunks_exact(8) {
        for (l, x) in lanes.iter_mut().zip(chunk) {
            *l += x;
        }
    }
    lanes.iter().sum()
}

/// Maxout over the `PIECES` piece-major blocks of `pre` (adding the bias), then layer norm;
/// `out` receives the result, added to what it holds when `residual`.
#[inline(always)]
fn maxout_norm_row(pre: &[f32], act: &Activation, out: &mut [f32], residual: bool) {
    let (p0, rest) = pre.split_at(WIDTH);
    let (p1, p2) = rest.split_at(WIDTH);
    let (b0, rest) = act.b.split_at(WIDTH);
    let (b1, b2) = rest.split_at(WIDTH);
    let mut y = [0f32; WIDTH];
    for o in 0..WIDTH {
        y[o] = (p0[o] + b0[o]).max(p1[o] + b1[o]).max(p2[o] + b2[o]);
    }
    let n = WIDTH as f32;
    let mu = lane_sum(&y) / n;
    let mut dev = [0f32; WIDTH];
    for (d, v) in dev.iter_mut().zip(&y) {
        *d = (v - mu) * (v - mu);
    }
    let var = lane_sum(&dev) / n + 1e-8;
    let inv = 1.0 / var.sqrt();
    let out = &mut out[..WIDTH];
    if residual {
        for o in 0..WIDTH {
            out[o] += (y[o] - mu) * inv * act.g[o] + act.beta[o];
        }
    } else {
        for o in 0..WIDTH {
            out[o] = (y[o] - mu) * inv * act.g[o] + act.beta[o];
        }
    }
}

/// Maxout + layer norm of every `PIECES·WIDTH` row of `pre` into the `WIDTH` rows of `out`.
///
/// Run through `pulp`'s run-time dispatch so the compiler vectorises the row loops for the
/// best instruction set present (AVX2, AVX-512) rather than baseline SSE2; the arithmetic
/// (no FMA contraction, fixed lane order) is the same on every level.
struct Activate<'a> {
    pre: &'a [f32],
    act: &'a Activation,
    out: &'a mut [f32],
    residual: bool,
}

impl pulp::WithSimd for Activate<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        for (p, o) in self
            .pre
            .chunks_exact(WIDTH * PIECES)
            .zip(self.out.chunks_exact_mut(WIDTH))
        {
            maxout_norm_row(p, self.act, o, self.residual);
        }
    }
}

/// The mixer's input of every token: the sum of its four cached feature vectors (dispatched
/// like [`Activate`]).
struct Embed<'a> {
    weights: &'a Weights,
    feats: &'a [[u64; 4]],
    cache: &'a mut EmbedCache,
    entries: &'a mut Vec<[u32; 4]>,
    pieces: &'a mut [f32],
}

impl pulp::WithSimd for Embed<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let Self {
            weights,
            feats,
            cache,
            entries,
            pieces,
        } = self;
        for f in feats {
            let mut e = [0u32; 4];
            for (c, (slot, &id)) in e.iter_mut().zip(f).enumerate() {
                *slot = cache.entry(weights, c, id);
            }
            entries.push(e);
        }
        for (dst, e) in pieces.chunks_exact_mut(PIECES * WIDTH).zip(entries.iter()) {
            let (v0, v1, v2, v3) = (
                cache.vector(e[0]),
                cache.vector(e[1]),
                cache.vector(e[2]),
                cache.vector(e[3]),
            );
            for i in 0..PIECES * WIDTH {
                dst[i] = v0[i] + v1[i] + v2[i] + v3[i];
            }
        }
    }
}

/// The decoder (dispatched like [`Activate`] for its dot products).
struct Decode<'a> {
    weights: &'a Weights,
    lower: &'a [f32],
    is_space: &'a [bool],
    sent_starts: Option<&'a [bool]>,
    out: &'a mut Vec<TokenEntity>,
}

impl pulp::WithSimd for Decode<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        decode(
            self.weights,
            self.lower,
            self.is_space,
            self.sent_starts,
            self.out,
        );
    }
}

fn activate(pre: &[f32], act: &Activation, out: &mut [f32], residual: bool) {
    pulp::Arch::new().dispatch(Activate {
        pre,
        act,
        out,
        residual,
    });
}

/// Runs the NER on one document given its tokens as (text, tokenizer NORM) pairs.
///
/// With `sent_starts` (one flag per token: it starts a sentence), the decoder also applies
/// spaCy's full-pipeline rule: no `B-x` or `I-x` when the next token starts a sentence, so no
/// entity crosses a sentence start.
pub(super) fn recognize<'t>(
    weights: &Weights,
    lexicon: &Lexicon,
    tokens: impl ExactSizeIterator<Item = (&'t str, Option<&'t str>)>,
    sent_starts: Option<&[bool]>,
    scratch: &mut Scratch,
    out: &mut Vec<TokenEntity>,
) {
    out.clear();
    let n = tokens.len();
    if n == 0 {
        return;
    }
    scratch.feats.clear();
    scratch.is_space.clear();
    for (text, norm) in tokens {
        let f = lexicon.features_with(text, norm, &mut scratch.text);
        scratch.feats.push(f);
        scratch.is_space.push(py_str_isspace(text));
    }
    tok2vec(weights, scratch, n);
    // Lower layer, precomputed for every token and feature slot: n × (3·128).
    let lower = grow(&mut scratch.lower, n * N_FEATS * SLOT);
    matmul_t(&scratch.h, n, &weights.lower_w, lower);
    let lower = &scratch.lower[..n * N_FEATS * SLOT];
    pulp::Arch::new().dispatch(Decode {
        weights,
        lower,
        is_space: &scratch.is_space,
        sent_starts,
        out,
    });
}

fn tok2vec(weights: &Weights, scratch: &mut Scratch, n: usize) {
    let rows = n + 2 * PAD;
    // HashEmbed through the mixer's maxout weights: four cached vectors per token.
    scratch.cache.reset(4 * n);
    scratch.entries.clear();
    let pieces = grow(&mut scratch.pieces, rows * WIDTH * PIECES);
    pulp::Arch::new().dispatch(Embed {
        weights,
        feats: &scratch.feats,
        cache: &mut scratch.cache,
        entries: &mut scratch.entries,
        pieces,
    });
    // Mixer activation into the padded matrix.
    let x = grow(&mut scratch.x, rows * WIDTH);
    x[..PAD * WIDTH].fill(0.0);
    x[(PAD + n) * WIDTH..].fill(0.0);
    activate(
        &pieces[..n * WIDTH * PIECES],
        &weights.mixer,
        &mut x[PAD * WIDTH..(PAD + n) * WIDTH],
        false,
    );
    let wide = grow(&mut scratch.wide, rows * 3 * WIDTH);
    // Residual blocks over the padded matrix (pad rows included, as in thinc).
    for block in &weights.blocks {
        let win = &mut wide[..rows * 3 * WIDTH];
        for t in 0..rows {
            let row = &mut win[t * 3 * WIDTH..(t + 1) * 3 * WIDTH];
            let (prev, rest) = row.split_at_mut(WIDTH);
            let (cur, next) = rest.split_at_mut(WIDTH);
            if t > 0 {
                prev.copy_from_slice(&x[(t - 1) * WIDTH..t * WIDTH]);
            } else {
                prev.fill(0.0);
            }
            cur.copy_from_slice(&x[t * WIDTH..(t + 1) * WIDTH]);
            if t + 1 < rows {
                next.copy_from_slice(&x[(t + 1) * WIDTH..(t + 2) * WIDTH]);
            } else {
                next.fill(0.0);
            }
        }
        matmul_t(win, rows, &block.w, pieces);
        activate(pieces, &block.act, x, true);
    }
    // Output projection of the unpadded rows.
    let h = grow(&mut scratch.h, n * HIDDEN);
    matmul_t(&x[PAD * WIDTH..(PAD + n) * WIDTH], n, &weights.out_w, h);
    for row in h.chunks_exact_mut(HIDDEN) {
        for (v, b) in row.iter_mut().zip(&weights.out_b) {
            *v += b;
        }
    }
}

/// The greedy BILUO decoder with spaCy's validity rules; ties go to the lowest class index.
#[inline(always)]
fn decode(
    weights: &Weights,
    lower: &[f32],
    is_space: &[bool],
    sent_starts: Option<&[bool]>,
    out: &mut Vec<TokenEntity>,
) {
    let n = is_space.len();
    let slot = |t: usize, f: usize| &lower[(t * N_FEATS + f) * SLOT..(t * N_FEATS + f + 1) * SLOT];
    let pad = |f: usize| &weights.lower_pad[f * SLOT..(f + 1) * SLOT];
    let mut open: Option<(usize, Label)> = None;
    let mut acc = [0f32; SLOT];
    let mut hidden = [0f32; HIDDEN];
    for (i, &space) in is_space.iter().enumerate() {
        // B-x and I-x need a next token, and (with sentence starts) one in the same sentence.
        let long =
            n - i >= 2 && !sent_starts.is_some_and(|s| s.get(i + 1).copied().unwrap_or(false));
        // Only O is valid on a whitespace token outside an entity: no scores needed.
        if open.is_none() && space {
            continue;
        }
        let (f1, f2) = match open {
            Some((s, _)) => (slot(s, 1), slot(i - 1, 2)),
            None => (pad(1), pad(2)),
        };
        for ((((a, x0), x1), x2), b) in acc
            .iter_mut()
            .zip(slot(i, 0))
            .zip(f1)
            .zip(f2)
            .zip(&weights.lower_b)
        {
            *a = x0 + x1 + x2 + b;
        }
        for (h, pair) in hidden.iter_mut().zip(acc.chunks_exact(LOWER_PIECES)) {
            *h = if pair[1] > pair[0] { pair[1] } else { pair[0] };
        }
        let mut best: Option<(usize, f32)> = None;
        for (class, &mv) in weights.moves.iter().enumerate() {
            let valid = match (mv, open) {
                (Move::Begin(_), None) => long,
                (Move::In(x), Some((_, l))) => long && x == l,
                (Move::Last(x), Some((_, l))) => x == l,
                (Move::Unit(_), None) | (Move::Out, None) => true,
                _ => false,
            };
            if !valid {
                continue;
            }
            let w = &weights.upper_w[class * HIDDEN..(class + 1) * HIDDEN];
            let score = dot(w, &hidden) + weights.upper_b[class];
            if best.is_none_or(|(_, s)| score > s) {
                best = Some((class, score));
            }
        }
        let Some((class, _)) = best else { continue };
        match weights.moves[class] {
            Move::Begin(l) => open = Some((i, l)),
            Move::Last(l) => {
                if let Some((s, _)) = open.take() {
                    out.push(TokenEntity {
                        start: s,
                        end: i + 1,
                        label: l,
                    });
                }
            }
            Move::Unit(l) => out.push(TokenEntity {
                start: i,
                end: i + 1,
                label: l,
            }),
            Move::In(_) | Move::UnitNone | Move::Out => {}
        }
    }
}

#[inline(always)]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    for (ca, cb) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for k in 0..8 {
            lanes[k] += ca[k] * cb[k];
        }
    }
    lanes.iter().sum()
}

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
//! [`super::weights::Embed`]). All working memory lives in a reused [`Scratch`] of bounded
//! size: the document is encoded in chunks of [`CHUNK`] tokens (see [`recognize`]).
//!
//! Multiply-adds per token, on news_dev (940 tokens per article, 0.42 distinct tokens per
//! token; `Scratch::multiply_adds` counts lede's, `examples/ner_speed.rs` prints them):
//!
//! | layer | spaCy (thinc) | lede |
//! |---|---:|---:|
//! | mixer 384→288 | 110,592 | 0: folded into the tables at load time |
//! | window block 1, 288→288 | 82,944 | 82,944 per *distinct* token (see [`TokenCache`]) ≈ 34,700 |
//! | window blocks 2–4, 288→288 | 248,832 | 248,832 |
//! | projection 96→64 | 6,144 | 6,144 |
//! | lower layer, 3 slots × 64→128 | 24,576 | 8,192, plus 8,192 per token that starts or continues an entity |
//! | upper layer, classes × 64 | every class | valid classes only |
//! | **counted** | | **304,137** (353,096 with block 1 on every row, as before) |
//!
//! (The pad rows and chunk halos add 8 rows per article or chunk to the window blocks.)
//!
//! Summation order differs from thinc's BLAS calls (as any BLAS does): the first block sums
//! three 96-term products instead of one 288-term product. On every parity document, and on
//! the long documents of `tests/fixtures/long_entities.json.gz`, the entities are identical to
//! spaCy's. A row's bits never depend on how many rows are multiplied with it (see
//! [`matmul_rows`]), so neither the chunk size nor the document's other tokens change them.

use faer::{Accum, MatMut, MatRef, Par};

use super::hash::murmurhash3_u64;
use super::lexical::{Lexicon, py_str_isspace};
use super::weights::{Activation, HIDDEN, LOWER_PIECES, Matrix, Move, PIECES, WIDTH, Weights};
use crate::pipeline::Label;

/// Rows of zeros the encoder puts before and after a document.
const PAD: usize = 4;
/// Tokens each side that one token's tok2vec output depends on: one per window block.
const HALO: usize = 4;
/// Width of one lower-layer feature slot (`HIDDEN × LOWER_PIECES`).
const SLOT: usize = HIDDEN * LOWER_PIECES;
/// Tokens per tok2vec pass: a document is encoded in chunks of this many tokens (plus a halo
/// of [`HALO`] tokens each side), so working memory does not grow with the document.
pub const CHUNK: usize = 1024;
/// Distinct `(column, id)` features the embedding cache keeps across chunks; past it the
/// cache is emptied at the next chunk boundary (its vectors are recomputed identically).
const CACHE_CAP: usize = 8192;
/// Cache entries whose memory is kept between documents; an outsized document's excess is
/// released when it ends.
const CACHE_KEEP: usize = 4096;
/// Floats per distinct token of the first window block's products in the [`TokenCache`]
/// (previous, current, next token).
const TOKEN_PRODUCTS: usize = 3 * PIECES * WIDTH;
/// Distinct tokens the token cache holds at most (3.75 KB each: 3.9 MB): the rows of one
/// default chunk. A chunk that would take it past this starts with an empty cache.
const TOKEN_CAP: usize = CHUNK + 2 * HALO;
/// Token cache entries whose memory is kept between documents (1.9 MB).
const TOKEN_KEEP: usize = 512;

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
///
/// Its size is bounded whatever the document's length: the network runs over chunks of at
/// most [`CHUNK`] tokens (each with a halo of the four tokens the window blocks can see on
/// either side), and the decoder carries only its open entity across chunk boundaries. The
/// output is bit-for-bit the same as one pass over the whole document, for any chunk size.
#[derive(Debug)]
pub struct Scratch {
    /// Tokens per pass.
    chunk: usize,
    feats: Vec<[u64; 4]>,
    is_space: Vec<bool>,
    /// Per-document cache of embedded features (see [`EmbedCache`]).
    cache: EmbedCache,
    /// Per token, the cache entry of each column.
    entries: Vec<[u32; 4]>,
    /// Per-document cache of distinct tokens (see [`TokenCache`]).
    tokens: TokenCache,
    /// Per row of the chunk, its token's entry in `tokens`.
    rows: Vec<u32>,
    /// Features of the chunk's tokens not yet in `tokens`.
    fresh: Vec<[u64; 4]>,
    /// Window matrices ((chunk+8) × 288).
    wide: Vec<f32>,
    /// Maxout pre-activations ((chunk+8) × 288).
    pieces: Vec<f32>,
    /// Padded token vectors ((chunk+8) × 96).
    x: Vec<f32>,
    /// tok2vec output (chunk × 64).
    h: Vec<f32>,
    /// Lower layer of the buffer-head feature (chunk × 128).
    lower: Vec<f32>,
    text: String,
    /// Multiply-adds done so far (every product and dot product of the network).
    multiply_adds: u64,
}

impl Default for Scratch {
    fn default() -> Self {
        Self::with_chunk(CHUNK)
    }
}

impl Scratch {
    /// Working memory that encodes at most `tokens` tokens per pass (at least one). The
    /// entities do not depend on it; [`CHUNK`] (the default) keeps the per-chunk overhead of
    /// the halo under 1 %.
    pub fn with_chunk(tokens: usize) -> Self {
        Self {
            chunk: tokens.max(1),
            feats: Vec::new(),
            is_space: Vec::new(),
            cache: EmbedCache::default(),
            entries: Vec::new(),
            tokens: TokenCache::default(),
            rows: Vec::new(),
            fresh: Vec::new(),
            wide: Vec::new(),
            pieces: Vec::new(),
            x: Vec::new(),
            h: Vec::new(),
            lower: Vec::new(),
            text: String::new(),
            multiply_adds: 0,
        }
    }

    /// Multiply-adds the network has done with this memory so far: the window blocks, the
    /// first block's per-distinct-token products, the output projection, the lower layer
    /// and the decoder's scores (the additions of cached vectors are not counted).
    pub fn multiply_adds(&self) -> u64 {
        self.multiply_adds
    }

    /// Bytes of working memory currently held (capacities of its buffers).
    pub fn held_bytes(&self) -> usize {
        use std::mem::size_of;
        self.feats.capacity() * size_of::<[u64; 4]>()
            + self.is_space.capacity()
            + self.cache.slots.capacity() * size_of::<(u64, u32)>()
            + self.cache.vectors.capacity() * size_of::<f32>()
            + self.entries.capacity() * size_of::<[u32; 4]>()
            + self.tokens.slots.capacity() * size_of::<([u64; 4], u32)>()
            + (self.tokens.mixed.capacity() + self.tokens.products.capacity()) * size_of::<f32>()
            + self.rows.capacity() * size_of::<u32>()
            + self.fresh.capacity() * size_of::<[u64; 4]>()
            + (self.wide.capacity()
                + self.pieces.capacity()
                + self.x.capacity()
                + self.h.capacity()
                + self.lower.capacity())
                * size_of::<f32>()
            + self.text.capacity()
    }
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
    /// Most entries before the next [`EmbedCache::reset`] (sizes `vectors`' growth).
    limit: usize,
}

impl EmbedCache {
    /// Empties the cache, with room in the index for up to `capacity` distinct pairs (vectors
    /// grow with the pairs actually seen, never past `capacity`).
    fn reset(&mut self, capacity: usize) {
        let slots = (2 * capacity).next_power_of_two().max(16);
        self.slots.clear();
        self.slots.resize(slots, (0, 0));
        self.len = 0;
        self.limit = capacity;
    }

    /// Releases the memory of an outsized document: keeps room for [`CACHE_KEEP`] entries.
    fn release(&mut self) {
        let keep_slots = (2 * CACHE_KEEP).next_power_of_two();
        if self.slots.len() > keep_slots {
            self.slots.truncate(keep_slots);
            self.slots.shrink_to_fit();
        }
        let keep = CACHE_KEEP * PIECES * WIDTH;
        if self.vectors.len() > keep {
            self.vectors.truncate(keep);
            self.vectors.shrink_to_fit();
        }
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
            let most = self.limit.max(entry as usize + 1) * PIECES * WIDTH;
            self.vectors
                .resize(end.max(2 * self.vectors.len()).min(most), 0.0);
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

/// The distinct tokens (feature 4-tuples) of one document, each with its mixer output and
/// that output's products with the three column blocks of the first window block's weights.
///
/// The first block's pre-activation of row `r` is `W·[x(r-1); x(r); x(r+1)]`, and `x` of a
/// token depends only on its features, so it equals `W_prev·x(r-1) + W_cur·x(r) +
/// W_next·x(r+1)` with each product computed once per distinct token: a news article has
/// about 0.4 distinct tokens per token, so this does 0.4 of that block's 82,944
/// multiply-adds per token, plus 576 additions.
#[derive(Debug, Default)]
struct TokenCache {
    /// Open addressing: `(features, entry + 1)`; entry 0 marks an empty slot.
    slots: Vec<([u64; 4], u32)>,
    /// `WIDTH` floats per entry: its mixer output.
    mixed: Vec<f32>,
    /// `TOKEN_PRODUCTS` floats per entry: the mixer output times the first block's three
    /// column blocks.
    products: Vec<f32>,
    len: u32,
    /// Most entries before the next [`TokenCache::reset`].
    limit: usize,
}

impl TokenCache {
    /// Empties the cache, with room for up to `capacity` distinct tokens.
    fn reset(&mut self, capacity: usize) {
        let slots = (2 * capacity).next_power_of_two().max(16);
        self.slots.clear();
        self.slots.resize(slots, ([0; 4], 0));
        self.len = 0;
        self.limit = capacity;
    }

    /// Releases the memory of an outsized document: keeps room for [`TOKEN_KEEP`] entries.
    fn release(&mut self) {
        let keep_slots = (2 * TOKEN_KEEP).next_power_of_two();
        if self.slots.len() > keep_slots {
            self.slots.truncate(keep_slots);
            self.slots.shrink_to_fit();
        }
        for (buf, per) in [
            (&mut self.mixed, WIDTH),
            (&mut self.products, TOKEN_PRODUCTS),
        ] {
            if buf.len() > TOKEN_KEEP * per {
                buf.truncate(TOKEN_KEEP * per);
                buf.shrink_to_fit();
            }
        }
    }

    /// The entry of a token with features `key`, and whether it is new (its row then still
    /// has to be filled).
    #[inline(always)]
    fn entry(&mut self, key: &[u64; 4]) -> (u32, bool) {
        let mask = self.slots.len() - 1;
        let mixed =
            key[0] ^ key[1].rotate_left(17) ^ key[2].rotate_left(31) ^ key[3].rotate_left(47);
        let mut i = (mixed.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 32) as usize & mask;
        loop {
            let (k, e) = &self.slots[i];
            if *e == 0 {
                break;
            }
            if k == key {
                return (e - 1, false);
            }
            i = (i + 1) & mask;
        }
        let entry = self.len;
        self.len += 1;
        self.slots[i] = (*key, entry + 1);
        let most = self.limit.max(entry as usize + 1);
        for (buf, per) in [
            (&mut self.mixed, WIDTH),
            (&mut self.products, TOKEN_PRODUCTS),
        ] {
            let end = (entry as usize + 1) * per;
            if buf.len() < end {
                buf.resize(end.max(2 * buf.len()).min(most * per), 0.0);
            }
        }
        (entry, true)
    }

    /// The mixer output of `entry`.
    #[inline(always)]
    fn mixed(&self, entry: u32) -> &[f32] {
        let at = entry as usize * WIDTH;
        &self.mixed[at..at + WIDTH]
    }

    /// The product of `entry`'s mixer output with the first block's column block `block`.
    #[inline(always)]
    fn product(&self, entry: u32, block: usize) -> &[f32] {
        let at = entry as usize * TOKEN_PRODUCTS + block * PIECES * WIDTH;
        &self.products[at..at + PIECES * WIDTH]
    }

    /// Fills the rows of the `count` entries from `first`: mixer outputs `x` (`count × WIDTH`)
    /// and their products with the split first-block weights.
    fn fill(&mut self, first: u32, count: usize, x: &[f32], split: &Matrix) {
        let first = first as usize;
        self.mixed[first * WIDTH..(first + count) * WIDTH].copy_from_slice(&x[..count * WIDTH]);
        matmul_rows(
            x,
            count,
            &split.data,
            split.rows,
            split.cols,
            &mut self.products[first * TOKEN_PRODUCTS..(first + count) * TOKEN_PRODUCTS],
        );
    }
}

/// The first window block's pre-activations of every row from the token cache:
/// `prev(r-1) + cur(r) + next(r+1)`, a missing neighbour (outside the rows, or a pad row,
/// whose vector is zero) adding nothing (dispatched like [`Activate`]).
struct FirstBlock<'a> {
    cache: &'a TokenCache,
    /// Rows before the first real token's.
    before: usize,
    /// Per real row, its token's entry.
    entries: &'a [u32],
    rows: usize,
    pieces: &'a mut [f32],
}

impl pulp::WithSimd for FirstBlock<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        let Self {
            cache,
            before,
            entries,
            rows,
            pieces,
        } = self;
        for (t, dst) in pieces
            .chunks_exact_mut(PIECES * WIDTH)
            .take(rows)
            .enumerate()
        {
            let prev = first_block_part(cache, entries, before, t.checked_sub(1), 0);
            let cur = first_block_part(cache, entries, before, Some(t), 1);
            let next = first_block_part(cache, entries, before, (t + 1 < rows).then_some(t + 1), 2);
            for i in 0..PIECES * WIDTH {
                dst[i] = prev[i] + cur[i] + next[i];
            }
        }
    }
}

/// Row `t`'s product with the first block's column block `block` (0 previous, 1 current,
/// 2 next), or zeros for a row outside the rows or a pad row.
#[inline(always)]
fn first_block_part<'c>(
    cache: &'c TokenCache,
    entries: &[u32],
    before: usize,
    t: Option<usize>,
    block: usize,
) -> &'c [f32] {
    const ZERO: [f32; PIECES * WIDTH] = [0.0; PIECES * WIDTH];
    match t
        .and_then(|t| t.checked_sub(before))
        .and_then(|i| entries.get(i))
    {
        Some(&e) => cache.product(e, block),
        None => &ZERO,
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
    matmul_rows(a, m, &w.data, w.rows, w.cols, out);
}

/// The widest input row and the widest output row of the network's products.
const MAX_K: usize = 3 * WIDTH;
const MAX_N: usize = 3 * PIECES * WIDTH;

/// `out (m × n) = a (m × k) · wᵀ` for a row-major `w` of `n × k`.
///
/// A row's result is the same bits whatever `m` is: `faer` takes a matrix-vector path for a
/// single row, which sums in another order, so one row is multiplied as two equal rows. (The
/// token cache multiplies however many tokens are new in a chunk, often one.)
fn matmul_rows(a: &[f32], m: usize, w: &[f32], n: usize, k: usize, out: &mut [f32]) {
    if m == 1 {
        debug_assert!(k <= MAX_K && n <= MAX_N);
        let mut a2 = [0f32; 2 * MAX_K];
        a2[..k].copy_from_slice(&a[..k]);
        a2[k..2 * k].copy_from_slice(&a[..k]);
        let mut out2 = [0f32; 2 * MAX_N];
        matmul_full(&a2, 2, w, n, k, &mut out2);
        out[..n].copy_from_slice(&out2[..n]);
        return;
    }
    matmul_full(a, m, w, n, k, out);
}

/// [`matmul_rows`] as `faer` computes it.
fn matmul_full(a: &[f32], m: usize, w: &[f32], n: usize, k: usize, out: &mut [f32]) {
    let a = MatRef::from_row_major_slice(&a[..m * k], m, k);
    let w = MatRef::from_row_major_slice(&w[..n * k], n, k);
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

/// The decoder's state between chunks: the open entity and the lower-layer vectors of its
/// first token (feature slot 1) and of the previous token (slot 2), computed only while an
/// entity is open.
struct DecodeState {
    open: Option<(usize, Label)>,
    start: [f32; SLOT],
    prev: [f32; SLOT],
    /// Multiply-adds of the lazily computed slots and of the class scores.
    multiply_adds: u64,
}

/// The decoder over one chunk (dispatched like [`Activate`] for its dot products).
struct Decode<'a> {
    weights: &'a Weights,
    /// Index of the chunk's first token in the document.
    first: usize,
    /// Tokens in the document.
    n: usize,
    /// Per chunk token, tok2vec's output (`HIDDEN`) and the buffer-head slot (`SLOT`).
    h: &'a [f32],
    lower: &'a [f32],
    is_space: &'a [bool],
    sent_starts: Option<&'a [bool]>,
    state: &'a mut DecodeState,
    out: &'a mut Vec<TokenEntity>,
}

impl pulp::WithSimd for Decode<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _simd: S) {
        decode(self);
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

/// Runs the NER on one document of `n` tokens, `token(i)` giving token `i` as its (text,
/// tokenizer NORM) pair.
///
/// With `sent_starts` (one flag per token: it starts a sentence), the decoder also applies
/// spaCy's full-pipeline rule: no `B-x` or `I-x` when the next token starts a sentence, so no
/// entity crosses a sentence start.
///
/// The document is encoded [`Scratch::chunk`] tokens at a time. Token `t`'s tok2vec output
/// depends only on the mixer outputs of tokens `t-4..=t+4` of the padded matrix (four window
/// blocks of width one), and each row's products and activations are computed row by row
/// from those inputs alone, so a chunk with a halo of [`HALO`] tokens each side gives the
/// same bits as the whole document. The greedy decoder moves left to right and looks only at
/// the buffer head, the open entity's first token and the previous token, whose vectors it
/// carries across chunk boundaries.
pub(super) fn recognize<'t>(
    weights: &Weights,
    lexicon: &Lexicon,
    n: usize,
    token: impl Fn(usize) -> (&'t str, Option<&'t str>),
    sent_starts: Option<&[bool]>,
    scratch: &mut Scratch,
    out: &mut Vec<TokenEntity>,
) {
    out.clear();
    if n == 0 {
        return;
    }
    let chunk = scratch.chunk;
    // Every chunk adds at most four entries per row to the cache before the cap is checked.
    let per_chunk = chunk.saturating_add(2 * HALO).saturating_mul(4);
    let limit = (4 * (n + 2 * HALO)).min(CACHE_CAP.saturating_add(per_chunk));
    scratch.cache.reset(limit);
    // A chunk of more rows than the cap (a caller's own chunk size) still fits whole.
    let chunk_rows = chunk.saturating_add(2 * HALO);
    let token_limit = (n + 2 * HALO).min(TOKEN_CAP.max(chunk_rows));
    scratch.tokens.reset(token_limit);
    let mut state = DecodeState {
        open: None,
        start: [0.0; SLOT],
        prev: [0.0; SLOT],
        multiply_adds: 0,
    };
    let mut first = 0;
    while first < n {
        let end = first.saturating_add(chunk).min(n);
        if scratch.cache.len as usize > CACHE_CAP {
            scratch.cache.reset(limit);
        }
        if scratch.tokens.len as usize + (end - first + 2 * HALO) > token_limit {
            scratch.tokens.reset(token_limit);
        }
        tok2vec(weights, lexicon, &token, n, first, end, scratch);
        let m = end - first;
        // The lower layer of the buffer-head slot for every token of the chunk; the other two
        // slots are computed by the decoder for the tokens that need them.
        let lower = grow(&mut scratch.lower, m * SLOT);
        matmul_rows(&scratch.h, m, &weights.lower_w.data, SLOT, HIDDEN, lower);
        pulp::Arch::new().dispatch(Decode {
            weights,
            first,
            n,
            h: &scratch.h[..m * HIDDEN],
            lower: &scratch.lower[..m * SLOT],
            is_space: &scratch.is_space,
            sent_starts,
            state: &mut state,
            out: &mut *out,
        });
        scratch.multiply_adds += (m * HIDDEN * SLOT) as u64;
        first = end;
    }
    scratch.multiply_adds += state.multiply_adds;
    scratch.cache.release();
    scratch.tokens.release();
}

/// tok2vec's output for tokens `first..end` of an `n`-token document into `scratch.h`, and
/// their whitespace flags into `scratch.is_space`.
fn tok2vec<'t>(
    weights: &Weights,
    lexicon: &Lexicon,
    token: &impl Fn(usize) -> (&'t str, Option<&'t str>),
    n: usize,
    first: usize,
    end: usize,
    scratch: &mut Scratch,
) {
    // Rows `lo..hi` of the padded matrix (row r holds token r - PAD): the chunk's rows plus
    // a halo of HALO rows each side, clipped to the matrix. Inside the matrix the halo rows
    // are exact inputs; at its edges the zero fill below is what the whole matrix has there.
    let lo = (first + PAD).saturating_sub(HALO);
    let hi = (end + PAD + HALO).min(n + 2 * PAD);
    let rows = hi - lo;
    // Real tokens among them.
    let (t0, t1) = (lo.max(PAD) - PAD, hi.min(PAD + n) - PAD);
    let before = t0 + PAD - lo;
    scratch.feats.clear();
    for t in t0..t1 {
        let (text, norm) = token(t);
        scratch
            .feats
            .push(lexicon.features_with(text, norm, &mut scratch.text));
    }
    scratch.is_space.clear();
    scratch
        .is_space
        .extend((first..end).map(|t| py_str_isspace(token(t).0)));
    // Each distinct token is embedded, mixed and multiplied by the first block once.
    scratch.rows.clear();
    scratch.fresh.clear();
    let fresh_from = scratch.tokens.len;
    for f in &scratch.feats {
        let (entry, new) = scratch.tokens.entry(f);
        scratch.rows.push(entry);
        if new {
            scratch.fresh.push(*f);
        }
    }
    let fresh = scratch.fresh.len();
    if fresh > 0 {
        // HashEmbed through the mixer's maxout weights: four cached vectors per token.
        scratch.entries.clear();
        let pieces = grow(&mut scratch.pieces, fresh * WIDTH * PIECES);
        pulp::Arch::new().dispatch(Embed {
            weights,
            feats: &scratch.fresh,
            cache: &mut scratch.cache,
            entries: &mut scratch.entries,
            pieces,
        });
        let mixed = grow(&mut scratch.x, fresh * WIDTH);
        activate(
            &scratch.pieces[..fresh * WIDTH * PIECES],
            &weights.mixer,
            mixed,
            false,
        );
        scratch.tokens.fill(
            fresh_from,
            fresh,
            &scratch.x[..fresh * WIDTH],
            &weights.first_split,
        );
        scratch.multiply_adds += (fresh * WIDTH * 3 * PIECES * WIDTH) as u64;
    }
    // The padded matrix of mixer outputs, and the first block's pre-activations.
    let m = t1 - t0;
    let x = grow(&mut scratch.x, rows * WIDTH);
    x[..before * WIDTH].fill(0.0);
    x[(before + m) * WIDTH..].fill(0.0);
    for (dst, &e) in x[before * WIDTH..(before + m) * WIDTH]
        .chunks_exact_mut(WIDTH)
        .zip(&scratch.rows)
    {
        dst.copy_from_slice(scratch.tokens.mixed(e));
    }
    let pieces = grow(&mut scratch.pieces, rows * WIDTH * PIECES);
    pulp::Arch::new().dispatch(FirstBlock {
        cache: &scratch.tokens,
        before,
        entries: &scratch.rows,
        rows,
        pieces,
    });
    activate(pieces, &weights.blocks[0].act, x, true);
    let wide = grow(&mut scratch.wide, rows * 3 * WIDTH);
    // Residual blocks over the rows (pad rows included, as in thinc). Rows next to a halo
    // edge that is not the matrix edge come out wrong, one more each block; after four
    // blocks the wrong rows are exactly the halo.
    for block in &weights.blocks[1..] {
        for t in 0..rows {
            let row = &mut wide[t * 3 * WIDTH..(t + 1) * 3 * WIDTH];
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
        matmul_t(wide, rows, &block.w, pieces);
        activate(pieces, &block.act, x, true);
        scratch.multiply_adds += (rows * block.w.rows * block.w.cols) as u64;
    }
    // Output projection of the chunk's own rows.
    let own = first + PAD - lo;
    let m = end - first;
    let h = grow(&mut scratch.h, m * HIDDEN);
    matmul_t(&x[own * WIDTH..(own + m) * WIDTH], m, &weights.out_w, h);
    scratch.multiply_adds += (m * HIDDEN * WIDTH) as u64;
    for row in h.chunks_exact_mut(HIDDEN) {
        for (v, b) in row.iter_mut().zip(&weights.out_b) {
            *v += b;
        }
    }
}

/// Feature slot `f`'s lower-layer vector of a token with tok2vec output `h`.
#[inline(always)]
fn slot_vector(weights: &Weights, f: usize, h: &[f32], out: &mut [f32; SLOT]) {
    let w = &weights.lower_w.data[f * SLOT * HIDDEN..(f + 1) * SLOT * HIDDEN];
    matmul_rows(h, 1, w, SLOT, HIDDEN, out);
}

/// The greedy BILUO decoder with spaCy's validity rules over one chunk; ties go to the lowest
/// class index.
#[inline(always)]
fn decode(d: Decode<'_>) {
    let Decode {
        weights,
        first,
        n,
        h,
        lower,
        is_space,
        sent_starts,
        state,
        out,
    } = d;
    let pad = |f: usize| &weights.lower_pad[f * SLOT..(f + 1) * SLOT];
    let mut acc = [0f32; SLOT];
    let mut hidden = [0f32; HIDDEN];
    for (local, &space) in is_space.iter().enumerate() {
        let i = first + local;
        // B-x and I-x need a next token, and (with sentence starts) one in the same sentence.
        let long =
            n - i >= 2 && !sent_starts.is_some_and(|s| s.get(i + 1).copied().unwrap_or(false));
        let h_i = &h[local * HIDDEN..(local + 1) * HIDDEN];
        // Only O is valid on a whitespace token outside an entity: no scores needed.
        if state.open.is_none() && space {
            continue;
        }
        let head = &lower[local * SLOT..(local + 1) * SLOT];
        let (f1, f2) = match state.open {
            Some(_) => (&state.start[..], &state.prev[..]),
            None => (pad(1), pad(2)),
        };
        for ((((a, x0), x1), x2), b) in acc
            .iter_mut()
            .zip(head)
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
            let valid = match (mv, state.open) {
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
            state.multiply_adds += HIDDEN as u64;
            if best.is_none_or(|(_, s)| score > s) {
                best = Some((class, score));
            }
        }
        let Some((class, _)) = best else { continue };
        match weights.moves[class] {
            Move::Begin(l) => {
                state.open = Some((i, l));
                slot_vector(weights, 1, h_i, &mut state.start);
                state.multiply_adds += (HIDDEN * SLOT) as u64;
            }
            Move::Last(l) => {
                if let Some((s, _)) = state.open.take() {
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
        // The next token sees this one as the previous token while an entity is open.
        if state.open.is_some() {
            slot_vector(weights, 2, h_i, &mut state.prev);
            state.multiply_adds += (HIDDEN * SLOT) as u64;
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A small deterministic generator of values in [-1, 1) (xorshift64*).
    fn values(n: usize, mut state: u64) -> Vec<f32> {
        (0..n)
            .map(|_| {
                state ^= state >> 12;
                state ^= state << 25;
                state ^= state >> 27;
                let bits = state.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 40;
                bits as f32 / (1u64 << 23) as f32 - 1.0
            })
            .collect()
    }

    /// The token cache multiplies however many tokens are new in a chunk (one or hundreds),
    /// and the window blocks however many rows a chunk has; an entity must not depend on
    /// that, so a row's product must be the same bits whatever the number of rows beside it.
    #[test]
    fn a_rows_product_does_not_depend_on_the_rows_beside_it() {
        let most = CHUNK + 2 * HALO;
        for (n, k) in [
            (3 * PIECES * WIDTH, WIDTH),
            (PIECES * WIDTH, 3 * WIDTH),
            (HIDDEN, WIDTH),
            (SLOT, HIDDEN),
        ] {
            let w = values(n * k, 0x9e37_79b9_7f4a_7c15 ^ n as u64);
            let a = values(most * k, 0x0123_4567_89ab_cdef ^ k as u64);
            let mut alone = vec![0f32; n];
            let mut batch = vec![0f32; most * n];
            for m in [1, 2, 3, 7, 16, 24, 25, 48, 70, 333, most] {
                matmul_rows(&a, m, &w, n, k, &mut batch);
                for r in (0..m).step_by(m.div_ceil(40)) {
                    matmul_rows(&a[r * k..(r + 1) * k], 1, &w, n, k, &mut alone);
                    assert!(
                        alone
                            .iter()
                            .zip(&batch[r * n..(r + 1) * n])
                            .all(|(x, y)| x.to_bits() == y.to_bits()),
                        "{n}×{k}: row {r} of {m} differs from the row alone"
                    );
                }
            }
        }
    }
}

//! Loading the NER from a spaCy pipeline directory: `ner/model` (thinc msgpack), `ner/moves` and
//! `vocab/lookups.bin` (reference README §1, §6).
//!
//! msgpack is read with `rmpv` (the `rmp` project's dynamic `Value`), because thinc's layout is a
//! tree of maps keyed by strings *and* binary strings that no fixed serde struct describes well.
//! Every node the NER reads is checked by name and every parameter by shape, so a model of
//! another architecture is refused with a message saying what differs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use faer::{Accum, MatMut, MatRef, Par};
use rmpv::Value;

use crate::pipeline::Label;

/// Width of the token vectors inside tok2vec.
pub(super) const WIDTH: usize = 96;
/// Maxout pieces of the tok2vec layers.
pub(super) const PIECES: usize = 3;
/// Width of tok2vec's output and of the parser's hidden layer.
pub(super) const HIDDEN: usize = 64;
/// Feature slots of the state (buffer head, entity start, previous token).
pub(super) const N_FEATS: usize = 3;
/// Maxout pieces of the parser's lower layer.
pub(super) const LOWER_PIECES: usize = 2;
/// Rows of the four HashEmbed tables (NORM, PREFIX, SUFFIX, SHAPE).
const EMBED_ROWS: [usize; 4] = [5000, 1000, 2500, 2500];

/// Why the NER model could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The pipeline directory is missing, incomplete or not en_core_web_sm 3.x.
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    /// A model file could not be read.
    #[error("cannot read {path}: {source} (run scripts/fetch-model.sh to fetch the model)")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A model file is not what en_core_web_sm 3.8's NER stores there.
    #[error(
        "{path}: {message} (expected spaCy en_core_web_sm 3.8 NER: TransitionBasedParser.v2, \
         hidden_width=64, maxout_pieces=2, Tok2Vec width=96 depth=4)"
    )]
    Format {
        /// The file.
        path: PathBuf,
        /// What differs.
        message: String,
    },
}

/// A row-major matrix.
#[derive(Debug, Clone)]
pub(super) struct Matrix {
    /// `rows × cols` values, row by row.
    pub(super) data: Vec<f32>,
    pub(super) rows: usize,
    pub(super) cols: usize,
}

/// One HashEmbed table, projected through its quarter of the mixer's maxout weights.
///
/// The mixer computes `[e0|e1|e2|e3]·Wᵀ` where each `e_c` is a sum of four table rows; that
/// equals the sum of the sixteen rows' products with `W_cᵀ`, so `table` holds `E_c·W_cᵀ`
/// (`rows × PIECES·WIDTH`) and a token's mixer input is sixteen row additions instead of a
/// 384×288 product. Only the floating-point summation order differs from thinc's, like any BLAS.
#[derive(Debug, Clone)]
pub(super) struct Embed {
    /// `rows × (PIECES·WIDTH)`, row-major.
    pub(super) table: Vec<f32>,
    /// Number of rows (the modulus of the hash words).
    pub(super) rows: u32,
    /// MurmurHash3 seed.
    pub(super) seed: u32,
}

/// The maxout bias and the layer norm applied to a maxout layer's product.
#[derive(Debug, Clone)]
pub(super) struct Activation {
    /// `PIECES·WIDTH` maxout biases, piece-major (index `p·WIDTH + o`).
    pub(super) b: Vec<f32>,
    /// Layer-norm gain.
    pub(super) g: Vec<f32>,
    /// Layer-norm bias.
    pub(super) beta: Vec<f32>,
}

/// A maxout layer followed by a layer norm.
#[derive(Debug, Clone)]
pub(super) struct MaxoutNorm {
    /// `(PIECES·WIDTH) × nI`, piece-major: row `p·WIDTH + o` holds piece `p` of output `o`
    /// (thinc stores `o·PIECES + p`; piece-major makes the max over pieces three contiguous
    /// vectors).
    pub(super) w: Matrix,
    /// Bias and layer norm.
    pub(super) act: Activation,
}

/// Reorders thinc's output-major maxout rows (`o·PIECES + p`, each `n_in` wide) to piece-major.
fn piece_major(data: &[f32], n_in: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(data.len());
    for p in 0..PIECES {
        for o in 0..WIDTH {
            let row = (o * PIECES + p) * n_in;
            out.extend_from_slice(&data[row..row + n_in]);
        }
    }
    out
}

/// One of the 74 transitions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Move {
    /// `B-x`: open an entity.
    Begin(Label),
    /// `I-x`: continue it.
    In(Label),
    /// `L-x`: close it on this token.
    Last(Label),
    /// `U-x`: a one-token entity.
    Unit(Label),
    /// `U-` with the empty label: valid only on preset blocked tokens, so never here.
    UnitNone,
    /// `O`: outside any entity.
    Out,
}

/// Every weight the NER uses, in the layouts inference wants.
#[derive(Debug, Clone)]
pub(super) struct Weights {
    pub(super) embed: [Embed; 4],
    /// The mixer's maxout bias and layer norm (its weights are folded into `embed`).
    pub(super) mixer: Activation,
    pub(super) blocks: [MaxoutNorm; 4],
    /// The first window block's weights split by input token: `(3·PIECES·WIDTH) × WIDTH`,
    /// row `b·288 + j` holding output row `j`'s columns of window position `b` (previous,
    /// current, next token), so one product per distinct token gives all three terms.
    pub(super) first_split: Matrix,
    /// `HIDDEN × WIDTH`.
    pub(super) out_w: Matrix,
    pub(super) out_b: Vec<f32>,
    /// `(N_FEATS·HIDDEN·LOWER_PIECES) × HIDDEN`: row `f·128 + o·2 + p`.
    pub(super) lower_w: Matrix,
    /// `HIDDEN·LOWER_PIECES`, index `o·2 + p`.
    pub(super) lower_b: Vec<f32>,
    /// `N_FEATS × (HIDDEN·LOWER_PIECES)`: the vector of a missing feature.
    pub(super) lower_pad: Vec<f32>,
    /// `n_classes × HIDDEN`.
    pub(super) upper_w: Vec<f32>,
    pub(super) upper_b: Vec<f32>,
    /// Class index → move.
    pub(super) moves: Vec<Move>,
}

struct Reader<'a> {
    path: &'a Path,
}

impl Reader<'_> {
    fn err(&self, message: impl Into<String>) -> LoadError {
        LoadError::Format {
            path: self.path.to_owned(),
            message: message.into(),
        }
    }

    fn get<'v>(&self, map: &'v Value, key: &str) -> Result<&'v Value, LoadError> {
        let entries = map
            .as_map()
            .ok_or_else(|| self.err(format!("expected a map holding {key:?}")))?;
        entries
            .iter()
            .find(|(k, _)| match k {
                Value::String(s) => s.as_str() == Some(key),
                Value::Binary(b) => b.as_slice() == key.as_bytes(),
                _ => false,
            })
            .map(|(_, v)| v)
            .ok_or_else(|| self.err(format!("missing key {key:?}")))
    }

    fn index<'v>(&self, list: &'v Value, i: usize, what: &str) -> Result<&'v Value, LoadError> {
        list.as_array()
            .and_then(|a| a.get(i))
            .ok_or_else(|| self.err(format!("{what}: no entry {i}")))
    }

    /// Node `i`'s name, checked.
    fn expect_node(&self, root: &Value, i: usize, name: &str) -> Result<(), LoadError> {
        let node = self.index(self.get(root, "nodes")?, i, "nodes")?;
        let found = self.get(node, "name")?.as_str().unwrap_or("");
        if found == name {
            Ok(())
        } else {
            Err(self.err(format!("node {i} is {found:?}, expected {name:?}")))
        }
    }

    /// A msgpack-encoded attr of node `i`.
    fn attr(&self, root: &Value, i: usize, key: &str) -> Result<Value, LoadError> {
        let attrs = self.index(self.get(root, "attrs")?, i, "attrs")?;
        let bytes = self
            .get(attrs, key)?
            .as_slice()
            .ok_or_else(|| self.err(format!("node {i} attr {key:?} is not bytes")))?;
        rmpv::decode::read_value(&mut &bytes[..])
            .map_err(|e| self.err(format!("node {i} attr {key:?}: {e}")))
    }

    fn attr_u64(&self, root: &Value, i: usize, key: &str) -> Result<u64, LoadError> {
        self.attr(root, i, key)?
            .as_u64()
            .ok_or_else(|| self.err(format!("node {i} attr {key:?} is not an integer")))
    }

    /// Parameter `name` of node `i`, checked to have `shape`.
    fn param(
        &self,
        root: &Value,
        i: usize,
        name: &str,
        shape: &[usize],
    ) -> Result<Vec<f32>, LoadError> {
        let params = self.index(self.get(root, "params")?, i, "params")?;
        let array = self.get(params, name)?;
        let what = format!("node {i} param {name}");
        let dtype = self.get(array, "type")?.as_str().unwrap_or("");
        if dtype != "<f4" {
            return Err(self.err(format!("{what}: dtype {dtype:?}, expected \"<f4\"")));
        }
        let found: Vec<usize> = self
            .get(array, "shape")?
            .as_array()
            .ok_or_else(|| self.err(format!("{what}: shape is not a list")))?
            .iter()
            .map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok()))
            .collect::<Option<_>>()
            .ok_or_else(|| self.err(format!("{what}: bad shape")))?;
        if found != shape {
            return Err(self.err(format!("{what}: shape {found:?}, expected {shape:?}")));
        }
        let data = self
            .get(array, "data")?
            .as_slice()
            .ok_or_else(|| self.err(format!("{what}: data is not bytes")))?;
        let n: usize = shape.iter().product();
        if data.len() != 4 * n {
            return Err(self.err(format!("{what}: {} bytes for {n} floats", data.len())));
        }
        Ok(data
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect())
    }

    fn matrix(
        &self,
        root: &Value,
        i: usize,
        name: &str,
        shape: &[usize],
    ) -> Result<Matrix, LoadError> {
        let data = self.param(root, i, name, shape)?;
        let rows = shape.iter().take(shape.len() - 1).product::<usize>();
        let cols = shape[shape.len() - 1];
        Ok(Matrix { data, rows, cols })
    }

    fn maxout_norm(
        &self,
        root: &Value,
        maxout: usize,
        norm: usize,
        n_in: usize,
    ) -> Result<MaxoutNorm, LoadError> {
        self.expect_node(root, maxout, "maxout")?;
        self.expect_node(root, norm, "layernorm")?;
        let w = self.param(root, maxout, "W", &[WIDTH, PIECES, n_in])?;
        Ok(MaxoutNorm {
            w: Matrix {
                data: piece_major(&w, n_in),
                rows: WIDTH * PIECES,
                cols: n_in,
            },
            act: Activation {
                b: piece_major(&self.param(root, maxout, "b", &[WIDTH, PIECES])?, 1),
                g: self.param(root, norm, "G", &[WIDTH])?,
                beta: self.param(root, norm, "b", &[WIDTH])?,
            },
        })
    }
}

fn read(path: &Path) -> Result<Vec<u8>, LoadError> {
    std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_owned(),
        source,
    })
}

fn decode(path: &Path, bytes: &[u8]) -> Result<Value, LoadError> {
    rmpv::decode::read_value(&mut &bytes[..]).map_err(|e| LoadError::Format {
        path: path.to_owned(),
        message: format!("not msgpack: {e}"),
    })
}

impl Weights {
    /// Reads `ner/model` and `ner/moves` of the pipeline directory `dir`.
    pub(super) fn load(dir: &Path) -> Result<Self, LoadError> {
        let moves = load_moves(&dir.join("ner").join("moves"))?;
        let path = dir.join("ner").join("model");
        let root = decode(&path, &read(&path)?)?;
        let r = Reader { path: &path };

        r.expect_node(&root, 0, "parser_model")?;
        if r.attr(&root, 0, "has_upper")?.as_bool() != Some(true) {
            return Err(r.err("parser_model has no upper layer (use_upper=false)"));
        }
        r.expect_node(&root, 2, "precomputable_affine")?;
        r.expect_node(&root, 3, "linear")?;
        r.expect_node(&root, 6, "linear")?;
        r.expect_node(&root, 9, "extract_features")?;
        let columns = r.attr(&root, 9, "columns")?;
        let columns: Vec<&str> = columns
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if columns != ["NORM", "PREFIX", "SUFFIX", "SHAPE"] {
            return Err(r.err(format!(
                "feature columns {columns:?}, expected NORM PREFIX SUFFIX SHAPE"
            )));
        }
        if r.attr_u64(&root, 8, "pad")? != 4 {
            return Err(r.err("node 8: encoder padding is not 4"));
        }

        let mut embed = Vec::with_capacity(4);
        for (c, (node, rows)) in [32usize, 34, 36, 38]
            .into_iter()
            .zip(EMBED_ROWS)
            .enumerate()
        {
            r.expect_node(&root, node, "hashembed")?;
            if r.attr_u64(&root, node, "column")? != c as u64 {
                return Err(r.err(format!("node {node}: hashembed column is not {c}")));
            }
            let seed = u32::try_from(r.attr_u64(&root, node, "seed")?)
                .map_err(|_| r.err(format!("node {node}: seed out of range")))?;
            embed.push((r.param(&root, node, "E", &[rows, WIDTH])?, rows, seed));
        }

        for node in [41, 43, 45, 47] {
            r.expect_node(&root, node, "expand_window")?;
            if r.attr_u64(&root, node, "window_size")? != 1 {
                return Err(r.err(format!("node {node}: window_size is not 1")));
            }
        }
        let mixer = r.maxout_norm(&root, 39, 40, 4 * WIDTH)?;
        let embed: Vec<Embed> = embed
            .into_iter()
            .enumerate()
            .map(|(c, (table, rows, seed))| Embed {
                table: project(&table, rows, &mixer.w, c * WIDTH),
                rows: rows as u32,
                seed,
            })
            .collect();
        let embed: [Embed; 4] = embed
            .try_into()
            .map_err(|_| r.err("expected four hashembed tables"))?;
        let blocks = [
            r.maxout_norm(&root, 57, 58, 3 * WIDTH)?,
            r.maxout_norm(&root, 59, 60, 3 * WIDTH)?,
            r.maxout_norm(&root, 61, 62, 3 * WIDTH)?,
            r.maxout_norm(&root, 63, 64, 3 * WIDTH)?,
        ];
        let n_classes = moves.len();
        let first_split = split_window(&blocks[0].w);
        let weights = Self {
            embed,
            mixer: mixer.act,
            blocks,
            first_split,
            out_w: r.matrix(&root, 6, "W", &[HIDDEN, WIDTH])?,
            out_b: r.param(&root, 6, "b", &[HIDDEN])?,
            lower_w: r.matrix(&root, 2, "W", &[N_FEATS, HIDDEN, LOWER_PIECES, HIDDEN])?,
            lower_b: r.param(&root, 2, "b", &[HIDDEN, LOWER_PIECES])?,
            lower_pad: r.param(&root, 2, "pad", &[1, N_FEATS, HIDDEN, LOWER_PIECES])?,
            upper_w: r.param(&root, 3, "W", &[n_classes, HIDDEN])?,
            upper_b: r.param(&root, 3, "b", &[n_classes])?,
            moves,
        };
        Ok(weights)
    }
}

/// `E (rows × WIDTH) · W[:, col..col+WIDTH]ᵀ`: a table's rows through its mixer columns.
fn project(table: &[f32], rows: usize, w: &Matrix, col: usize) -> Vec<f32> {
    let mut out = vec![0f32; rows * w.rows];
    let e = MatRef::from_row_major_slice(table, rows, WIDTH);
    let w = MatRef::from_row_major_slice(&w.data, w.rows, w.cols).subcols(col, WIDTH);
    let c = MatMut::from_row_major_slice_mut(&mut out, rows, w.nrows());
    faer::linalg::matmul::matmul(c, Accum::Replace, e, w.transpose(), 1.0, Par::Seq);
    out
}

/// A window block's `(PIECES·WIDTH) × (3·WIDTH)` weights as `(3·PIECES·WIDTH) × WIDTH`: the
/// block of window position `b` (previous, current, next token) at rows `b·PIECES·WIDTH..`.
fn split_window(w: &Matrix) -> Matrix {
    let mut data = Vec::with_capacity(w.data.len());
    for b in 0..3 {
        for row in w.data.chunks_exact(w.cols) {
            data.extend_from_slice(&row[b * WIDTH..(b + 1) * WIDTH]);
        }
    }
    Matrix {
        data,
        rows: 3 * w.rows,
        cols: WIDTH,
    }
}

/// Reads `ner/moves` and orders the classes as `TransitionSystem.initialize_actions` does.
fn load_moves(path: &Path) -> Result<Vec<Move>, LoadError> {
    let root = decode(path, &read(path)?)?;
    let r = Reader { path };
    let json = r
        .get(&root, "moves")?
        .as_str()
        .ok_or_else(|| r.err("\"moves\" is not a string"))?;
    let actions: std::collections::BTreeMap<String, HashMap<String, i64>> =
        serde_json::from_str(json).map_err(|e| r.err(format!("\"moves\" JSON: {e}")))?;
    let mut moves = Vec::new();
    // Action keys in sorted (string) order; within each, (freq, label) pairs sorted then reversed.
    for (action, labels) in &actions {
        let mut pairs: Vec<(i64, &str)> = labels.iter().map(|(l, &f)| (f, l.as_str())).collect();
        pairs.sort_unstable();
        pairs.reverse();
        for (_, name) in pairs {
            let label = || {
                Label::parse(name).ok_or_else(|| r.err(format!("unknown entity label {name:?}")))
            };
            let mv = match (action.as_str(), name) {
                ("0", _) => continue,
                ("1", _) => Move::Begin(label()?),
                ("2", _) => Move::In(label()?),
                ("3", _) => Move::Last(label()?),
                ("4", "") => Move::UnitNone,
                ("4", _) => Move::Unit(label()?),
                ("5", "") => Move::Out,
                ("5", _) => continue,
                (other, _) => return Err(r.err(format!("unknown action code {other:?}"))),
            };
            moves.push(mv);
        }
    }
    // spaCy's OUT action always adds the empty label, even when it is absent from the file.
    if !moves.contains(&Move::Out) {
        return Err(r.err("no OUT move"));
    }
    Ok(moves)
}

/// Reads `vocab/lookups.bin`: `{"lexeme_norm": {string id: norm}}`.
pub(super) fn load_lexeme_norm(dir: &Path) -> Result<HashMap<u64, String>, LoadError> {
    let path = dir.join("vocab").join("lookups.bin");
    let root = decode(&path, &read(&path)?)?;
    let r = Reader { path: &path };
    let table = r
        .get(&root, "lexeme_norm")?
        .as_map()
        .ok_or_else(|| r.err("lexeme_norm is not a map"))?;
    table
        .iter()
        .map(|(k, v)| match (k.as_u64(), v.as_str()) {
            (Some(k), Some(v)) => Ok((k, v.to_owned())),
            _ => Err(r.err("lexeme_norm entry is not u64 → str")),
        })
        .collect()
}

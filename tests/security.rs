//! Authentication, TLS and least-privilege permissions against real nats-servers configured
//! that way. Keys and certificates are generated at test time (nkeys for NKeys and JWTs, the
//! `openssl` CLI for the CA and certificates) and never committed. Secrets reach the worker
//! through environment variables or files, as in production.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::jetstream;
use base64::Engine as _;
use common::{WAIT, article, free_port, nats_args, server_binary};
use lede::transport::{self, ConsumerSettings};

/// A nats-server started from a config file, killed on drop.
struct ConfiguredServer {
    child: Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl ConfiguredServer {
    /// Starts a server with `extra` config (auth, TLS) plus listen, monitor and JetStream.
    fn start(extra: &str, dir: tempfile::TempDir) -> Self {
        let port = free_port();
        let monitor = free_port();
        let store = dir.path().join("store");
        let config = format!(
            "listen: \"127.0.0.1:{port}\"\nhttp: \"127.0.0.1:{monitor}\"\njetstream {{ store_dir: {:?} }}\n{extra}\n",
            store.display().to_string()
        );
        let path = dir.path().join("server.conf");
        std::fs::write(&path, config).expect("write config");
        let log = std::fs::File::create(dir.path().join("server.log")).expect("server log");
        let child = Command::new(server_binary())
            .arg("-c")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("cannot start nats-server");
        let server = Self { child, port, dir };
        server.wait_healthy(monitor);
        server
    }

    fn wait_healthy(&self, monitor: u16) {
        use std::io::{Read, Write};
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if let Ok(mut s) = std::net::TcpStream::connect(("127.0.0.1", monitor)) {
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let _ = s.write_all(b"GET /healthz HTTP/1.0\r\n\r\n");
                let mut response = String::new();
                let _ = s.read_to_string(&mut response);
                if response.contains(" 200 ") {
                    return;
                }
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "configured nats-server did not become healthy: {}",
            std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
        );
    }

    fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    fn file(&self, name: &str, content: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, content).expect("write");
        path
    }
}

impl Drop for ConfiguredServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs a `lede worker` with `flags` and `env`, publishes two articles as `admin`, and checks
/// both come out as records; returns the worker's stderr for the no-secret-in-logs check.
async fn round_trip(
    admin: async_nats::Client,
    url: &str,
    flags: &[&str],
    env: &[(&str, &str)],
) -> String {
    let js = jetstream::new(admin.clone());
    transport::streams(&js, &nats_args(url))
        .await
        .expect("admin creates the streams");
    let log = tempfile::NamedTempFile::new().expect("log file");
    let mut worker = Command::new(env!("CARGO_BIN_EXE_lede"))
        .args([
            "worker",
            "--nats-url",
            url,
            "--stages",
            "",
            "--log-format",
            "json",
        ])
        .args(flags)
        .envs(env.iter().copied())
        .env("RUST_LOG", "debug")
        .stdout(Stdio::null())
        .stderr(Stdio::from(log.reopen().expect("reopen")))
        .spawn()
        .expect("spawn lede worker");
    common::publish(
        &js,
        vec![
            article("s1", "Secure article one."),
            article("s2", "Secure article two."),
        ],
    )
    .await;
    let deadline = Instant::now() + WAIT;
    loop {
        let n = common::stream_state(&js, "ARTICLES_ENRICHED")
            .await
            .messages;
        if n >= 2 {
            break;
        }
        if let Some(status) = worker.try_wait().expect("try_wait") {
            panic!(
                "the worker exited ({status:?}): {}",
                std::fs::read_to_string(log.path()).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "no records through the secured server: {}",
            std::fs::read_to_string(log.path()).unwrap_or_default()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    common::wait_consumer_idle(&js).await;
    let _ = Command::new("kill")
        .args(["-TERM", &worker.id().to_string()])
        .status();
    let _ = worker.wait();
    std::fs::read_to_string(log.path()).expect("read log")
}

fn assert_no_secret(log: &str, secret: &str) {
    assert!(!log.is_empty(), "the worker logged nothing");
    assert!(
        !log.contains(secret),
        "a secret appeared in the worker's logs"
    );
}

async fn connect_as(url: &str, options: async_nats::ConnectOptions) -> async_nats::Client {
    tokio::time::timeout(WAIT, options.connect(url))
        .await
        .expect("connect timed out")
        .expect("connect failed")
}

/// Proves the server really demands credentials: an anonymous connection is refused.
async fn anonymous_is_refused(url: &str) {
    let refused = tokio::time::timeout(WAIT, async_nats::ConnectOptions::new().connect(url))
        .await
        .expect("connect timed out");
    assert!(refused.is_err(), "the server accepted an anonymous client");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_and_password_from_env() {
    let server = ConfiguredServer::start(
        r#"authorization { users = [ {user: admin, password: "admin-pw"}, {user: lede, password: "lede-Pa55-word"} ] }"#,
        tempfile::tempdir().expect("dir"),
    );
    anonymous_is_refused(&server.url()).await;
    let admin = connect_as(
        &server.url(),
        async_nats::ConnectOptions::with_user_and_password("admin".into(), "admin-pw".into()),
    )
    .await;
    let log = round_trip(
        admin,
        &server.url(),
        &["--nats-user", "lede"],
        &[("LEDE_NATS_PASSWORD", "lede-Pa55-word")],
    )
    .await;
    assert_no_secret(&log, "lede-Pa55-word");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn token_from_a_file() {
    let server = ConfiguredServer::start(
        r#"authorization { token: "t0ken-for-lede" }"#,
        tempfile::tempdir().expect("dir"),
    );
    anonymous_is_refused(&server.url()).await;
    let token = server.file("token", "t0ken-for-lede\n");
    let admin = connect_as(
        &server.url(),
        async_nats::ConnectOptions::with_token("t0ken-for-lede".into()),
    )
    .await;
    let log = round_trip(
        admin,
        &server.url(),
        &["--nats-token-file", token.to_str().expect("path")],
        &[],
    )
    .await;
    assert_no_secret(&log, "t0ken-for-lede");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nkey_seed_from_a_file() {
    let user = nkeys::KeyPair::new_user();
    let admin_key = nkeys::KeyPair::new_user();
    let seed = user.seed().expect("seed");
    let server = ConfiguredServer::start(
        &format!(
            "authorization {{ users = [ {{nkey: {}}}, {{nkey: {}}} ] }}",
            user.public_key(),
            admin_key.public_key()
        ),
        tempfile::tempdir().expect("dir"),
    );
    anonymous_is_refused(&server.url()).await;
    let seed_file = server.file("seed.nk", &seed);
    let admin = connect_as(
        &server.url(),
        async_nats::ConnectOptions::with_nkey(admin_key.seed().expect("seed")),
    )
    .await;
    let log = round_trip(
        admin,
        &server.url(),
        &["--nats-nkey-seed-file", seed_file.to_str().expect("path")],
        &[],
    )
    .await;
    assert_no_secret(&log, &seed);
}

/// A signed NATS JWT (`ed25519-nkey`) over `claims`.
fn jwt(signer: &nkeys::KeyPair, subject: &str, name: &str, nats: serde_json::Value) -> String {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let header = b64.encode(r#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let claims = serde_json::json!({
        "jti": format!("JTI{}", subject.get(..20).unwrap_or(subject)),
        "iat": 1_700_000_000u64,
        "iss": signer.public_key(),
        "name": name,
        "sub": subject,
        "nats": nats,
    });
    let body = b64.encode(claims.to_string());
    let signing_input = format!("{header}.{body}");
    let signature = signer.sign(signing_input.as_bytes()).expect("sign");
    format!("{signing_input}.{}", b64.encode(signature))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_file_in_operator_mode() {
    let operator = nkeys::KeyPair::new_operator();
    let system = nkeys::KeyPair::new_account();
    let account = nkeys::KeyPair::new_account();
    let operator_jwt = jwt(
        &operator,
        &operator.public_key(),
        "test-operator",
        serde_json::json!({"type": "operator", "version": 2, "system_account": system.public_key()}),
    );
    let system_jwt = jwt(
        &operator,
        &system.public_key(),
        "SYS",
        serde_json::json!({"type": "account", "version": 2, "limits": {"subs": -1, "data": -1, "payload": -1, "conn": -1}}),
    );
    let account_jwt = jwt(
        &operator,
        &account.public_key(),
        "lede-account",
        serde_json::json!({
            "type": "account", "version": 2,
            "limits": {
                "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
                "wildcards": true, "conn": -1, "leaf": -1,
                "mem_storage": -1, "disk_storage": -1, "streams": -1, "consumer": -1
            }
        }),
    );
    let creds = |user: &nkeys::KeyPair, name: &str| {
        let user_jwt = jwt(
            &account,
            &user.public_key(),
            name,
            serde_json::json!({
                "type": "user", "version": 2,
                "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1
            }),
        );
        format!(
            "-----BEGIN NATS USER JWT-----\n{user_jwt}\n------END NATS USER JWT------\n\n\
             -----BEGIN USER NKEY SEED-----\n{}\n------END USER NKEY SEED------\n",
            user.seed().expect("seed")
        )
    };
    let server = ConfiguredServer::start(
        &format!(
            "operator: {operator_jwt}\nsystem_account: {}\nresolver: MEMORY\nresolver_preload: {{ {}: {account_jwt}, {}: {system_jwt} }}\n",
            system.public_key(),
            account.public_key(),
            system.public_key()
        ),
        tempfile::tempdir().expect("dir"),
    );
    anonymous_is_refused(&server.url()).await;
    let worker_user = nkeys::KeyPair::new_user();
    let worker_creds = server.file("lede.creds", &creds(&worker_user, "lede"));
    let admin_creds = creds(&nkeys::KeyPair::new_user(), "admin");
    let admin = connect_as(
        &server.url(),
        async_nats::ConnectOptions::with_credentials(&admin_creds).expect("creds"),
    )
    .await;
    let log = round_trip(
        admin,
        &server.url(),
        &["--nats-creds-file", worker_creds.to_str().expect("path")],
        &[],
    )
    .await;
    assert_no_secret(&log, &worker_user.seed().expect("seed"));
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, made with `openssl`.
struct Pki {
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect(
            "the openssl CLI is needed to generate test certificates (apt-get install openssl)",
        );
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn make_pki(dir: &Path) -> Pki {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            "ca.key",
            "-out",
            "ca.pem",
            "-subj",
            "/CN=lede test CA",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
    for (name, ext) in [
        (
            "server",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
        ),
        (
            "client",
            "extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n",
        ),
    ] {
        std::fs::write(dir.join(format!("{name}.ext")), ext).expect("ext");
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-keyout",
                &format!("{name}.key"),
                "-out",
                &format!("{name}.csr"),
                "-subj",
                &format!("/CN=lede test {name}"),
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &format!("{name}.csr"),
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "2",
                "-out",
                &format!("{name}.pem"),
                "-extfile",
                &format!("{name}.ext"),
            ],
        );
    }
    Pki {
        ca: dir.join("ca.pem"),
        server_cert: dir.join("server.pem"),
        server_key: dir.join("server.key"),
        client_cert: dir.join("client.pem"),
        client_key: dir.join("client.key"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_a_custom_ca_and_client_certificates() {
    let dir = tempfile::tempdir().expect("dir");
    let pki = make_pki(dir.path());
    let server = ConfiguredServer::start(
        &format!(
            "tls {{ cert_file: {:?}, key_file: {:?}, ca_file: {:?}, verify: true, timeout: 5 }}",
            pki.server_cert.display().to_string(),
            pki.server_key.display().to_string(),
            pki.ca.display().to_string()
        ),
        dir,
    );
    // Without the CA the server's certificate is not trusted.
    let untrusted = tokio::time::timeout(
        WAIT,
        async_nats::ConnectOptions::new()
            .require_tls(true)
            .connect(server.url()),
    )
    .await
    .expect("connect timed out");
    assert!(
        untrusted.is_err(),
        "a client without the custom CA connected"
    );
    let admin = connect_as(
        &server.url(),
        async_nats::ConnectOptions::new()
            .add_root_certificates(pki.ca.clone())
            .add_client_certificate(pki.client_cert.clone(), pki.client_key.clone())
            .require_tls(true),
    )
    .await;
    round_trip(
        admin,
        &server.url(),
        &[
            "--tls-ca-file",
            pki.ca.to_str().expect("path"),
            "--tls-cert-file",
            pki.client_cert.to_str().expect("path"),
            "--tls-key-file",
            pki.client_key.to_str().expect("path"),
        ],
        &[],
    )
    .await;
}

/// The permissions README "Security" lists for a worker bound to provisioned streams.
fn worker_permissions() -> &'static str {
    r#"permissions: {
        publish: { allow: [
          "$JS.API.STREAM.INFO.ARTICLES", "$JS.API.STREAM.INFO.ARTICLES_ENRICHED", "$JS.API.STREAM.INFO.ARTICLES_DLQ",
          "$JS.API.CONSUMER.INFO.ARTICLES.lede", "$JS.API.CONSUMER.MSG.NEXT.ARTICLES.lede",
          "$JS.ACK.ARTICLES.lede.>",
          "articles.enriched", "articles.dlq"
        ] }
        subscribe: { allow: ["_INBOX.>"] }
      }"#
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_works_under_exactly_the_documented_minimal_permissions() {
    let server = ConfiguredServer::start(
        &format!(
            r#"authorization {{ users = [
                {{user: admin, password: "admin-pw"}},
                {{user: lede, password: "lede-pw", {}}}
            ] }}"#,
            worker_permissions()
        ),
        tempfile::tempdir().expect("dir"),
    );
    let url = server.url();
    let admin = connect_as(
        &url,
        async_nats::ConnectOptions::with_user_and_password("admin".into(), "admin-pw".into()),
    )
    .await;
    // Operations provision the streams and the consumer; the worker only binds to them.
    let js = jetstream::new(admin.clone());
    let topology = transport::streams(&js, &nats_args(&url))
        .await
        .expect("streams");
    transport::consumer(
        &topology.input,
        &ConsumerSettings {
            name: "lede".into(),
            filter_subject: "articles.raw".into(),
            ack_wait: Duration::from_secs(5),
            max_deliver: 5,
            max_ack_pending: 1024,
        },
        true,
    )
    .await
    .expect("consumer");
    // Malformed input too: the DLQ path must work under the same permissions.
    common::publish(&js, vec![b"{broken json".to_vec()]).await;
    round_trip(
        admin,
        &url,
        &["--nats-user", "lede", "--ensure-streams=false"],
        &[("LEDE_NATS_PASSWORD", "lede-pw")],
    )
    .await;
    assert_eq!(common::stream_state(&js, "ARTICLES_DLQ").await.messages, 1);

    // And nothing more: the worker's user cannot delete a stream or publish raw articles.
    let restricted = connect_as(
        &url,
        async_nats::ConnectOptions::with_user_and_password("lede".into(), "lede-pw".into()),
    )
    .await;
    let denied = jetstream::new(restricted.clone())
        .delete_stream("ARTICLES")
        .await;
    assert!(denied.is_err(), "the worker's user could delete a stream");
    let raw_js = jetstream::new(restricted);
    let publish = tokio::time::timeout(Duration::from_secs(5), async {
        raw_js
            .publish("articles.raw", "x".into())
            .await
            .map_err(|e| e.to_string())?
            .await
            .map_err(|e| e.to_string())
    })
    .await;
    assert!(
        !matches!(publish, Ok(Ok(_))),
        "the worker's user could publish raw articles"
    );
    assert_eq!(common::stream_state(&js, "ARTICLES").await.messages, 0);
}

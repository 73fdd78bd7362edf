//! What an operator reads on stderr, from the real binary with stderr piped (as under a
//! container runtime or `2> file`): no ANSI escapes, one line per fatal error, and JSON logs
//! that are one object per line.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

use common::*;

/// Runs `lede` with `args` and stderr piped; `NO_COLOR` is removed so only the pipe decides.
fn lede(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lede"))
        .args(args)
        .env("RUST_LOG", "info")
        .env_remove("NO_COLOR")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .output()
        .expect("cannot run lede")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn assert_plain(text: &str) {
    assert!(
        !text.contains('\x1b'),
        "ANSI escapes on a piped stderr:\n{text:?}"
    );
}

/// A worker that logs its start, then fails: the provisioned streams it must bind to are missing.
fn failing_worker(format: &str) -> (Output, NatsServer) {
    let server = NatsServer::start();
    let out = lede(&[
        "--log-format",
        format,
        "worker",
        "--nats-url",
        &server.url(),
        "--ensure-streams=false",
        "--stages",
        "",
    ]);
    (out, server)
}

#[test]
fn pretty_logs_on_a_pipe_have_no_colour_and_a_fatal_error_is_one_line() {
    let (out, _server) = failing_worker("pretty");
    let text = stderr(&out);
    assert!(!out.status.success(), "{text}");
    assert_plain(&text);
    assert!(text.contains("Worker starting"), "lifecycle logs:\n{text}");
    // The cause names the stream; no other line does, and no second report of it.
    let fatal: Vec<&str> = text.lines().filter(|l| l.contains("ARTICLES")).collect();
    assert_eq!(fatal.len(), 1, "one line for the fatal error:\n{text}");
    assert!(
        !text.contains("Exiting on error"),
        "reported twice:\n{text}"
    );
    assert!(fatal[0].starts_with("error: "), "{text}");
    assert!(fatal[0].contains("ARTICLES"), "the cause is named:\n{text}");
}

#[test]
fn json_logs_are_one_object_per_line_with_the_fatal_error_once() {
    let (out, _server) = failing_worker("json");
    let text = stderr(&out);
    assert!(!out.status.success(), "{text}");
    assert_plain(&text);
    let events: Vec<serde_json::Value> = text
        .lines()
        .map(|l| {
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not a JSON object ({e}): {l:?}"))
        })
        .collect();
    assert!(events.iter().all(serde_json::Value::is_object), "{text}");
    assert!(
        events
            .iter()
            .any(|e| e["fields"]["message"] == "Worker starting"),
        "{text}"
    );
    let errors: Vec<&serde_json::Value> = events.iter().filter(|e| e["level"] == "ERROR").collect();
    assert_eq!(errors.len(), 1, "one event for the fatal error:\n{text}");
    let cause = errors[0]["fields"]["error"].as_str().unwrap_or_default();
    assert!(cause.contains("ARTICLES"), "the cause is named:\n{text}");
}

#[test]
fn process_logs_on_a_pipe_have_no_colour() {
    let mut input = tempfile::NamedTempFile::new().expect("test set-up");
    writeln!(
        input,
        "{}",
        String::from_utf8(article("a", "Plain text.")).unwrap()
    )
    .unwrap();
    let path = input.path().to_str().expect("test set-up");
    let out = lede(&["process", "--stages", "clean", path]);
    let text = stderr(&out);
    assert!(out.status.success(), "{text}");
    assert!(text.contains("Done"), "{text}");
    assert_plain(&text);
}

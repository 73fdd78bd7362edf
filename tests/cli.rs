//! The messages a newcomer meets first, run through the binary: they are part of the interface.
//! A missing input file is named once; a missing model names only flags that exist; `--help`
//! shows defaults as they are typed; `process` speaks of rejects, not dead letters.

use std::process::{Command, Output, Stdio};

fn lede(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lede"))
        .args(args)
        .env_remove("LEDE_STAGES")
        .env_remove("LEDE_MODEL")
        .stdin(Stdio::null())
        .output()
        .expect("run lede")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn help(subcommand: &str) -> String {
    let out = lede(&[subcommand, "--help"]);
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Every `--flag` the text names is a flag of `subcommand`.
fn assert_flags_exist(text: &str, subcommand: &str) {
    let help = help(subcommand);
    for (i, _) in text.match_indices("--") {
        let flag: String = text[i..]
            .chars()
            .take_while(|c| *c == '-' || c.is_ascii_alphanumeric())
            .collect();
        if flag.len() > 2 {
            assert!(
                help.contains(&format!("{flag} ")) || help.contains(&format!("{flag}\n")),
                "the message names {flag}, which `lede {subcommand}` does not have:\n{text}"
            );
        }
    }
}

#[test]
fn a_missing_input_file_is_named_once() {
    let out = lede(&["process", "--stages", "clean", "examples/nope.jsonl"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains("examples/nope.jsonl: No such file or directory"),
        "{err}"
    );
    for line in err.lines() {
        assert!(
            line.matches("No such file or directory").count() <= 1,
            "said twice in one line: {line}"
        );
    }
}

#[test]
fn a_missing_model_names_the_flag_that_exists_and_where_it_looked() {
    let out = lede(&["process", "--model", "no/such/model"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("--model (LEDE_MODEL)"), "{err}");
    assert!(err.contains("no/such/model (relative to /"), "{err}");
    assert!(err.contains("scripts/fetch-model.sh"), "{err}");
    assert_flags_exist(&err, "process");
}

#[test]
fn help_shows_the_stages_default_as_it_is_typed_and_it_parses() {
    for subcommand in ["process", "worker"] {
        let text = help(subcommand);
        assert!(
            text.contains("[default: clean,segment,entities,quotes]"),
            "lede {subcommand} --help:\n{text}"
        );
    }
    // Typed back, the shown default is accepted: the run gets as far as loading the model.
    let out = lede(&[
        "process",
        "--stages",
        "clean,segment,entities,quotes",
        "--model",
        "/no/such/model",
    ]);
    let err = stderr(&out);
    assert!(!err.contains("unknown stage"), "{err}");
    assert!(err.contains("/no/such/model does not exist"), "{err}");
}

#[test]
fn process_help_speaks_of_rejects_not_dead_letters() {
    let text = help("process");
    let deadline = text
        .split("--deadline")
        .nth(1)
        .expect("process has --deadline");
    assert!(deadline.contains("rejected"), "{deadline}");
    for word in ["dead-letter", "dead letter", "DLQ"] {
        assert!(
            !text.contains(word),
            "`lede process --help` says {word}:\n{text}"
        );
    }
}

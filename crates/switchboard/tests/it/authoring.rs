//! The bot author's tools through the real binary: the terminal chat and conversation tests.

use crate::helpers::{binary, demo_bot_dir, write_bot};
use std::io::Write as _;
use std::process::{Command, Stdio};

fn switchboard(args: &[&str], stdin: &str) -> (bool, String, String) {
    let mut child = Command::new(binary())
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .env("SWITCHBOARD__LOG__LEVEL", "warn")
        .spawn()
        .expect("start switchboard");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("wait");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn the_demo_bots_conversation_tests_pass() {
    let tests = demo_bot_dir().join("tests");
    let (ok, out, err) = switchboard(&["test", "conversations", tests.to_str().expect("path")], "");
    assert!(ok, "{out}\n{err}");
    assert!(out.contains(" 0 failed"), "{out}");
    assert!(
        out.contains("asks for the missing time, then completes the booking"),
        "{out}"
    );
}

#[test]
fn a_failing_expectation_fails_the_run_and_says_why() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bot = write_bot(
        dir.path(),
        "shop",
        "name = \"Shop\"\nfallback = [\"Pardon?\"]\n[[intent]]\nname = \"greet\"\nexamples = [\"hello\", \"hi\"]\nresponses = [\"Hi!\"]\n",
    );
    let tests = bot.join("tests");
    std::fs::create_dir_all(&tests).expect("tests folder");
    std::fs::write(
        tests.join("t.toml"),
        "[[conversation]]\nname = \"greets\"\n[[conversation.turn]]\nuser = \"hello\"\nreply = \"Hi!\"\n\n\
         [[conversation]]\nname = \"wrongly expects a goodbye\"\n[[conversation.turn]]\nuser = \"hello\"\nintent = \"bye\"\nreply = \"Bye!\"\n",
    )
    .expect("write tests");
    let (ok, out, _) = switchboard(&["test", "conversations", tests.to_str().expect("path"), "--json"], "");
    assert!(!ok, "a failure must fail the run: {out}");
    let outcomes: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert_eq!(outcomes[0]["passed"], true, "{outcomes}");
    assert_eq!(outcomes[1]["passed"], false);
    let failures = outcomes[1]["failures"].to_string();
    assert!(
        failures.contains("turn 1: expected the reply \\\"Bye!\\\", got [\\\"Hi!\\\"]"),
        "{failures}"
    );
    assert!(failures.contains("expected intent bye, got greet"), "{failures}");

    std::fs::write(
        tests.join("t.toml"),
        "[[conversation]]\nname = \"x\"\n[[conversation.turn]]\nreply = \"?\"\n",
    )
    .expect("write");
    let (ok, _, err) = switchboard(&["test", "conversations", tests.to_str().expect("path")], "");
    assert!(!ok && err.contains("exactly one of `user` and `button`"), "{err}");
}

#[test]
fn the_terminal_chat_talks_through_the_pipeline_and_presses_buttons() {
    let (ok, out, err) = switchboard(&["chat", "--debug"], "hello\nwhat can you do\n1\n/quit\nnever sent\n");
    assert!(ok, "{err}");
    assert!(out.contains("bot: Hello!") || out.contains("bot: Hi there!"), "{out}");
    assert!(out.contains("intent greeting"), "debug shows the understanding: {out}");
    assert!(out.contains("[1] Tell me a joke"), "buttons are numbered: {out}");
    // "1" pressed the first button: a joke.
    assert!(out.contains("intent joke"), "{out}");
    assert!(!out.contains("never sent"), "{out}");

    let (ok, _, err) = switchboard(&["chat", "--tenant", "nobody"], "hi\n");
    assert!(!ok && err.contains("tenant nobody has no bot"), "{err}");
}

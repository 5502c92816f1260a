//! The store is chosen by a URL (`--store`, `store.url`): the real binary serves from the
//! database it names, the CLI finds the same data there, and a URL this build cannot open is
//! refused at start without showing its password.

use crate::helpers::*;
use serde_json::{Value, json};
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Output, Stdio};

const PASSWORD: &str = "correct horse battery 9";

fn switchboard(data: &Path, store: &str) -> Command {
    let mut cmd = Command::new(binary());
    cmd.arg("--data-dir")
        .arg(data)
        .args(["--store", store])
        .env("SWITCHBOARD__DEMO__BOT_DIR", demo_bot_dir())
        .env("SWITCHBOARD__LOG__LEVEL", "warn");
    cmd
}

/// Starts `serve` and returns it with its base URL and the line announcing it.
fn serve(data: &Path, store: &str) -> (Served, String, String) {
    let served = serve_binary(switchboard(data, store));
    let (base, line) = (served.base.clone(), served.line.clone());
    (served, base, line)
}

fn run(mut cmd: Command, stdin: &str) -> Output {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    child.wait_with_output().expect("wait")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_and_the_cli_share_the_database_the_store_url_names() {
    switchboard::runtime::tls::init();
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let db = dir.path().join("elsewhere/x.db");
    let url = format!("sqlite://{}", db.display());

    let (server, base, line) = tokio::task::block_in_place(|| serve(&data, &url));
    assert!(line.contains(&url), "the start-up line names the store: {line}");
    let client = reqwest::Client::new();
    // The address is announced before the store is opened.
    eventually(10, "the server to be ready", || async {
        let r = client.get(format!("{base}/health")).send().await.ok()?;
        (r.status() == 200).then_some(())
    })
    .await;
    assert!(db.exists(), "the database is where the URL says");
    assert!(data.join("master.key").exists(), "the key stays in the data directory");
    assert!(
        !data.join("switchboard.db").exists(),
        "no database in the data directory"
    );

    let cli = |args: &[&str], stdin: &str| {
        let mut cmd = switchboard(&data, &url);
        cmd.args(args);
        tokio::task::block_in_place(|| run(cmd, stdin))
    };
    let tenants = cli(&["tenant", "list"], "");
    assert!(tenants.status.success(), "{}", String::from_utf8_lossy(&tenants.stderr));
    assert!(
        String::from_utf8_lossy(&tenants.stdout).starts_with("demo\t"),
        "the CLI sees the tenant the server stored: {}",
        String::from_utf8_lossy(&tenants.stdout)
    );
    let created = cli(
        &[
            "user",
            "create",
            "--email",
            "root@example.com",
            "--name",
            "Root",
            "--role",
            "super_admin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let login = client
        .post(format!("{base}/v1/auth/login"))
        .json(&json!({"email": "root@example.com", "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(
        login.status().as_u16(),
        200,
        "the server finds the person the CLI created"
    );
    let body: Value = login.json().await.expect("json");
    assert!(body["access_token"].is_string(), "{body}");

    let second = tokio::task::block_in_place(|| {
        let mut cmd = switchboard(&data, &url);
        cmd.args(["serve", "--listen", "127.0.0.1:0"]);
        run(cmd, "")
    });
    assert!(!second.status.success(), "a second server on the same data is refused");
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("already using"),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    drop(server);
    assert!(
        !data.join("switchboard.db").exists(),
        "no command put a database in the data directory"
    );
}

#[test]
fn a_store_url_this_build_cannot_open_is_refused_at_start_without_its_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("data");
    let refusals: [(&str, &[&str], &str); 4] = [
        ("postgresql://u:secret@/db", &["tenant", "list"], "no PostgreSQL host"),
        (
            "mysql://u:secret@127.0.0.1/db",
            &["serve", "--listen", "127.0.0.1:0"],
            "mysql://",
        ),
        (
            "u:secret@127.0.0.1/db",
            &["serve", "--listen", "127.0.0.1:0"],
            "malformed",
        ),
        ("not a url", &["dead-letters", "list"], "malformed"),
    ];
    for (url, args, says) in refusals {
        let mut cmd = switchboard(&data, url);
        cmd.args(args);
        let out = run(cmd, "");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{url} is refused");
        assert!(err.contains(says) && err.contains("sqlite://<path>"), "{url}: {err}");
        assert!(!err.contains("secret"), "{url}: {err}");
    }
    let mut from_env = Command::new(binary());
    from_env
        .arg("--data-dir")
        .arg(&data)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("SWITCHBOARD__STORE__URL", "mysql://u:secret@127.0.0.1/db");
    let out = run(from_env, "");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("mysql://"), "{err}");
    assert!(!err.contains("secret"), "{err}");
    assert!(!data.exists(), "nothing was created before the refusal");
}

/// A PostgreSQL server that cannot be reached, or refuses the login, stops the start with the
/// reason and without the password.
#[test]
fn an_unreachable_postgres_server_is_reported_without_its_password() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (url, says) in [
        // Nothing listens on port 1.
        ("postgres://u:secret@127.0.0.1:1/db", "cannot connect to PostgreSQL"),
        (
            "postgres://nobody:secret@127.0.0.1:5432/postgres",
            "cannot connect to PostgreSQL",
        ),
    ] {
        for args in [&["serve", "--listen", "127.0.0.1:0"][..], &["tenant", "list"][..]] {
            let mut cmd = switchboard(&dir.path().join("data"), url);
            cmd.args(args);
            let out = run(cmd, "");
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{url} {args:?}");
            assert!(err.contains(says), "{url} {args:?}: {err}");
            assert!(!err.contains("secret"), "{url} {args:?}: {err}");
        }
    }
}

#[test]
fn config_show_masks_the_password_of_the_store_url() {
    let out = Command::new(binary())
        .args([
            "--store",
            "postgres://switch:secret@db.internal:5432/sb",
            "config",
            "show",
        ])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("secret"), "{text}");
    let shown: toml::Value = toml::from_str(&text).expect("toml");
    assert_eq!(
        shown["store"]["url"].as_str(),
        Some("postgres://switch:***@db.internal:5432/sb")
    );
    let default = Command::new(binary()).args(["config", "show"]).output().expect("run");
    let shown: toml::Value = toml::from_str(&String::from_utf8_lossy(&default.stdout)).expect("toml");
    assert_eq!(
        shown["store"]["url"].as_str(),
        Some(""),
        "no URL: the database in the data directory"
    );
}

#[test]
fn a_relative_sqlite_path_is_relative_to_the_working_directory() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = Command::new(binary())
        .current_dir(dir.path())
        .args(["--store", "sqlite://./rel/sb.db", "tenant", "list"])
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.path().join("rel/sb.db").exists());
    assert!(!dir.path().join("data/switchboard.db").exists());
}

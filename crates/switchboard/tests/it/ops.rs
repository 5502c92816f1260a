use crate::helpers::*;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_reports_each_component() {
    let app = TestApp::spawn().await;
    let (status, health) = app.get("/health").await;
    assert_eq!(status, 200);
    assert_eq!(health["status"], "ok");
    assert_eq!(health["components"]["store"]["status"], "ok");
    assert_eq!(health["components"]["queue"]["status"], "ok");
    assert_eq!(health["components"]["queue"]["depth"], 0);
    assert_eq!(app.get("/health/live").await, (200, json!({"status": "ok"})));
    assert_eq!(app.get("/health/ready").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_messages_stages_and_queue() {
    let app = TestApp::spawn().await;
    app.say("mia", "hello").await;
    app.post("demo", json!({"user": "mia", "text": ""})).await;
    let text = app.metrics().await;
    for needle in [
        r#"switchboard_messages_total{tenant="demo",channel="webchat",direction="in",status="accepted"}"#,
        r#"switchboard_messages_total{tenant="demo",channel="webchat",direction="out",status="sent"}"#,
        r#"switchboard_pipeline_stage_seconds_bucket{stage="intent""#,
        r#"switchboard_pipeline_stage_seconds_bucket{stage="persist""#,
        "switchboard_turn_seconds_count",
        r#"switchboard_jobs_total{kind="turn",result="done"}"#,
        "switchboard_queue_depth",
        "switchboard_dead_letters_pending",
        r#"switchboard_http_requests_total{route="/v1/chat/{tenant}/messages",status="422"}"#,
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_are_not_public_they_need_the_token_or_their_own_address() {
    // The defaults: served nowhere, and the public address does not even have the route.
    let closed = TestApp::spawn_with(|c, _| c.metrics.token.clear()).await;
    let res = closed.client.get(closed.url("/metrics")).send().await.expect("send");
    assert_eq!(res.status(), 404);
    let res = closed
        .client
        .get(closed.url("/metrics"))
        .bearer_auth(METRICS_TOKEN)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 404, "no token is configured, so none opens it");
    closed.stop().await;

    // With a token: only its bearers (whatever the scheme's case) read them.
    let app = TestApp::spawn().await;
    for auth in [None, Some("Bearer wrong-token"), Some("Basic dGVzdA==")] {
        let mut req = app.client.get(app.url("/metrics"));
        if let Some(a) = auth {
            req = req.header("authorization", a);
        }
        let res = req.send().await.expect("send");
        assert_eq!(res.status(), 401, "{auth:?}");
        assert!(!res.text().await.expect("text").contains("switchboard_"), "{auth:?}");
    }
    let res = app
        .client
        .get(app.url("/metrics"))
        .header("authorization", format!("bEaReR {METRICS_TOKEN}"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    assert!(res.text().await.expect("text").contains("switchboard_"));
    app.stop().await;

    // On their own address (kept private by where it binds), and not on the public one.
    let free = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let private = free.local_addr().expect("addr");
    drop(free);
    let app = TestApp::spawn_with(|c, _| {
        c.metrics.token.clear();
        c.metrics.listen = private.to_string();
    })
    .await;
    let res = app
        .client
        .get(format!("http://{private}/metrics"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .expect("text")
            .contains("switchboard_http_requests_total")
    );
    let res = app
        .client
        .get(format!("http://{private}/v1/tenants"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 404, "nothing else is served there");
    assert_eq!(
        app.client.get(app.url("/metrics")).send().await.expect("send").status(),
        404
    );
    app.stop().await;
    assert!(
        std::net::TcpListener::bind(private).is_ok(),
        "the metrics address is released when the server stops"
    );
}

#[test]
fn config_default_prints_the_documented_defaults() {
    let out = std::process::Command::new(binary())
        .args(["config", "default"])
        .output()
        .expect("run");
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    assert_eq!(text, switchboard::config::DEFAULT_TOML);
    assert!(text.contains("[server]") && text.contains("reply_wait_ms"));
}

#[test]
fn config_show_applies_file_environment_and_flags() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("sb.toml");
    std::fs::write(&file, "[queue]\nworkers = 7\nmax_attempts = 9\n").expect("write");
    let out = std::process::Command::new(binary())
        .args([
            "--config",
            file.to_str().expect("path"),
            "--data-dir",
            "/tmp/elsewhere",
            "config",
            "show",
        ])
        .env("SWITCHBOARD__QUEUE__WORKERS", "3")
        .output()
        .expect("run");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let shown: toml::Value = toml::from_str(&String::from_utf8_lossy(&out.stdout)).expect("toml");
    assert_eq!(
        shown["queue"]["workers"].as_integer(),
        Some(3),
        "environment beats file"
    );
    assert_eq!(
        shown["queue"]["max_attempts"].as_integer(),
        Some(9),
        "file beats defaults"
    );
    assert_eq!(
        shown["store"]["data_dir"].as_str(),
        Some("/tmp/elsewhere"),
        "flags beat everything"
    );

    let bad = std::process::Command::new(binary())
        .args(["config", "show"])
        .env("SWITCHBOARD__SERVER__LISTEN", "not an address")
        .output()
        .expect("run");
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr)
            .to_lowercase()
            .contains("server.listen")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_data_directory_is_refused() {
    let app = TestApp::spawn().await;
    let config = test_config(app.dir.path());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let err = switchboard::app::run(config, listener, async {})
        .await
        .expect_err("refused");
    assert!(format!("{err:#}").contains("already using"), "{err:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loadtest_drives_a_server_and_checks_every_reply() {
    let app = TestApp::spawn().await;
    let run = |tenant: &str| {
        std::process::Command::new(binary())
            .args([
                "loadtest",
                "--url",
                &app.base,
                "--tenant",
                tenant,
                "--conversations",
                "20",
                "--messages",
                "5",
            ])
            .args(["--concurrency", "10", "--json"])
            .output()
            .expect("run loadtest")
    };
    let good = tokio::task::block_in_place(|| run("demo"));
    assert!(
        good.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&good.stderr),
        String::from_utf8_lossy(&good.stdout)
    );
    let report: serde_json::Value = serde_json::from_slice(&good.stdout).expect("json report");
    assert_eq!(
        (
            report["messages_sent"].as_u64(),
            report["answered"].as_u64(),
            report["errors"].as_u64()
        ),
        (Some(100), Some(100), Some(0))
    );
    assert!(report["messages_per_s"].as_f64().is_some_and(|r| r > 0.0));
    assert!(report["latency_ms"]["p99"].as_f64().is_some_and(|p| p > 0.0));

    let bad = tokio::task::block_in_place(|| run("nope"));
    assert!(!bad.status.success(), "errors make the loadtest fail");
    let report: serde_json::Value = serde_json::from_slice(&bad.stdout).expect("json report");
    assert_eq!(report["errors"].as_u64(), Some(100));
    assert_eq!(
        report["error_kinds"]["http 404 unknown_tenant"].as_u64(),
        Some(100),
        "{report}"
    );
}

//! Events the function ignores, and malformed ones.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ignored_and_malformed_events() {
    let env = env().await;
    for name in [
        "ec2-run-instances.json",
        "s3-put-object.json",
        "lambda-create-event-source-mapping-failed.json",
    ] {
        let outcome = env.handle(&sample(&format!("ignored/{name}")), NOW).await;
        assert_eq!(
            (outcome.trigger.as_str(), outcome.api_calls),
            ("ignored", 0),
            "{name}"
        );
    }
    let error = handle(
        &env.deps,
        &json!({"source": "aws.ec2", "detail-type": "AWS API Call via CloudTrail", "detail": null}),
        NOW,
    )
    .await
    .expect_err("malformed");
    assert!(error.to_string().contains("`detail`"), "{error}");
    // A network event whose resources are unknown audits every mapping (none here).
    let outcome = env
        .handle(&authorize_event("sg-0123456789abcdef0", 9098), NOW)
        .await;
    assert_eq!(
        (
            outcome.trigger.as_str(),
            outcome.scope.vpcs.len(),
            outcome.mappings_audited
        ),
        ("network", 0, 0)
    );
}

/// The function as Lambda runs it: `cargo lambda watch` emulates the Lambda runtime API,
/// the function binary cargo built for these tests serves it, and `cargo lambda invoke
/// --data-file` sends the events. (`--only-lambda-apis`: the binary is the one this test run
/// built, so the test never compiles; plain `cargo lambda watch` would `cargo run` it.)
mod under_cargo_lambda {
    use std::net::{TcpListener, TcpStream};
    use std::path::{Path, PathBuf};
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    use serde_json::Value;

    use super::*;

    /// `cargo lambda watch` and the function, both stopped when dropped.
    struct Watch {
        watch: Child,
        function: Child,
        port: u16,
        watch_log: PathBuf,
        function_log: PathBuf,
    }

    impl Drop for Watch {
        fn drop(&mut self) {
            let _ = self.function.kill();
            let _ = self.function.wait();
            // The watch leads its own process group: end the group.
            let _ = Command::new("kill")
                .args(["-TERM", "--", &format!("-{}", self.watch.id())])
                .status();
            let _ = self.watch.wait();
        }
    }

    fn cargo_lambda() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".venv/bin/cargo-lambda")
    }

    fn free_port() -> u16 {
        TcpListener::bind("127.0.0.1:0")
            .expect("bind")
            .local_addr()
            .expect("addr")
            .port()
    }

    fn log_file(path: &Path) -> (Stdio, Stdio) {
        let file = std::fs::File::create(path).expect("log file");
        (
            Stdio::from(file.try_clone().expect("log")),
            Stdio::from(file),
        )
    }

    fn start(env: &[(String, String)], dir: &Path) -> Watch {
        use std::os::unix::process::CommandExt;
        let port = free_port();
        let watch_log = dir.join("watch.log");
        let (out, err) = log_file(&watch_log);
        let watch = Command::new(cargo_lambda())
            .args([
                "lambda",
                "watch",
                "--only-lambda-apis",
                "--invoke-address",
                "127.0.0.1",
            ])
            .args(["--invoke-port", &port.to_string(), "--timeout", "300"])
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .spawn()
            .expect("start cargo lambda watch");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "cargo lambda watch did not listen:\n{}",
                std::fs::read_to_string(&watch_log).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let function_log = dir.join("function.log");
        let (out, err) = log_file(&function_log);
        // What Lambda (here cargo lambda watch, for the default function `_`) provides.
        let function = Command::new(env!("CARGO_BIN_EXE_esm-guard-lambda"))
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("http://127.0.0.1:{port}/.rt"),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", "_")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("start the function");
        Watch {
            watch,
            function,
            port,
            watch_log,
            function_log,
        }
    }

    impl Watch {
        fn logs(&self) -> String {
            format!(
                "--- cargo lambda watch ---\n{}\n--- function ---\n{}",
                std::fs::read_to_string(&self.watch_log).unwrap_or_default(),
                std::fs::read_to_string(&self.function_log).unwrap_or_default()
            )
        }

        /// `cargo lambda invoke --data-file FILE`: the function's JSON answer.
        fn invoke(&self, file: &Path) -> Value {
            let out = Command::new(cargo_lambda())
                .args([
                    "lambda",
                    "invoke",
                    "--invoke-address",
                    "127.0.0.1",
                    "--invoke-port",
                    &self.port.to_string(),
                    "--output-format",
                    "json",
                ])
                .arg("--data-file")
                .arg(file)
                .output()
                .expect("cargo lambda invoke");
            assert!(
                out.status.success(),
                "invoke {} failed: {}\n{}\n{}",
                file.display(),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                self.logs()
            );
            serde_json::from_slice(&out.stdout)
                .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)))
        }
    }

    fn kinds(answer: &Value) -> Vec<String> {
        answer["alerts"]
            .as_array()
            .expect("alerts")
            .iter()
            .map(|a| a["kind"].as_str().unwrap_or_default().to_string())
            .collect()
    }

    fn write(dir: &Path, name: &str, event: &Value) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, serde_json::to_string_pretty(event).unwrap()).expect("write event");
        path
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn end_to_end_alert_quiet_resolved() {
        let env = env().await;
        let (uuid, cluster, sg, _) = env.broken_mapping(37).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let mut vars: Vec<(String, String)> = env
            .account
            .env()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        vars.extend([
            (
                "ALERT_TOPIC_ARN".to_string(),
                env.deps.config.alert_topic_arn.clone(),
            ),
            ("STATE_TABLE".to_string(), TABLE.to_string()),
            ("AWS_LAMBDA_LOG_FORMAT".to_string(), "JSON".to_string()),
        ]);
        let create = write(dir.path(), "create.json", &create_event(&uuid, &cluster));
        let fixed = write(dir.path(), "authorize.json", &authorize_event(&sg, 9098));

        let watch = tokio::task::spawn_blocking({
            let dir = dir.path().to_path_buf();
            move || start(&vars, &dir)
        })
        .await
        .expect("start");
        let invoke = |file: PathBuf| tokio::task::block_in_place(|| watch.invoke(&file));

        let answer = invoke(create.clone());
        assert_eq!(kinds(&answer), ["new"], "{answer}");
        let got = env.received().await;
        assert_eq!(got.len(), 1);
        assert!(
            got[0].title().starts_with(":red_circle: FAIL"),
            "{}",
            got[0].title()
        );
        assert_eq!(got[0].attribute("esm_uuid"), uuid);

        let answer = invoke(create);
        assert!(kinds(&answer).is_empty(), "{answer}");
        assert!(env.received().await.is_empty());

        env.b.allow_ingress_from_group(&sg, 9098, &sg).await;
        let answer = invoke(fixed);
        assert_eq!(kinds(&answer), ["resolved"], "{answer}");
        let got = env.received().await;
        assert_eq!(got.len(), 1);
        assert!(
            got[0].title().starts_with(":white_check_mark: RESOLVED"),
            "{}",
            got[0].title()
        );

        // JSON logs, and one EMF line per invocation.
        let log = std::fs::read_to_string(&watch.function_log).unwrap_or_default();
        let lines: Vec<Value> = log
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .collect();
        assert!(
            lines.iter().any(|l| l["fields"]["message"] == "alert sent"),
            "{log}"
        );
        let emf: Vec<i64> = lines
            .iter()
            .filter(|v| v.get("_aws").is_some())
            .map(|m| m["AlertsSent"].as_i64().unwrap_or(-1))
            .collect();
        assert_eq!(emf, [1, 0, 1], "{log}");
    }
}

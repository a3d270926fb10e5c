//! One moto emulator per test process, shared by all tests; each test works in its own
//! account (a distinct 12-digit access key), so tests run in parallel without interfering.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use serde_json::Value;

pub struct Emulator {
    pub url: String,
    // Held so the emulator's stdin stays open: it exits when this process does.
    _child: Mutex<Child>,
}

static EMULATOR: OnceLock<Emulator> = OnceLock::new();

pub fn emulator() -> &'static Emulator {
    EMULATOR.get_or_init(|| {
        // The demo runs its own emulator and hands its address over.
        if let Ok(url) = std::env::var("ESM_GUARD_EMULATOR_URL") {
            let child = Command::new("true")
                .stdin(Stdio::piped())
                .spawn()
                .expect("spawn true");
            return Emulator {
                url,
                _child: Mutex::new(child),
            };
        }
        let root = env!("CARGO_MANIFEST_DIR");
        let python = format!("{root}/.venv/bin/python");
        assert!(
            std::path::Path::new(&python).exists(),
            "{python} is missing: run scripts/setup first (scripts/test does)"
        );
        let mut child = Command::new(python)
            .arg(format!("{root}/scripts/emulator.py"))
            .args(["--host", "127.0.0.1", "--port", "0"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the emulator");
        let stdout = child.stdout.take().expect("emulator stdout");
        let mut line = String::new();
        BufReader::new(stdout)
            .read_line(&mut line)
            .expect("read READY line");
        let url = line
            .trim()
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("emulator did not start: {line:?}"))
            .to_string();
        Emulator {
            url,
            _child: Mutex::new(child),
        }
    })
}

/// A fresh, empty account in the emulator.
pub struct Account {
    pub id: String,
    pub config: SdkConfig,
    /// Where its calls go: the emulator, or the fault proxy in front of it.
    pub endpoint: String,
}

static NEXT: AtomicU64 = AtomicU64::new(0);

pub async fn account() -> Account {
    account_at(&emulator().url).await
}

/// A fresh account whose SDK calls go to `endpoint` (the emulator, or a proxy in front of it).
pub async fn account_at(endpoint: &str) -> Account {
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let id = format!("{:06}{:06}", 100_000 + std::process::id() % 900_000, n);
    let config = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(aws_credential_types::Credentials::new(
            &id, "secret", None, None, "test",
        ))
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3))
        .load()
        .await;
    Account {
        id,
        config,
        endpoint: endpoint.to_string(),
    }
}

impl Account {
    /// The environment that points the esm-guard binary at this account.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint.clone()),
            ("AWS_ACCESS_KEY_ID", self.id.clone()),
            ("AWS_SECRET_ACCESS_KEY", "secret".into()),
            ("AWS_REGION", "us-east-1".into()),
            ("AWS_CONFIG_FILE", "/dev/null".into()),
            ("AWS_SHARED_CREDENTIALS_FILE", "/dev/null".into()),
        ]
    }

    /// Every AWS request this account made, as `service:Action`, in order.
    pub fn requests(&self) -> Vec<String> {
        let log = control(
            "GET",
            &format!("/_esm_guard/requests?account={}", self.id),
            None,
        );
        log.as_array()
            .expect("request log")
            .iter()
            .map(|e| {
                format!(
                    "{}:{}",
                    e["service"].as_str().unwrap_or("?"),
                    e["action"].as_str().unwrap_or("?")
                )
            })
            .collect()
    }

    pub fn clear_requests(&self) {
        control(
            "DELETE",
            &format!("/_esm_guard/requests?account={}", self.id),
            None,
        );
    }

    /// Drops this account's fault rules (others' stay: tests run in parallel).
    pub fn clear_faults(&self) {
        control(
            "DELETE",
            &format!("/_esm_guard/faults?account={}", self.id),
            None,
        );
    }

    /// Adds a fault rule limited to this account.
    pub fn fault(&self, mut rule: Value) {
        rule["account"] = Value::String(self.id.clone());
        control("POST", "/_esm_guard/faults", Some(&rule));
    }
}

/// A call to the emulator's control endpoints (plain HTTP/1.1 on loopback).
pub fn control(method: &str, path: &str, body: Option<&Value>) -> Value {
    control_at(&emulator().url, method, path, body)
}

/// A control call to `base` (the emulator, or the fault proxy in front of it).
pub fn control_at(base: &str, method: &str, path: &str, body: Option<&Value>) -> Value {
    let url = base.trim_start_matches("http://").to_string();
    let mut stream = TcpStream::connect(&url).expect("connect to emulator");
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {url}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("send control request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read control response");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    assert!(
        head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"),
        "{method} {path}: {head}\n{body}"
    );
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&tail[..n]);
        rest = &tail[n + 2..];
    }
    out
}

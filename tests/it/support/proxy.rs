//! One fault-injecting proxy (scripts/fault_proxy.py) per test process, on loopback in front
//! of the shared emulator: faults on the wire (a reset between two pages, a response cut
//! off mid-body) that the emulator's own fault rules cannot place.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

use super::emulator::{account_at, control_at, emulator, Account};

pub struct Proxy {
    pub url: String,
    // Held so the proxy's stdin stays open: it exits when this process does.
    _child: Mutex<Child>,
}

static PROXY: OnceLock<Proxy> = OnceLock::new();

pub fn proxy() -> &'static Proxy {
    PROXY.get_or_init(|| {
        let root = env!("CARGO_MANIFEST_DIR");
        let mut child = Command::new(format!("{root}/.venv/bin/python"))
            .arg(format!("{root}/scripts/fault_proxy.py"))
            .args([
                "--upstream",
                &emulator().url,
                "--host",
                "127.0.0.1",
                "--port",
                "0",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the fault proxy (run scripts/setup first)");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("proxy stdout"))
            .read_line(&mut line)
            .expect("read READY line");
        let url = line
            .trim()
            .strip_prefix("READY ")
            .unwrap_or_else(|| panic!("the fault proxy did not start: {line:?}"))
            .to_string();
        Proxy {
            url,
            _child: Mutex::new(child),
        }
    })
}

/// A fresh account whose SDK calls (and `Account::env`'s, for the binaries) pass through the
/// proxy.
pub async fn account_via_proxy() -> Account {
    account_at(&proxy().url).await
}

impl Account {
    /// Adds a wire fault at the proxy, limited to this account.
    pub fn wire_fault(&self, mut rule: Value) {
        rule["account"] = Value::String(self.id.clone());
        control_at(&proxy().url, "POST", "/_proxy/faults", Some(&rule));
    }

    pub fn clear_wire_faults(&self) {
        control_at(
            &proxy().url,
            "DELETE",
            &format!("/_proxy/faults?account={}", self.id),
            None,
        );
    }

    /// The requests the proxy saw for this account: (action, paged, fault applied).
    pub fn wire_requests(&self) -> Vec<(String, bool, Option<String>)> {
        let log = control_at(
            &proxy().url,
            "GET",
            &format!("/_proxy/requests?account={}", self.id),
            None,
        );
        log.as_array()
            .expect("proxy request log")
            .iter()
            .map(|e| {
                (
                    e["action"].as_str().unwrap_or("?").to_string(),
                    e["paged"].as_bool().unwrap_or(false),
                    e["fault"].as_str().map(str::to_string),
                )
            })
            .collect()
    }
}

//! Where the time of `esm-guard audit --snapshot FILE` goes, phase by phase: reading the
//! snapshot, evaluate, plan, and rendering the JSON and the text report (BENCHMARKS.md).
//!
//! ```sh
//! cargo run --profile bench --example bench_snapshot -- 10000 1000 target/bench-10000x1000.json
//! cargo run --profile bench --example audit_phases -- target/bench-10000x1000.json
//! ```

use std::time::Instant;

use esm_guard::plan::plan;
use esm_guard::report::{to_json, to_text};
use esm_guard::{evaluate, Snapshot};

fn main() {
    let path = std::env::args().nth(1).unwrap_or_else(|| {
        eprintln!("usage: audit_phases SNAPSHOT.json");
        std::process::exit(2);
    });
    let total = Instant::now();
    let mut phase = Instant::now();
    let mut lap = |name: &str, detail: String| {
        println!(
            "{name:<14} {:>9.1} ms  {detail}",
            phase.elapsed().as_secs_f64() * 1e3
        );
        phase = Instant::now();
    };
    let text = std::fs::read_to_string(&path).expect("read the snapshot");
    let snapshot: Snapshot = serde_json::from_str(&text).expect("a snapshot");
    lap(
        "read+parse",
        format!("{} bytes, {} mappings", text.len(), snapshot.mappings.len()),
    );
    let report = evaluate(&snapshot);
    let findings: usize = report.mappings.iter().map(|m| m.findings.len()).sum();
    lap("evaluate", format!("{findings} findings"));
    let actions = plan(&snapshot, &report);
    let fixes: usize = actions.iter().map(|a| a.fixes.len()).sum();
    lap(
        "plan",
        format!("{} actions fixing {fixes} finding refs", actions.len()),
    );
    let json = to_json(&report, &actions);
    lap("report json", format!("{} bytes", json.len()));
    let text = to_text(&report, &actions);
    lap("report text", format!("{} bytes", text.len()));
    println!(
        "{:<14} {:>9.1} ms",
        "total",
        total.elapsed().as_secs_f64() * 1e3
    );
}

//! Saved snapshots (tests/fixtures/*.json, as `esm-guard snapshot` writes them), evaluated
//! and planned, the JSON report pinned with insta (tests/it/engine/snapshots/).

use esm_guard::model::{Snapshot, SNAPSHOT_SCHEMA};
use esm_guard::plan::plan;
use esm_guard::{evaluate, Verdict};

const FIXTURES: &[(&str, &[Verdict])] = &[
    ("healthy-on-demand", &[Verdict::Pass]),
    ("private-no-path", &[Verdict::Fail]),
    ("wrong-broker-port", &[Verdict::Fail]),
    ("endpoint-sg-blocks-443", &[Verdict::Fail]),
    ("nat-path-broken", &[Verdict::Fail]),
    ("self-managed", &[Verdict::Fail, Verdict::Pass]),
];

fn load(name: &str) -> Snapshot {
    let path = format!("{}/tests/fixtures/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let snapshot: Snapshot = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"));
    assert_eq!(snapshot.schema, SNAPSHOT_SCHEMA, "{path}");
    snapshot
}

#[test]
fn saved_snapshots_give_the_pinned_reports() {
    for (name, verdicts) in FIXTURES {
        let snapshot = load(name);
        let report = evaluate(&snapshot);
        let actions = plan(&snapshot, &report);
        let got: Vec<Verdict> = report.mappings.iter().map(|m| m.verdict).collect();
        assert_eq!(&got, verdicts, "{name}");
        insta::assert_snapshot!(*name, esm_guard::report::to_json(&report, &actions));
    }
}

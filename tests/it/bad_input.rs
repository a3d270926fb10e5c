//! Bad input (issue 8): the corpus of malformed and unexpected events in tests/bad-events,
//! each classified exactly as the table in tests/bad-events/README.md says; a few of them
//! through the real handler against the emulator; a 256 KB event; and broken snapshot
//! files given to the real `esm-guard audit --snapshot`.
//!
//! The README table is the single source of truth: the tests parse its `expected` column,
//! so a row and its file cannot drift apart without a failure here.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use esm_guard::lambda::event::{classify, EventError, MappingChange, Trigger};
use esm_guard::lambda::handler::{invoke, Deps, HandlerError, Options, Outcome};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::support::account::{Auth, Builder};
use crate::support::emulator::{account, Account};
use crate::support::function::{create_state_table, default_config, TABLE};

// ------------------------------------------------------------------------------------------
// The corpus and its table

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/bad-events")
}

/// One row of the README table.
#[derive(Debug, Clone)]
struct Row {
    file: String,
    expected: Expected,
    /// The `expected` cell as written, for messages.
    code: String,
}

#[derive(Debug, Clone, PartialEq)]
enum Expected {
    /// `serde_json` (and so the Lambda runtime) rejects the bytes; its message contains this.
    InvalidJson(String),
    Error(EventError),
    /// Ignored; the reason contains this.
    Ignored(String),
    Mapping {
        change: MappingChange,
        uuid: UuidIs,
    },
    Network {
        vpc: Option<String>,
        resources: Vec<String>,
    },
    Sweep(String),
}

#[derive(Debug, Clone, PartialEq)]
enum UuidIs {
    Exactly(String),
    Chars(usize),
}

/// `found` / `expected` of `EventError` are `&'static str`: the table's words mapped back.
fn type_word(word: &str) -> &'static str {
    match word {
        "null" => "null",
        "a boolean" => "a boolean",
        "a number" => "a number",
        "a string" => "a string",
        "an array" => "an array",
        "an object" => "an object",
        other => panic!("unknown JSON type {other:?} in the README table"),
    }
}

/// Parses the `expected` cell (the grammar is in tests/bad-events/README.md).
fn parse_expected(code: &str) -> Expected {
    if let Some(rest) = code.strip_prefix("invalid JSON: ") {
        return Expected::InvalidJson(rest.to_string());
    }
    if let Some(rest) = code.strip_prefix("error: ") {
        if let Some(found) = rest
            .strip_prefix("not an object (")
            .and_then(|r| r.strip_suffix(')'))
        {
            return Expected::Error(EventError::NotAnObject {
                found: type_word(found),
            });
        }
        if let Some(field) = rest.strip_prefix("missing ") {
            return Expected::Error(EventError::Missing {
                field: field.to_string(),
            });
        }
        // `<field> is not <what>`: a value of the right type but the wrong shape.
        if let Some((field, what)) = rest.split_once(" is not ") {
            return Expected::Error(EventError::Invalid {
                field: field.to_string(),
                // `expected` is `&'static str`; a few bytes leaked per test run.
                expected: Box::leak(what.to_string().into_boxed_str()),
            });
        }
        // `<field> is <found>, not <expected>`
        let (field, types) = rest
            .split_once(" is ")
            .unwrap_or_else(|| panic!("bad error code {code:?}"));
        let (found, expected) = types
            .split_once(", not ")
            .unwrap_or_else(|| panic!("bad error code {code:?}"));
        return Expected::Error(EventError::WrongType {
            field: field.to_string(),
            expected: type_word(expected),
            found: type_word(found),
        });
    }
    if let Some(rest) = code.strip_prefix("ignored: ") {
        return Expected::Ignored(rest.to_string());
    }
    if let Some(rest) = code.strip_prefix("mapping ") {
        let (change, uuid) = rest
            .split_once(' ')
            .unwrap_or_else(|| panic!("bad mapping code {code:?}"));
        let change = match change {
            "created" => MappingChange::Created,
            "updated" => MappingChange::Updated,
            "deleted" => MappingChange::Deleted,
            other => panic!("unknown change {other:?} in {code:?}"),
        };
        let uuid = match uuid.strip_prefix("len=") {
            Some(n) => UuidIs::Chars(n.parse().expect("len=N")),
            None => UuidIs::Exactly(
                serde_json::from_str(uuid)
                    .unwrap_or_else(|e| panic!("uuid in {code:?} is not a JSON string: {e}")),
            ),
        };
        return Expected::Mapping { change, uuid };
    }
    if let Some(rest) = code.strip_prefix("network ") {
        let mut vpc = None;
        let mut resources = Vec::new();
        for part in rest.split(' ') {
            match part.split_once('=') {
                Some(("vpc", "none")) => vpc = None,
                Some(("vpc", id)) => vpc = Some(id.to_string()),
                Some(("resources", "none")) => resources.clear(),
                Some(("resources", list)) => {
                    resources = list.split(',').map(str::to_string).collect()
                }
                _ => panic!("bad network code {code:?}"),
            }
        }
        return Expected::Network { vpc, resources };
    }
    if let Some(source) = code.strip_prefix("sweep ") {
        return Expected::Sweep(source.to_string());
    }
    panic!("unknown expectation {code:?} in tests/bad-events/README.md")
}

/// The rows of the table in tests/bad-events/README.md.
fn table() -> Vec<Row> {
    let readme = std::fs::read_to_string(corpus_dir().join("README.md")).expect("README.md");
    let (_, corpus) = readme
        .split_once("\n## The corpus\n")
        .expect("a `## The corpus` section");
    let corpus = corpus.split("\n## ").next().unwrap_or_default();
    let mut rows = Vec::new();
    for line in corpus.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line
            .trim_start_matches('|')
            .trim_end_matches('|')
            .split(" | ")
            .map(str::trim)
            .collect();
        assert_eq!(cells.len(), 4, "a table row has 4 cells: {line}");
        let unquote = |cell: &str| {
            cell.strip_prefix('`')
                .and_then(|c| c.strip_suffix('`'))
                .unwrap_or_else(|| panic!("{cell:?} should be in backticks: {line}"))
                .to_string()
        };
        let code = unquote(cells[2]);
        rows.push(Row {
            file: unquote(cells[0]),
            expected: parse_expected(&code),
            code,
        });
    }
    rows
}

fn read(file: &str) -> Vec<u8> {
    std::fs::read(corpus_dir().join(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// What the Lambda runtime does with the payload (lambda_runtime 1.5, `deserializer.rs`):
/// `serde_json::Deserializer::from_slice` and one value, with no check for trailing bytes.
fn as_the_runtime_parses(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    Value::deserialize(&mut de)
}

/// `classify`, with a panic turned into an `Err` naming the file.
fn classify_no_panic(file: &str, event: &Value) -> Result<Result<Trigger, EventError>, String> {
    std::panic::catch_unwind(|| classify(event)).map_err(|panic| {
        let text = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("{file}: classify panicked: {text}")
    })
}

/// The first 160 characters of `text`, for messages.
fn short(text: &str) -> String {
    match text.char_indices().nth(160) {
        Some((i, _)) => format!("{}...", &text[..i]),
        None => text.to_string(),
    }
}

/// Checks one classification against its expectation; `Err` says how it differs.
fn check(expected: &Expected, got: &Result<Trigger, EventError>) -> Result<(), String> {
    let ok = match (expected, got) {
        (Expected::Error(want), Err(error)) => {
            let text = error.to_string();
            let names = match want {
                EventError::NotAnObject { .. } => text.contains("not a JSON object"),
                EventError::Missing { field }
                | EventError::WrongType { field, .. }
                | EventError::Invalid { field, .. } => text.contains(&format!("`{field}`")),
            };
            want == error && names
        }
        (Expected::Ignored(part), Ok(Trigger::Ignored { reason })) => {
            reason.contains(part.as_str())
        }
        (
            Expected::Mapping { change, uuid },
            Ok(Trigger::Mapping {
                uuid: got_uuid,
                change: got_change,
                ..
            }),
        ) => {
            change == got_change
                && match uuid {
                    UuidIs::Exactly(want) => want == got_uuid,
                    UuidIs::Chars(n) => got_uuid.chars().count() == *n,
                }
        }
        (
            Expected::Network { vpc, resources },
            Ok(Trigger::Network {
                vpc_id,
                resources: got,
                ..
            }),
        ) => vpc == vpc_id && resources == got,
        (Expected::Sweep(source), Ok(Trigger::Sweep { source: got })) => source == got,
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!("got {}", short(&format!("{got:?}"))))
    }
}

#[test]
fn the_corpus_and_its_table_list_the_same_files() {
    let on_disk: BTreeSet<String> = std::fs::read_dir(corpus_dir())
        .expect("tests/bad-events")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name != "README.md")
        .collect();
    let rows = table();
    let in_table: BTreeSet<String> = rows.iter().map(|r| r.file.clone()).collect();
    assert_eq!(rows.len(), in_table.len(), "a file is listed twice");
    let missing: Vec<_> = on_disk.difference(&in_table).collect();
    let extra: Vec<_> = in_table.difference(&on_disk).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "not in the table: {missing:?}; in the table but not on disk: {extra:?}"
    );
    assert!(rows.len() >= 30, "only {} bad events", rows.len());
    // Every outcome family is represented.
    for (kind, present) in [
        (
            "invalid JSON",
            rows.iter()
                .any(|r| matches!(r.expected, Expected::InvalidJson(_))),
        ),
        (
            "error",
            rows.iter()
                .any(|r| matches!(r.expected, Expected::Error(_))),
        ),
        (
            "ignored",
            rows.iter()
                .any(|r| matches!(r.expected, Expected::Ignored(_))),
        ),
    ] {
        assert!(present, "no {kind} row");
    }
}

#[test]
fn every_bad_event_is_classified_as_the_table_says() {
    let mut failures = Vec::new();
    for row in table() {
        let bytes = read(&row.file);
        let strict = serde_json::from_slice::<Value>(&bytes);
        let outcome = match (&row.expected, strict) {
            (Expected::InvalidJson(part), Err(error)) => {
                // The error names the problem, and from_str (when the bytes are text) agrees.
                let text = error.to_string();
                let from_str = std::str::from_utf8(&bytes)
                    .ok()
                    .map(|s| serde_json::from_str::<Value>(s).map_err(|e| e.to_string()));
                if !text.contains(part.as_str()) {
                    Err(format!("rejected with {text:?}"))
                } else if matches!(&from_str, Some(Ok(_))) {
                    Err("from_str accepts what from_slice rejects".to_string())
                } else if let Some(Err(s)) = from_str.filter(|r| r.as_ref().err() != Some(&text)) {
                    Err(format!("from_str says {s:?}, from_slice {text:?}"))
                } else {
                    println!("{:60} invalid JSON: {text}", row.file);
                    Ok(())
                }
            }
            (Expected::InvalidJson(_), Ok(value)) => {
                Err(format!("parsed as JSON: {}", short(&value.to_string())))
            }
            (_, Err(error)) => Err(format!("is not JSON: {error}")),
            (expected, Ok(event)) => match classify_no_panic(&row.file, &event) {
                Err(panic) => Err(panic),
                Ok(got) => {
                    let same = as_the_runtime_parses(&bytes).ok() == Some(event);
                    match check(expected, &got) {
                        Ok(()) if same => {
                            println!("{:60} {}", row.file, short(&format!("{got:?}")));
                            Ok(())
                        }
                        Ok(()) => Err("the runtime would parse it differently".into()),
                        Err(e) => Err(e),
                    }
                }
            },
        };
        if let Err(why) = outcome {
            failures.push(format!("{} (expected `{}`): {why}", row.file, row.code));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of the bad events are not as tests/bad-events/README.md says:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// The Lambda runtime reads one JSON value and does not look past it (it never calls
/// `Deserializer::end`), so an event followed by junk reaches the handler; the corpus's
/// `trailing-garbage-after-object.json` is invalid for `serde_json::from_str` but a sweep
/// for the runtime. If lambda_runtime starts rejecting trailing bytes, this test says so.
#[test]
fn the_runtime_reads_past_trailing_garbage() {
    let bytes = read("trailing-garbage-after-object.json");
    assert!(serde_json::from_slice::<Value>(&bytes).is_err());
    let event = as_the_runtime_parses(&bytes).expect("the runtime accepts the leading object");
    assert_eq!(
        classify(&event),
        Ok(Trigger::Sweep {
            source: "aws.scheduler".into()
        })
    );
}

/// Every invalid-JSON file still never reaches `classify` with a panic: whatever the
/// runtime's looser reading yields is classified without panicking.
#[test]
fn invalid_json_never_panics_the_runtime_path() {
    for row in table() {
        if let Ok(event) = as_the_runtime_parses(&read(&row.file)) {
            if let Err(panic) = classify_no_panic(&row.file, &event) {
                panic!("{panic}");
            }
        }
    }
}

// ------------------------------------------------------------------------------------------
// 256 KB: EventBridge's largest event, generated here rather than committed

const EVENTBRIDGE_MAX: usize = 256 * 1024;

/// A CreateRoute event grown to at least 256 KB: a 256 KB description, and `ids` distinct
/// security-group ids spread through the request.
fn big_event(ids: usize) -> Value {
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("events/handled/ec2-create-route.json");
    let mut event: Value =
        serde_json::from_str(&std::fs::read_to_string(path).expect("sample")).expect("JSON");
    let request = &mut event["detail"]["requestParameters"];
    request["description"] = json!("x".repeat(EVENTBRIDGE_MAX));
    request["tagSpecificationSet"] = json!({
        "items": (0..ids)
            .map(|i| json!({"resourceType": "security-group", "groupId": format!("sg-{i:017x}")}))
            .collect::<Vec<_>>()
    });
    event
}

#[test]
fn a_256_kb_event_is_classified_without_losing_ids() {
    let event = big_event(3000);
    let size = serde_json::to_vec(&event).unwrap().len();
    assert!(size >= EVENTBRIDGE_MAX, "only {size} bytes");
    let trigger = classify(&event).expect("classified");
    match trigger {
        Trigger::Network {
            event_name,
            vpc_id: None,
            resources,
        } => {
            assert_eq!(event_name, "CreateRoute");
            // The route table, the NAT gateway and every group id; the huge description is no id.
            assert_eq!(resources.len(), 3002, "{:?}", &resources[..5]);
            assert!(resources.contains(&"rtb-0a1b2c3d4e5f63001".to_string()));
            assert!(resources.contains(&format!("sg-{:017x}", 2999)));
        }
        other => panic!("{other:.200?}"),
    }
}

// ------------------------------------------------------------------------------------------
// Through the real handler, against the emulator

/// The handler's dependencies in a fresh emulator account: an SNS topic and the state table.
async fn deps(account: &Account) -> Deps {
    let sns = aws_sdk_sns::Client::new(&account.config);
    let topic_arn = sns
        .create_topic()
        .name("esm-guard-alerts")
        .send()
        .await
        .expect("CreateTopic")
        .topic_arn()
        .expect("topic arn")
        .to_string();
    create_state_table(account).await;
    let config = default_config(topic_arn);
    let mut deps = Deps::new(&account.config, config);
    deps.options = Options {
        claim_secs: 180,
        race_reads: 2,
        race_pause: std::time::Duration::from_millis(50),
    };
    deps
}

/// A provisioned MSK mapping whose cluster group does not admit the broker port (it fails
/// `broker-ingress`), so an audit of it is visible: it alerts.
async fn broken_mapping(account: &Account) -> String {
    let b = Builder::new(account);
    let vpc = b.vpc("10.40.0.0/16").await;
    let a = b.private_subnet(&vpc, "10.40.0.0/24", "us-east-1a").await;
    let c = b.private_subnet(&vpc, "10.40.1.0/24", "us-east-1b").await;
    let sg = b.security_group(&vpc, "orders-msk-brokers").await;
    let cluster = b
        .msk_cluster("orders-msk", &[a, c], std::slice::from_ref(&sg), Auth::Iam)
        .await;
    let function = b.function("orders-consumer").await;
    b.msk_mapping(&function, &cluster, true, None).await
}

fn corpus_event(file: &str) -> Value {
    serde_json::from_slice(&read(file)).unwrap_or_else(|e| panic!("{file}: {e}"))
}

/// Runs the real entry point with a panic caught and named.
async fn invoke_no_panic(deps: &Deps, file: &str, event: Value) -> Result<Outcome, HandlerError> {
    use unwind::CatchUnwind;
    CatchUnwind(Box::pin(invoke(deps, event)))
        .await
        .unwrap_or_else(|_| panic!("{file}: the handler panicked"))
}

/// `catch_unwind` for a future, without a new dependency.
mod unwind {
    use std::future::Future;
    use std::panic::{catch_unwind, AssertUnwindSafe};
    use std::pin::Pin;
    use std::task::{Context, Poll};

    pub struct CatchUnwind<F>(pub Pin<Box<F>>);

    impl<F: Future> Future for CatchUnwind<F> {
        type Output = std::thread::Result<F::Output>;
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
            let inner = self.0.as_mut();
            match catch_unwind(AssertUnwindSafe(|| inner.poll(cx))) {
                Ok(Poll::Pending) => Poll::Pending,
                Ok(Poll::Ready(v)) => Poll::Ready(Ok(v)),
                Err(panic) => Poll::Ready(Err(panic)),
            }
        }
    }
}

#[tokio::test]
async fn bad_events_through_the_handler_are_ignored_or_name_the_field() {
    let account = account().await;
    let deps = deps(&account).await;
    let rows = table();
    let expected = |file: &str| {
        rows.iter()
            .find(|r| r.file == file)
            .unwrap_or_else(|| panic!("{file} is not in the table"))
            .expected
            .clone()
    };

    // Ignored: no AWS call at all, and the reason is the classifier's.
    for file in [
        "ec2-create-route-unauthorized.json",
        "error-code-is-a-number.json",
        "unknown-source.json",
        "lambda-unknown-event-name.json",
        "huge-event-name.json",
        "event-name-with-newline.json",
        "lambda-create-mapping-sqs.json",
        "detail-type-zero-width-space.json",
    ] {
        account.clear_requests();
        let outcome = invoke_no_panic(&deps, file, corpus_event(file))
            .await
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let Expected::Ignored(part) = expected(file) else {
            panic!("{file} is not an ignored row")
        };
        assert_eq!(
            (
                outcome.trigger.as_str(),
                outcome.api_calls,
                outcome.alerts.len()
            ),
            ("ignored", 0, 0),
            "{file}: {outcome:?}"
        );
        assert!(outcome.detail.contains(&part), "{file}: {}", outcome.detail);
        assert_eq!(account.requests(), Vec::<String>::new(), "{file}");
    }

    // Malformed: a `MalformedEvent` error naming the field, before any AWS call.
    for file in [
        "missing-detail.json",
        "null-detail-event-name.json",
        "detail-is-a-number.json",
        "event-name-is-an-array.json",
        "create-mapping-null-response-elements.json",
        "delete-uuid-is-an-object.json",
        "not-an-object-array.json",
        "empty-object.json",
        "uuid-injection-characters.json",
        "uuid-control-characters.json",
        "huge-uuid.json",
    ] {
        account.clear_requests();
        let error = invoke_no_panic(&deps, file, corpus_event(file))
            .await
            .expect_err(file);
        let Expected::Error(want) = expected(file) else {
            panic!("{file} is not an error row")
        };
        match &error {
            HandlerError::Event(got) => assert_eq!(got, &want, "{file}"),
            other => panic!("{file}: {other}"),
        }
        let diagnostic = lambda_runtime::Diagnostic::from(error);
        assert_eq!(diagnostic.error_type, "MalformedEvent", "{file}");
        assert!(
            diagnostic.error_message.starts_with("malformed event: ")
                && diagnostic.error_message.contains(&want.to_string()),
            "{file}: {}",
            diagnostic.error_message
        );
        assert_eq!(account.requests(), Vec::<String>::new(), "{file}");
    }

    // Handled shapes with hostile values: no panic, no alert, nothing stored.
    for file in [
        "deeply-nested-request-parameters.json",
        "huge-resource-ids.json",
        "unicode-resource-ids.json",
        "resources-is-a-string.json",
    ] {
        let outcome = invoke_no_panic(&deps, file, corpus_event(file))
            .await
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            (
                outcome.trigger.as_str(),
                outcome.mappings_audited,
                outcome.alerts.len()
            ),
            ("network", 0, 0),
            "{file}: {outcome:?}"
        );
    }
    let scan = aws_sdk_dynamodb::Client::new(&account.config)
        .scan()
        .table_name(TABLE)
        .send()
        .await
        .expect("Scan");
    assert_eq!(scan.count(), 0, "{:?}", scan.items());

    // 256 KB, through the handler: a network event whose ids name nothing here. The 3,000
    // group ids go out 200 to a call (EC2's filter limit), the route table and the NAT
    // gateway one call each; no VPC is found, so the handler falls back to every mapping of
    // the region (one list call; this account has none).
    account.clear_requests();
    let outcome = invoke_no_panic(&deps, "256 KB event", big_event(3000))
        .await
        .expect("256 KB event");
    assert_eq!(
        (outcome.trigger.as_str(), outcome.mappings_audited),
        ("network", 0)
    );
    let mut calls: std::collections::BTreeMap<String, usize> = Default::default();
    for r in account.requests() {
        *calls.entry(r).or_default() += 1;
    }
    assert_eq!(
        calls,
        [
            ("ec2:DescribeNatGateways".to_string(), 1),
            ("ec2:DescribeRouteTables".to_string(), 1),
            ("ec2:DescribeSecurityGroups".to_string(), 15),
            ("lambda:ListEventSourceMappings".to_string(), 1),
        ]
        .into_iter()
        .collect()
    );
}

/// Events from another region or account than the function's, or with a `source` that is
/// not the service CloudTrail names, are classified like any other by the pure `classify`,
/// then ignored by the handler with no AWS call (`event::foreign`); the same events from
/// the function's own region and account are acted on (the control).
#[tokio::test]
async fn foreign_events_are_ignored() {
    let account = account().await;
    let mut deps = deps(&account).await;
    // The corpus's home: us-east-1 (the emulator's region) and account 123456789012.
    deps.account = std::sync::OnceLock::from("123456789012".to_string());
    broken_mapping(&account).await;
    for (file, why) in [
        ("other-region-create-mapping.json", "eu-west-1"),
        ("other-region-network-event.json", "eu-west-1"),
        ("other-account-network-event.json", "210987654321"),
        ("other-account-delete-mapping.json", "210987654321"),
        ("other-region-scheduled-sweep.json", "ap-southeast-2"),
        ("spoofed-source-cloudtrail.json", "com.example.spoof"),
    ] {
        account.clear_requests();
        let outcome = invoke_no_panic(&deps, file, corpus_event(file))
            .await
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            (outcome.trigger.as_str(), outcome.api_calls),
            ("ignored", 0),
            "{file}: {outcome:?}"
        );
        assert!(outcome.detail.contains(why), "{file}: {}", outcome.detail);
        assert_eq!(account.requests(), Vec::<String>::new(), "{file}");
    }
    // Control: the home event the foreign one was made from is audited, and alerts on the
    // broken mapping; so the check above is not ignoring everything.
    let home = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("events/handled/ec2-authorize-security-group-ingress.json");
    let home: Value = serde_json::from_str(&std::fs::read_to_string(home).unwrap()).unwrap();
    let outcome = invoke_no_panic(&deps, "home event", home)
        .await
        .expect("home event");
    assert_eq!(
        (
            outcome.trigger.as_str(),
            outcome.mappings_audited,
            outcome.alerts.len()
        ),
        ("network", 1, 1),
        "{outcome:?}"
    );
}

// ------------------------------------------------------------------------------------------
// Broken snapshot files, given to the real binary

/// Runs `esm-guard audit --snapshot FILE` with no AWS configuration at all.
fn audit_snapshot(path: &Path, json: bool) -> (Option<i32>, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_esm-guard"));
    command.arg("audit").arg("--snapshot").arg(path);
    if json {
        command.args(["--output", "json"]);
    }
    for (k, _) in std::env::vars() {
        if k.starts_with("AWS_") || k.starts_with("ESM_GUARD_") {
            command.env_remove(k);
        }
    }
    let out = command
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", "/dev/null")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
        .env("NO_COLOR", "1")
        .output()
        .expect("run esm-guard");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn fixture() -> String {
    std::fs::read_to_string(
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/healthy-on-demand.json"),
    )
    .expect("fixture")
}

/// Replaces the first occurrence of `from` (which must be there) in the fixture.
fn edited(from: &str, to: &str) -> String {
    let text = fixture();
    assert!(text.contains(from), "the fixture has no {from:?}");
    text.replacen(from, to, 1)
}

#[test]
fn broken_snapshots_exit_2_naming_the_file() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = fixture();
    // Control: the intact fixture is judged (exit 0 or 1), so the harness itself works.
    let intact = dir.path().join("intact.json");
    std::fs::write(&intact, &good).unwrap();
    let (code, stdout, stderr) = audit_snapshot(&intact, true);
    assert!(matches!(code, Some(0 | 1)), "{code:?} {stderr}");
    assert!(stdout.contains("esm-guard/report/v1"), "{stdout}");

    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "truncated-half.json",
            good.as_bytes()[..good.len() / 2].to_vec(),
            "EOF while parsing",
        ),
        (
            "truncated-last-brace.json",
            good.trim_end().trim_end_matches('}').as_bytes().to_vec(),
            "EOF while parsing",
        ),
        ("empty.json", vec![], "EOF while parsing"),
        (
            "not-json.json",
            b"esm-guard snapshot\n".to_vec(),
            "expected value",
        ),
        // serde reads a struct from a sequence too: `[]` is an empty snapshot, with no schema.
        ("array.json", b"[]".to_vec(), "has schema \"\""),
        (
            "wrong-schema.json",
            edited("esm-guard/snapshot/v1", "esm-guard/snapshot/v2").into_bytes(),
            "has schema \"esm-guard/snapshot/v2\"",
        ),
        (
            "a-report.json",
            br#"{"schema": "esm-guard/report/v1", "mappings": []}"#.to_vec(),
            "has schema \"esm-guard/report/v1\"",
        ),
        ("no-schema.json", b"{}".to_vec(), "has schema \"\""),
        (
            "mappings-is-a-string.json",
            br#"{"schema": "esm-guard/snapshot/v1", "mappings": "none"}"#.to_vec(),
            "invalid type: string \"none\", expected a sequence",
        ),
        (
            "topics-is-a-number.json",
            edited(
                "\"topics\": [\n        \"orders\"\n      ]",
                "\"topics\": 7",
            )
            .into_bytes(),
            "invalid type: integer `7`",
        ),
        (
            "unknown-source-kind.json",
            edited("\"kind\": \"msk\"", "\"kind\": \"kinesis\"").into_bytes(),
            "unknown variant `kinesis`",
        ),
        (
            "bad-cidr.json",
            edited("\"cidr\": \"10.0.0.0/24\"", "\"cidr\": \"10.0.0.0/99\"").into_bytes(),
            "invalid IP address syntax",
        ),
        (
            "invalid-utf8.json",
            {
                let mut bytes = good.as_bytes().to_vec();
                bytes.splice(10..10, [0xff, 0xfe]);
                bytes
            },
            "stream did not contain valid UTF-8",
        ),
    ];
    let mut failures = Vec::new();
    for (name, bytes, want) in &cases {
        let path = dir.path().join(name);
        std::fs::write(&path, bytes).unwrap();
        for json in [false, true] {
            let (code, stdout, stderr) = audit_snapshot(&path, json);
            let shown = path.display().to_string();
            if code != Some(2)
                || !stderr.contains("esm-guard: error: ")
                || !stderr.contains(&shown)
                || !stderr.contains(want)
                || !stdout.is_empty()
            {
                failures.push(format!(
                    "{name} (json {json}): exit {code:?}, stdout {stdout:.80?}, stderr {stderr:?}; wanted exit 2 and {want:?} and the path"
                ));
            } else if json {
                println!("{name:28} {}", stderr.trim());
            }
        }
    }
    // A path that is not there, and one that is a directory.
    for (path, want) in [
        (dir.path().join("no-such-file.json"), "cannot be read"),
        (dir.path().to_path_buf(), "is not a regular file"),
    ] {
        let (code, _, stderr) = audit_snapshot(&path, false);
        if code != Some(2)
            || !stderr.contains(&path.display().to_string())
            || !stderr.contains(want)
        {
            failures.push(format!(
                "{}: exit {code:?}, stderr {stderr:?}",
                path.display()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Snapshot files that would block or never end, and a symlink planted where a careless
/// writer puts its temporary file.
#[test]
fn snapshot_files_are_bounded_and_never_block() {
    let dir = tempfile::tempdir().unwrap();
    // /dev/zero never ends; a FIFO without writer blocks an open or a read forever.
    let fifo = dir.path().join("fifo.json");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(status.success());
    for (path, want) in [
        (
            Path::new("/dev/zero").to_path_buf(),
            "is not a regular file",
        ),
        (fifo, "is not a regular file"),
    ] {
        let started = std::time::Instant::now();
        let (code, _, stderr) = audit_snapshot(&path, false);
        assert_eq!(code, Some(2), "{}: {stderr}", path.display());
        assert!(stderr.contains(want), "{stderr}");
        assert!(started.elapsed() < std::time::Duration::from_secs(10));
    }
    // Larger than the bound: refused before it is read.
    let big = dir.path().join("big.json");
    std::fs::write(&big, fixture()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_esm-guard"))
        .args(["audit", "--max-snapshot-bytes", "100", "--snapshot"])
        .arg(&big)
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--max-snapshot-bytes 100"), "{stderr}");
}

/// AWS text never reaches the terminal raw: control characters (escape sequences, line
/// breaks that forge report lines) and bidi overrides are shown escaped.
#[test]
fn the_text_report_escapes_control_and_bidi_characters() {
    let dir = tempfile::tempdir().unwrap();
    let mut snapshot: serde_json::Value = serde_json::from_str(&fixture()).unwrap();
    let hostile = "evil\u{1b}[2J\nPASS    forged line\u{202e}kcab";
    snapshot["mappings"][0]["function_arn"] = serde_json::json!(format!(
        "arn:aws:lambda:us-east-1:123456789012:function:{hostile}"
    ));
    snapshot["mappings"][0]["last_processing_result"] =
        serde_json::json!(format!("PROBLEM: {hostile}"));
    let path = dir.path().join("hostile.json");
    std::fs::write(&path, snapshot.to_string()).unwrap();
    let (_, stdout, _) = audit_snapshot(&path, false);
    assert!(!stdout.contains('\u{1b}'), "{stdout:?}");
    assert!(!stdout.contains('\u{202e}'), "{stdout:?}");
    assert!(!stdout.contains("\nPASS    forged line"), "{stdout:?}");
    assert!(stdout.contains("\\u{1b}[2J\\u{a}PASS"), "{stdout}");
}

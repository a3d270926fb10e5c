//! esm-guard: keeps Lambda's Kafka event source mappings connected.
//!
//! The core (`model`, `rules`, `policy`, `plan`, `report`, `alert`) is pure: a snapshot in, a report
//! and a plan out. The edges (`aws`) read and write AWS.

// Data from AWS and from events is never trusted to be well-formed: outside tests, no
// `unwrap`/`expect` (enforced by `cargo clippy --all-targets -- -D warnings`).
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod alert;
pub mod audit;
pub mod aws;
pub mod cli;
pub mod escape;
pub mod fleet;
pub mod index;
pub mod lambda;
pub mod model;
pub mod plan;
pub mod policy;
pub mod remediation;
pub mod report;
pub mod rules;
// A builder of sample accounts for tests, benchmarks and examples (feature `sample`, not in
// the shipped library): its `expect`s check the builder's own invariants (a subnet it
// created has a route table), never data from AWS.
#[cfg(any(test, feature = "sample"))]
#[allow(clippy::unwrap_used, clippy::expect_used)]
pub mod sample;

pub use model::Snapshot;
pub use rules::{evaluate, Finding, Report, RuleId, Severity, Verdict};

//! esm-guard: keeps Lambda's Kafka event source mappings connected.
//!
//! The core (`model`, `rules`, `policy`, `plan`, `report`) is pure: a snapshot in, a report
//! and a plan out. The edges (`aws`) read and write AWS.

pub mod aws;
pub mod cli;
pub mod index;
pub mod lambda;
pub mod model;
pub mod plan;
pub mod policy;
pub mod remediation;
pub mod report;
pub mod rules;
pub mod sample;

pub use model::Snapshot;
pub use rules::{evaluate, Finding, Report, RuleId, Severity, Verdict};

//! The Lambda function: EventBridge events in, re-audits, alerts through SNS without noise.
//!
//! `event`, `config`, `alert` and `metrics` are pure; `handler` wires them to the edges in
//! `aws` (collect, locate, state, alert).

pub mod alert;
pub mod config;
pub mod event;
pub mod handler;
pub mod metrics;

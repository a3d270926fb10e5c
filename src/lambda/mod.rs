//! The Lambda function: EventBridge events in, re-audits, alerts through SNS without noise.
//!
//! `event`, `config` and `metrics` are pure, like the alerts they drive (`crate::alert`);
//! `handler` wires them to the edges in `aws` (collect, locate, state, alert).

pub mod config;
mod deps;
pub mod event;
pub mod handler;
pub mod hub;
pub mod metrics;
mod outcome;
mod settle;

//! The rule engine: every rule of RULES.md, the guide's four cases, the semantics the rules
//! rest on, the planner, convergence of the plan over generated accounts, and saved
//! snapshots pinned as JSON reports. Pure: no test here reaches the network.

mod bounded;
mod convergence;
mod fixtures;
mod guide_cases;
mod helpers;
mod monotonic;
mod mq_docdb;
mod partitions;
mod paths;
mod plan;
mod rules;
mod semantics;
mod vpc_connections;

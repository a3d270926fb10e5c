//! The one integration-test binary (every file directly under tests/ would link the AWS SDK
//! again): modules by subject.

mod architecture;
mod bad_input;
mod collect;
mod engine;
mod faults;
mod hub;
mod iam;
mod lambda;
mod mocked;
mod mq_docdb;
mod remediate;
mod support;
mod triggers;
mod wait_confirm;
mod wire_matrix;

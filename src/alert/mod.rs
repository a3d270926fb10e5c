//! Per mapping: whether to alert, and what the alert says. Pure: the previous stored state,
//! the mapping's report and `now` in; a decision, the next state and the message out. The
//! message is an AWS Chatbot custom notification (Slack) and a plain-text e-mail, published
//! together with `MessageStructure=json`. The AWS edge (`aws::alert`, `aws::state`) only
//! publishes and stores.

pub mod compose;
pub mod confirm;
pub mod decide;
mod email;
mod facts;
mod slack;
#[cfg(test)]
mod tests;
mod text;
pub mod unreachable;

pub use compose::{compose, Attribute, Message, SNS_MAX_BYTES};
pub use decide::{
    decide, decide_deleted, expires_at, fingerprint, next_state, problem, AlertKind, AlertState,
    Problem,
};
pub use facts::AlertContext;
pub use text::{code, md, plain};

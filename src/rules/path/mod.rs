//! The path model: the boundaries a flow crosses, judged one leg at a time. Addresses
//! (which peers a range matches), network ACLs (stateless, ordered) and security groups
//! (stateful, allow-only); the rule families build their flows from these.

pub mod acl;
pub mod addresses;
pub mod sg;

pub use acl::{AclOutcome, DEFAULT_RULE, EPHEMERAL};
pub use addresses::{Match, Peer};
pub use sg::{Missing, SgOutcome, SgPeer};

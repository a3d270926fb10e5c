//! Test support: the emulator (moto on loopback), the fault-injecting proxy in front of it,
//! a builder of accounts in it, and the IAM check of what an account's requests needed.

pub mod account;
pub mod emulator;
pub mod function;
pub mod iam;
pub mod proxy;
pub mod sources;

//! Test support: the emulator (moto on loopback), the fault-injecting proxy in front of it,
//! and a builder of accounts in it.

pub mod account;
pub mod emulator;
pub mod function;
pub mod proxy;

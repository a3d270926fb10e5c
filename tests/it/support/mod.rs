//! Test support: the emulator (moto on loopback) and a builder of accounts in it.

pub mod account;
pub mod emulator;

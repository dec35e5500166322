//! The integration tests: one binary, one module per area, each test a real dashboard on a
//! free loopback port with the built-in simulator (`common`), which the benches share.
//!
//! Tests that need a process to themselves (the metrics recorder, a crash and restart) spawn
//! the server binary; tests that change process-wide state take the lock of their module.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on a broken assumption"
)]

mod common;

mod access;
mod audit_attempts;
mod bad_input;
mod consent;
mod coverage;
mod customers;
mod faults;
mod gdap;
mod jobs;
mod leases;
mod observability;
mod render_stall;
mod reports;
mod restart;
mod reviews;
mod roles;
mod scale_out;
mod security_headers;
mod sign_in;
mod storage;
mod token_broker;
mod upstream;

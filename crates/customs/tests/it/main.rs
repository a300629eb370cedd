//! Tests of the `customs` binary as a user runs it: one integration-test binary, one module per
//! concern.

mod architecture;
mod backup;
mod bus;
mod calendar;
mod cli;
mod configuration;
mod continuity;
mod crash;
mod credit;
mod estimate;
mod failover;
mod identity;
mod instances;
mod integrity;
mod models;
mod passwords;
mod postgres;
mod releases;
mod rules;
mod settlement;
mod support;
mod tamper;
mod tasks;
mod upgrade;
mod worker;

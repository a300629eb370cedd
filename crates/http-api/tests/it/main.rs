//! The HTTP API end to end: one test binary, a fresh app and store per test.

mod access;
mod assessment;
mod browser;
mod console;
mod console_admin;
mod console_analyst;
mod console_dashboards;
mod console_form;
mod console_officer;
mod description;
mod exhaustion;
mod helpers;
mod integrity;
mod lifecycle;
mod limits;
mod listing;
mod lodging;
mod models;
mod monitoring;
mod officer_work;
mod operations;
mod receipts;
mod reference;
mod targeting;
mod tokens;
mod two_step;

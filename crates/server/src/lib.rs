//! recoupd: the recoup gRPC service. `server::start` assembles it; `cli` is the command line.

pub mod assess;
pub mod auth;
pub mod browser;
pub mod cli;
pub mod clock;
pub mod commands;
pub mod config;
pub mod connections;
pub mod convert;
pub mod demo;
pub mod evidence;
pub mod ledger;
pub mod metrics;
pub mod names;
pub mod paging;
pub mod plan_tracking;
pub mod policy_file;
pub mod promises;
pub mod rates;
pub mod report;
pub mod server;
pub mod services;
pub mod status;
pub mod telemetry;
pub mod webhooks;
pub mod worklist;

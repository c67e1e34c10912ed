//! devplane: the control plane for per-project AI dev containers.
//!
//! Layers, top to bottom (see DESIGN.md):
//! - [`http`]: REST routes, health, OpenAPI; thin handlers.
//! - [`service`]: every rule (lifecycle, quotas, exec, files, auth); no HTTP types.
//! - [`store`]: every SQL statement; [`orchestrator`]: where containers run (Coolify or a
//!   plain Docker host); [`runner`]: how we reach that host's Docker engine (locally or over
//!   multiplexed SSH).
#![forbid(unsafe_code)]

pub mod app;
pub mod compose;
pub mod config;
pub mod coolify;
pub mod domain;
pub mod error;
pub mod http;
pub mod ids;
pub mod orchestrator;
pub mod runner;
pub mod service;
pub mod store;
pub mod telemetry;

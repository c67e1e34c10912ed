//! devplane's integration tests: one binary, real parts (Postgres, sshd, Docker, git), and a
//! fake Coolify faithful to Coolify's OpenAPI document. `scripts/test.sh` prepares the parts.

mod support;

mod auth;
mod config;
mod coolify_client;
mod coolify_faults;
mod exec;
mod files;
mod health;
mod lifecycle;
mod migrations;
mod projects;
mod smoke;

//! Every SQL statement of the service, one module per table. Functions take any executor, so
//! the service layer decides what runs inside one transaction.

pub mod dev_containers;
pub mod locks;
pub mod projects;
pub mod tokens;

use sqlx::{PgPool, migrate::Migrator, postgres::PgPoolOptions};
use std::time::Duration;

/// The migrations in `migrations/`, embedded at build time.
pub static MIGRATOR: Migrator = sqlx::migrate!();

/// Opens a pool. Connections are made on first use, so the process starts (and `/healthz`
/// answers) while the database is still coming up; `/readyz` tells the difference.
pub fn pool(url: &str, max_connections: u32, acquire_timeout: Duration) -> sqlx::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(max_connections)
        .acquire_timeout(acquire_timeout)
        .connect_lazy(url)
}

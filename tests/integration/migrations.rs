//! Migrations: on an empty database, and on one the TypeScript module already used.

use devplane::store::MIGRATOR;
use sqlx::Row;

use crate::support::db::TestDb;

async fn columns(pool: &sqlx::PgPool, table: &str) -> Vec<String> {
    sqlx::query_scalar("SELECT column_name::text FROM information_schema.columns WHERE table_name = $1 ORDER BY column_name")
        .bind(table)
        .fetch_all(pool)
        .await
        .expect("columns")
}

#[tokio::test]
async fn migrations_build_every_table_on_an_empty_database_and_rerun_as_a_no_op() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    MIGRATOR.run(&pool).await.expect("first run");
    MIGRATOR.run(&pool).await.expect("second run is a no-op");

    for table in [
        "fs_project_dev_containers",
        "fs_dev_servers",
        "fs_dev_autosaves",
        "devplane_projects",
        "devplane_workspace_tokens",
    ] {
        assert!(!columns(&pool, table).await.is_empty(), "{table} missing");
    }
    let dev_columns = columns(&pool, "fs_project_dev_containers").await;
    for column in [
        "project_id",
        "workspace",
        "service_uuid",
        "image",
        "state",
        "last_active_at",
        "suspended_at",
        "created_at",
        "intent_id",
        "preview_tokens",
    ] {
        assert!(
            dev_columns.contains(&column.to_owned()),
            "{column} missing: {dev_columns:?}"
        );
    }
}

/// The seed's DDL, verbatim (lib/dev-container.ts).
const SEED_DDL: &str = r#"
CREATE TABLE IF NOT EXISTS fs_project_dev_containers (
project_id TEXT PRIMARY KEY,
workspace TEXT NOT NULL,
service_uuid TEXT NOT NULL,
image TEXT NOT NULL,
state TEXT NOT NULL DEFAULT 'provisioning',
last_active_at TIMESTAMPTZ NOT NULL DEFAULT now(),
suspended_at TIMESTAMPTZ,
created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS fs_project_dev_containers_ws_idx
ON fs_project_dev_containers (workspace);
CREATE INDEX IF NOT EXISTS fs_project_dev_containers_active_idx
ON fs_project_dev_containers (last_active_at);
CREATE TABLE IF NOT EXISTS fs_dev_servers (
id TEXT PRIMARY KEY,
project_id TEXT NOT NULL REFERENCES fs_project_dev_containers(project_id) ON DELETE CASCADE,
workspace TEXT NOT NULL,
name TEXT NOT NULL,
command TEXT NOT NULL,
port INTEGER NOT NULL,
pid INTEGER,
preview_url TEXT NOT NULL,
state TEXT NOT NULL DEFAULT 'starting',
started_at TIMESTAMPTZ NOT NULL DEFAULT now(),
stopped_at TIMESTAMPTZ
);
CREATE INDEX IF NOT EXISTS fs_dev_servers_project_idx ON fs_dev_servers (project_id, state);
CREATE TABLE IF NOT EXISTS fs_dev_autosaves (
id BIGSERIAL PRIMARY KEY,
project_id TEXT NOT NULL,
workspace TEXT NOT NULL,
repo TEXT NOT NULL,
output TEXT,
code INTEGER,
pushed_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS fs_dev_autosaves_project_idx ON fs_dev_autosaves (project_id, pushed_at DESC);
"#;

#[tokio::test]
async fn migrations_adopt_a_database_the_seed_created_and_keep_its_rows() {
    let db = TestDb::create().await;
    let pool = db.pool().await;
    sqlx::raw_sql(SEED_DDL)
        .execute(&pool)
        .await
        .expect("seed DDL");
    sqlx::raw_sql(
        "INSERT INTO fs_project_dev_containers (project_id, workspace, service_uuid, image, state) \
           VALUES ('proj-a', 'ws-a', 'svcuuid0000000000000000a', 'vibn-dev:latest', 'running'), \
                  ('proj-b', 'ws-a', 'svcuuid0000000000000000b', 'vibn-dev:old', 'suspended'); \
         INSERT INTO fs_dev_servers (id, project_id, workspace, name, command, port, pid, preview_url, state) \
           VALUES ('ds_1', 'proj-a', 'ws-a', 'web', 'npm run dev', 3000, 42, 'https://preview-0-a.example', 'running'); \
         INSERT INTO fs_dev_autosaves (project_id, workspace, repo, output, code) \
           VALUES ('proj-a', 'ws-a', 'a', 'pushed', 0);",
    )
    .execute(&pool)
    .await
    .expect("seed rows");

    MIGRATOR
        .run(&pool)
        .await
        .expect("migrations on the seed's database");

    let rows = sqlx::query("SELECT project_id, workspace, service_uuid, image, state FROM fs_project_dev_containers ORDER BY project_id")
        .fetch_all(&pool)
        .await
        .expect("rows");
    let seen: Vec<(String, String, String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r.get(0),
                r.get(1),
                r.get::<Option<String>, _>(2).unwrap_or_default(),
                r.get(3),
                r.get(4),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                "proj-a".into(),
                "ws-a".into(),
                "svcuuid0000000000000000a".into(),
                "vibn-dev:latest".into(),
                "running".into()
            ),
            (
                "proj-b".into(),
                "ws-a".into(),
                "svcuuid0000000000000000b".into(),
                "vibn-dev:old".into(),
                "suspended".into()
            ),
        ]
    );
    let server: (String, i32, String) = sqlx::query_as("SELECT id, pid, state FROM fs_dev_servers")
        .fetch_one(&pool)
        .await
        .expect("dev server row");
    assert_eq!(server, ("ds_1".into(), 42, "running".into()));
    let autosaves: i64 = sqlx::query_scalar("SELECT count(*) FROM fs_dev_autosaves")
        .fetch_one(&pool)
        .await
        .expect("count");
    assert_eq!(autosaves, 1);
    // The seed's rows carry no intent: they are not this deployment's to reconcile.
    let intents: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM fs_project_dev_containers WHERE intent_id IS NOT NULL",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(intents, 0);
}

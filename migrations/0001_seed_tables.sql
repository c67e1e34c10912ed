-- The three tables of the TypeScript module this service replaces, exactly as it created them
-- (lib/dev-container.ts: ensureDevContainersTable, ensureDevServersTable, ensureAutosavesTable).
-- Every statement is IF NOT EXISTS, so on a database that module already used this migration
-- changes nothing and every row is kept. Later migrations add columns; none rewrites these.

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

-- The project registry and workspace tokens. Names carry a `devplane_` prefix so they can never
-- collide with the frontend's own `fs_projects`.

-- A project id belongs to exactly one workspace, fixed at first registration: `workspace` is
-- never updated. Archiving frees the project's place in the workspace quota.
CREATE TABLE devplane_projects (
  project_id TEXT PRIMARY KEY,
  workspace TEXT NOT NULL,
  slug TEXT NOT NULL,
  name TEXT NOT NULL,
  -- The Coolify project that holds this project's services (coolify orchestrator only).
  coolify_project_uuid TEXT,
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  archived_at TIMESTAMPTZ
);
CREATE INDEX devplane_projects_workspace_idx ON devplane_projects (workspace) WHERE archived_at IS NULL;
-- The slug names Docker networks and Traefik routers on a shared host: unique among live projects.
CREATE UNIQUE INDEX devplane_projects_slug_key ON devplane_projects (slug) WHERE archived_at IS NULL;

-- Workspace-scoped bearer tokens. Only a SHA-256 of the token is stored; the token itself is
-- shown once, when it is created.
CREATE TABLE devplane_workspace_tokens (
  id UUID PRIMARY KEY,
  workspace TEXT NOT NULL,
  token_hash BYTEA NOT NULL UNIQUE,
  label TEXT NOT NULL DEFAULT '',
  created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
  revoked_at TIMESTAMPTZ
);
CREATE INDEX devplane_workspace_tokens_workspace_idx ON devplane_workspace_tokens (workspace);

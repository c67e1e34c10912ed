-- Crash-safe provisioning and persistent preview tokens for fs_project_dev_containers.
--
-- A row is now written BEFORE the orchestrator is asked to create a service (an "intent"):
-- `intent_id` marks the service upstream, and `service_uuid` stays NULL until the service is
-- known. A crash between the two leaves a pending row that reconciliation resolves by finding
-- the service through its intent (adopt) or giving the row up; nothing is created unrecorded.
ALTER TABLE fs_project_dev_containers ALTER COLUMN service_uuid DROP NOT NULL;
ALTER TABLE fs_project_dev_containers
  ADD COLUMN intent_id TEXT,
  -- When the last create request for this intent was sent: until it may no longer be running
  -- upstream, a retry looks for its result instead of creating a second service.
  ADD COLUMN intent_attempted_at TIMESTAMPTZ,
  ADD COLUMN orchestrator TEXT,
  -- One random token per preview slot (CSPRNG), so URLs survive restarts and one leaked URL
  -- reveals nothing about the others.
  ADD COLUMN preview_tokens TEXT[],
  -- The compose file as rendered at creation; the docker orchestrator starts from it.
  ADD COLUMN compose TEXT,
  ADD COLUMN updated_at TIMESTAMPTZ NOT NULL DEFAULT now();
CREATE UNIQUE INDEX fs_project_dev_containers_intent_key
  ON fs_project_dev_containers (intent_id) WHERE intent_id IS NOT NULL;
CREATE INDEX fs_project_dev_containers_pending_idx
  ON fs_project_dev_containers (project_id) WHERE service_uuid IS NULL;

#!/usr/bin/env bash
# Runs devplane on this machine for a newcomer: Postgres and the vibn-dev image from
# scripts/test-env.sh, the `docker` orchestrator on the local engine (no Coolify needed), and a
# development operator token. Listens on 127.0.0.1:8080.
#
#   scripts/run-local.sh
#   VIBN_OPERATOR_TOKENS=my-own-long-token scripts/run-local.sh
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/test-env.sh up
# shellcheck disable=SC1090,SC1091
source "${DEVPLANE_TEST_STATE:-$PWD/.test-env}/env"

# A database of its own on the test server, kept between runs.
admin_url=$DEVPLANE_TEST_DATABASE_URL
if ! psql "$admin_url" -tAc "SELECT 1 FROM pg_database WHERE datname = 'devplane_dev'" | grep -q 1; then
    psql "$admin_url" -qc 'CREATE DATABASE devplane_dev'
fi

export DATABASE_URL=${admin_url%/*}/devplane_dev
export VIBN_ORCHESTRATOR=docker
export VIBN_RUNNER=local
export VIBN_DEPLOYMENT_ID=${VIBN_DEPLOYMENT_ID:-local}
export VIBN_OPERATOR_TOKENS=${VIBN_OPERATOR_TOKENS:-dev-operator-token-change-me}
exec cargo run --locked --quiet -- serve

#!/usr/bin/env bash
# The whole test suite, from a fresh machine: prepare the real parts the tests use (Postgres,
# sshd, the vibn-dev image; see scripts/test-env.sh), then run every test.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh lifecycle       # extra arguments go to `cargo test` (a name filter here)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Tests label what they create in Docker: the fake Coolify's instance, or a test deployment id
# (t + 10 characters; bench...). Each test removes its own; this also catches what a job still
# running when its test ended created later, before and after the run.
sweep_test_resources() {
    local labels='|{{.Label "devplane.deployment"}}|{{.Label "fake-coolify.instance"}}'
    # shellcheck disable=SC2016 # awk's own $fields
    local ours='$2 ~ /^(t[a-z0-9]{10}|bench[0-9a-f]{10})$/ || $3 != "" {print $1}'
    docker container ls -a --format "{{.ID}}$labels" | awk -F'|' "$ours" | xargs -r docker container rm -f >/dev/null || true
    docker volume ls --format "{{.Name}}$labels" | awk -F'|' "$ours" | xargs -r docker volume rm -f >/dev/null || true
    docker network ls --format "{{.ID}}$labels" | awk -F'|' "$ours" | xargs -r docker network rm >/dev/null || true
}

scripts/test-env.sh up
export DEVPLANE_TEST_ENV_FILE="${DEVPLANE_TEST_STATE:-$PWD/.test-env}/env"
# shellcheck disable=SC1090
source "$DEVPLANE_TEST_ENV_FILE"

sweep_test_resources
trap sweep_test_resources EXIT
# Docker-bound tests mostly wait on the engine, so a few more threads than cores pay off.
# (Benchmarks are not tests: scripts/bench.sh runs them.)
cargo test --locked --lib --bins --tests "$@" -- --test-threads="${DEVPLANE_TEST_THREADS:-4}"

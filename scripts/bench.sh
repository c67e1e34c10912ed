#!/usr/bin/env bash
# Exec latency and throughput benchmark (benches/exec.rs): prepares the test environment, then
# measures API exec against raw `docker exec` and per-call ssh on this machine, and prints the
# figures and their ratios. Takes a few minutes (a release build, then ~1 minute of measuring).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/test-env.sh up
export DEVPLANE_TEST_ENV_FILE="${DEVPLANE_TEST_STATE:-$PWD/.test-env}/env"
cargo bench --locked --bench exec

#!/usr/bin/env bash
# The whole test suite, from a fresh machine: prepare the real parts the tests use (Postgres,
# sshd, the vibn-dev image; see scripts/test-env.sh), then run every test.
#
#   scripts/test.sh                 # everything
#   scripts/test.sh lifecycle       # extra arguments go to `cargo test` (a name filter here)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

scripts/test-env.sh up
export DEVPLANE_TEST_ENV_FILE="${DEVPLANE_TEST_STATE:-$PWD/.test-env}/env"
# shellcheck disable=SC1090
source "$DEVPLANE_TEST_ENV_FILE"

# Docker-bound tests mostly wait on the engine, so a few more threads than cores pay off.
cargo test --locked --all-targets "$@" -- --test-threads="${DEVPLANE_TEST_THREADS:-4}"

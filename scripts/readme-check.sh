#!/usr/bin/env bash
# Checks that the README works as written: starts the service with the README's run command
# (scripts/run-local.sh) and runs the README's curl examples (the block after the
# `<!-- readme-check -->` marker) against it, with curl made to fail on HTTP errors.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

examples=$(awk '/<!-- readme-check -->/ {armed = 1; next}
                armed && /^```sh/ {inside = 1; next}
                inside && /^```/ {exit}
                inside {print}' README.md)
[[ -n $examples ]] || { echo "readme-check: no examples after the marker in README.md" >&2; exit 1; }

log=$(mktemp)
# Its own process group, so that stopping it also stops the service cargo started.
setsid scripts/run-local.sh >"$log" 2>&1 &
service=$!
stop() { kill -TERM -- "-$service" 2>/dev/null || true; wait "$service" 2>/dev/null || true; }
trap stop EXIT

for _ in $(seq 1 600); do
    curl -sf http://127.0.0.1:8080/healthz >/dev/null && break
    kill -0 "$service" 2>/dev/null || { cat "$log" >&2; echo "readme-check: the service did not start" >&2; exit 1; }
    sleep 1
done

echo "readme-check: running the README's examples" >&2
bash -euo pipefail -c "${examples//curl -s /curl -sSf }"
echo >&2
echo "readme-check: the README's examples work as written" >&2

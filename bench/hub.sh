#!/usr/bin/env bash
# The hub's sweep at organization scale (issue 17): starts the emulator, seeds ACCOUNTS member
# accounts of MAPPINGS mappings each (default 100 x 10, one region), fans the hub's sweep out
# and handles each queue message as its own invocation (timed, calls counted), then handles
# one member's message in a fresh process for its peak memory. Release build of the example.
#
#   bench/hub.sh [ACCOUNTS] [MAPPINGS]
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
accounts="${1:-100}"
mappings="${2:-10}"

scripts/setup
cargo build --quiet --profile bench --example hub_sweep
bin="target/release/examples/hub_sweep"

work="$(mktemp -d)"
.venv/bin/python scripts/emulator.py --host 127.0.0.1 --port 0 --no-stdin-watch >"$work/out" 2>"$work/err" &
emulator=$!
trap 'kill "$emulator" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 100); do
    grep -q '^READY ' "$work/out" 2>/dev/null && break
    sleep 0.1
done
url="$(sed -n 's/^READY //p' "$work/out")"
export ESM_GUARD_EMULATOR_URL="$url" AWS_ENDPOINT_URL="$url" AWS_REGION=us-east-1 \
    AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
echo "hub: seeding $accounts accounts x $mappings mappings, then the sweep" >&2
"$bin" seed-and-sweep "$accounts" "$mappings"
echo "hub: one invocation (one member's message) in a fresh process" >&2
"$bin" one 900000000001 "$accounts"

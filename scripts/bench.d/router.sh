#!/usr/bin/env bash
# Router benchmark: classification cost per ticket and one replica's throughput (needs the local
# Postgres and NATS). Prints name=value lines. ROUTER_BENCH_TICKETS=N changes the run size. Smoke: 300
# tickets, debug build.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/bench.sh
smoke ROUTER_BENCH_TICKETS=300
cargo bench -q -p loopdesk-router --bench router "${profile[@]}" 2>/dev/null | grep -E '^[a-z0-9_]+=' || {
    echo "router bench failed; rerun: cargo bench -p loopdesk-router --bench router" >&2
    exit 1
}

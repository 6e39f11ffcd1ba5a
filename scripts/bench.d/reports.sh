#!/usr/bin/env bash
# Api report benchmark: 1,000,000 tickets seeded into a database of its own, then the latency of
# GET /v1/reports/summary (a month grouped by day: p50_ms/p99_ms; other shapes prefixed by name).
# API_BENCH_TICKETS=N and API_BENCH_REQUESTS=N change the run size. Smoke: 500 tickets, 5 requests a
# shape, debug build. Prints name=value lines.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/bench.sh
smoke API_BENCH_TICKETS=500 API_BENCH_REQUESTS=5
cargo bench -q -p loopdesk-api --bench reports "${profile[@]}" 2>/dev/null | grep -E '^[a-z0-9_]+=' || {
    echo "reports bench failed; rerun: cargo bench -p loopdesk-api --bench reports" >&2
    exit 1
}

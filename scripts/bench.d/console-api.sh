#!/usr/bin/env bash
# The api half of the console benchmark: 1,000,000 tickets in a database of its own; p50/p95 of the
# inbox's first page (newest first and by deadline) and of a ticket page (detail + history) over HTTP,
# and the live-update delay p50/p99 with 50 event streams open. CONSOLE_BENCH_TICKETS=N (e.g. 2000 for
# a smoke run), CONSOLE_BENCH_REQUESTS, CONSOLE_BENCH_STREAMS, CONSOLE_BENCH_CHANGES change the size.
# scripts/bench.d/console.sh (the console's) calls this and adds the browser figures.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/bench.sh
# Smoke: 500 tickets, 20 requests, 5 streams, 20 changes, debug build.
smoke CONSOLE_BENCH_TICKETS=500 CONSOLE_BENCH_REQUESTS=20 CONSOLE_BENCH_STREAMS=5 CONSOLE_BENCH_CHANGES=20
cargo bench -q -p loopdesk-api --bench console "${profile[@]}" 2>/dev/null | grep -E '^[a-z0-9_]+=' || {
    echo "console bench failed; rerun: cargo bench -p loopdesk-api --bench console" >&2
    exit 1
}

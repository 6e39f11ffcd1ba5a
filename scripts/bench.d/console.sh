#!/usr/bin/env bash
# Console benchmark (issue 18). The api half, when the api has it: `cargo bench -p loopdesk-api
# --bench console` (first inbox page and a ticket page at 1,000,000 tickets, p95; live-update delay
# p99 with 50 consoles). The browser half: first-load JavaScript gzipped and the time from navigation
# to an interactive inbox in headless chromium (cold cache, p50/p95), against the release build of the
# api and workers. BENCH_SMOKE=1 runs a few opens on the debug build only (what scripts/test does).
# Prints name=value lines.
set -euo pipefail
cd "$(dirname "$0")/../.."
source scripts/lib/services.sh
source scripts/lib/console.sh

if [ -z "${BENCH_SMOKE:-}" ] && [ -f services/api/benches/console.rs ]; then
    cargo bench -q -p loopdesk-api --bench console 2>/dev/null | grep -E '^[a-z0-9_]+=' || {
        echo "console api bench failed; rerun: cargo bench -p loopdesk-api --bench console" >&2
        exit 1
    }
fi

ensure_chromium
build_console >&2
if [ -n "${BENCH_SMOKE:-}" ]; then
    export LOOPDESK_E2E_PROFILE=debug CONSOLE_BENCH_OPENS="${CONSOLE_BENCH_OPENS:-3}" CONSOLE_BENCH_TICKETS="${CONSOLE_BENCH_TICKETS:-20}"
    cargo build -q --workspace --bins
else
    export LOOPDESK_E2E_PROFILE=release
    cargo build -q --release --workspace --bins
fi
(cd services/console && node e2e/bench.mjs)

# The whole pipeline as processes, 1 and 2 replicas per worker, with the raw JetStream/Postgres ceilings
# (BENCH_TICKETS, default 20000; BENCH_REPLICAS=1 for one pass). Smoke: 300 tickets, one replica, the
# debug build of the workers.
set -euo pipefail
source scripts/lib/bench.sh
smoke BENCH_TICKETS=300 BENCH_REPLICAS=1
# The bench runs the worker binaries of its own profile.
if [ -n "${BENCH_SMOKE:-}" ]; then
    cargo build -q --workspace --bins
else
    cargo build -q --release --workspace --bins
fi
cargo bench -q -p loopdesk-system-tests --bench pipeline "${profile[@]}" 2>/dev/null | grep '='

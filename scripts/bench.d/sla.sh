# SLA firing lateness p50/p99 and one replica's memory with 1,000,000 pending timers and 1,000 coming due
# per second for 30 s (BENCH_PENDING, BENCH_RATE, BENCH_SECONDS override). Smoke: 500 pending, 100 due
# per second for 3 s, debug build.
set -euo pipefail
source scripts/lib/bench.sh
smoke BENCH_PENDING=500 BENCH_RATE=100 BENCH_SECONDS=3
cargo bench -q -p loopdesk-sla --bench firing "${profile[@]}" 2>/dev/null | grep '='

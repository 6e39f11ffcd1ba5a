# Intake throughput and publish→ticket.created latency, 1 and 2 replicas (BENCH_SUBMISSIONS, default
# 50000). Smoke: 300 submissions, debug build.
set -euo pipefail
source scripts/lib/bench.sh
smoke BENCH_SUBMISSIONS=300
cargo bench -q -p loopdesk-intake --bench intake "${profile[@]}" 2>/dev/null | grep '='

# The public web form under 1, 4, 16, 64 and 256 concurrent keep-alive clients posting unique
# submissions (BENCH_CONCURRENCY, BENCH_SECONDS each, default 10), with Postgres' single-insert rate of
# the same run beside it. Smoke: 2 s at 1, 16, 64 and 256 clients, debug build; fails on any error.
set -euo pipefail
source scripts/lib/bench.sh
smoke BENCH_SECONDS=2 BENCH_CONCURRENCY=1,16,64,256
cargo bench -q -p loopdesk-intake --bench intake_http "${profile[@]}" 2>/dev/null | grep '='

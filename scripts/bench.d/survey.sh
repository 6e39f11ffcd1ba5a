# Survey timers and answers: requests fired per second, answers recorded per second, and an idle timer
# pass over a table full of closed surveys (BENCH_SURVEYS, default 20000). Smoke: 300 surveys, debug
# build.
set -euo pipefail
source scripts/lib/bench.sh
smoke BENCH_SURVEYS=300
cargo bench -q -p loopdesk-survey --bench survey "${profile[@]}" 2>/dev/null | grep '='

# Intake throughput and publish→ticket.created latency, 1 and 2 replicas (BENCH_SUBMISSIONS, default 50000).
cargo bench -q -p loopdesk-intake --bench intake 2>/dev/null | grep '='

# SLA firing lateness p50/p99 and one replica's memory with 1,000,000 pending timers and 1,000 coming due
# per second for 30 s (BENCH_PENDING, BENCH_RATE, BENCH_SECONDS override).
cargo build -q --release -p loopdesk-sla --bin sla-bench
target_dir="${CARGO_TARGET_DIR:-target}"
"$target_dir/release/sla-bench"

# The public web form under 1, 4, 16, 64 and 256 concurrent keep-alive clients posting unique
# submissions (BENCH_CONCURRENCY, BENCH_SECONDS each, default 10), with Postgres' single-insert rate of
# the same run beside it.
cargo bench -q -p loopdesk-intake --bench intake_http 2>/dev/null | grep '='

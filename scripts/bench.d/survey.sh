# Survey timers and answers: requests fired per second, answers recorded per second, and an idle timer
# pass over a table full of closed surveys (BENCH_SURVEYS, default 20000).
cargo bench -q -p loopdesk-survey --bench survey 2>/dev/null | grep '='

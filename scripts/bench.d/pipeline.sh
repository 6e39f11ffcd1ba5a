# The whole pipeline as processes, 1 and 2 replicas per worker, with the raw JetStream/Postgres ceilings.
cargo build -q --release --workspace --bins
cargo bench -q -p loopdesk-system-tests --bench pipeline 2>/dev/null | grep '='

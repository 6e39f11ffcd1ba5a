# Sourced by scripts/bench.d/*.sh. `smoke VAR=VALUE…`: at smoke size (BENCH_SMOKE set, as
# `scripts/bench --smoke` does) export each VAR that is not already set, and build with the dev profile
# (`"${profile[@]}"` after `cargo bench`); at full size do nothing.
profile=()
smoke() {
    [ -n "${BENCH_SMOKE:-}" ] || return 0
    local kv name
    for kv in "$@"; do
        name="${kv%%=*}"
        [ -n "${!name:-}" ] || export "$kv"
    done
    profile=(--profile dev)
}

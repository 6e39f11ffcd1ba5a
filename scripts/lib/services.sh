# Starts what Loopdesk needs on a Debian 12 machine: PostgreSQL and NATS with JetStream on loopback.
# Installs Debian's packages if missing, reuses servers that already run. Sourced by scripts/run,
# scripts/test and scripts/bench.

PG_PORT="${PG_PORT:-5432}"
NATS_PORT="${NATS_PORT:-4222}"

log() { printf '[loopdesk] %s\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=""
apt_install() {
    if [ -z "$apt_updated" ]; then
        log "apt-get update"
        as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
        apt_updated=1
    fi
    log "installing $*"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

port_open() {
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

wait_port() {
    local port="$1" what="$2"
    for _ in $(seq 1 100); do
        port_open "$port" && return 0
        sleep 0.2
    done
    log "$what did not start listening on 127.0.0.1:$port"
    return 1
}

pg_can_connect() {
    psql "postgres://postgres@127.0.0.1:${PG_PORT}/postgres" -Atqc 'select 1' >/dev/null 2>&1
}

ensure_postgres() {
    if port_open "$PG_PORT" && pg_can_connect; then
        return 0
    fi
    if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /etc/postgresql 2>/dev/null)" ]; then
        apt_install postgresql postgresql-client
    fi
    local version
    version="$(ls /etc/postgresql | sort -V | tail -n 1)"
    if ! port_open "$PG_PORT"; then
        log "starting PostgreSQL $version"
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
        wait_port "$PG_PORT" PostgreSQL
    fi
    if ! pg_can_connect; then
        # A fresh Debian cluster asks for passwords on TCP; local development trusts loopback.
        local hba="/etc/postgresql/$version/main/pg_hba.conf"
        log "trusting loopback connections in $hba (local development only)"
        as_root sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
        as_root pg_ctlcluster --skip-systemctl-redirect "$version" main reload
        sleep 1
    fi
    pg_can_connect || { log "cannot connect to PostgreSQL as postgres on 127.0.0.1:$PG_PORT"; return 1; }
}

ensure_nats() {
    if port_open "$NATS_PORT"; then
        return 0
    fi
    if ! command -v nats-server >/dev/null 2>&1 && [ ! -x /usr/sbin/nats-server ]; then
        apt_install nats-server
    fi
    local bin
    bin="$(command -v nats-server || echo /usr/sbin/nats-server)"
    as_root mkdir -p /var/lib/nats-server
    log "starting nats-server with JetStream"
    as_root start-stop-daemon --start --oknodo --background --exec "$bin" -- \
        -a 127.0.0.1 -p "$NATS_PORT" -js -sd /var/lib/nats-server -l /var/log/nats-server.log
    wait_port "$NATS_PORT" nats-server
}

ensure_toolchain() {
    if ! command -v cargo >/dev/null 2>&1; then
        [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
    fi
    command -v cargo >/dev/null 2>&1 || { log "cargo (Rust toolchain) is required"; return 1; }
    command -v psql >/dev/null 2>&1 || apt_install postgresql-client
    command -v curl >/dev/null 2>&1 || apt_install curl
}

# A CJK font for the api's PDF reports (and the browser tests' screenshots); the api finds it at start-up.
ensure_cjk_font() {
    if [ -e /usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc ] || [ -e /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then
        return 0
    fi
    apt_install fonts-wqy-microhei
}

ensure_services() {
    ensure_toolchain
    ensure_postgres
    ensure_nats
    ensure_cjk_font
}

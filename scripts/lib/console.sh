# The web console (services/console): Node packages from the lock file, the production build the api
# serves, and Debian's chromium with CJK fonts for the browser tests. Sourced by scripts/test and
# scripts/bench; `build_console` is what scripts/run and the Dockerfile need as well.

CONSOLE_DIR="services/console"

ensure_node() {
    if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
        apt_install nodejs npm
    fi
    # Vite 7 needs Node 20.19 or later.
    if ! node -e 'const [a,b]=process.versions.node.split(".").map(Number);process.exit(a>20||(a===20&&b>=19)?0:1)'; then
        log "Node $(node --version) is too old for the console's build (needs 20.19 or later)"
        return 1
    fi
}

ensure_chromium() {
    local missing=()
    [ -x "${CHROMIUM:-/usr/bin/chromium}" ] || missing+=(chromium)
    # Chinese text in screenshots needs a CJK font.
    fc-list 2>/dev/null | grep -qi 'cjk' || missing+=(fonts-noto-cjk)
    if [ "${#missing[@]}" -gt 0 ]; then apt_install "${missing[@]}"; fi
}

# npm ci only when the lock file changed since the last install (it wipes node_modules every time).
console_packages() {
    local stamp="$CONSOLE_DIR/node_modules/.loopdesk-lock"
    if [ -f "$stamp" ] && cmp -s "$stamp" "$CONSOLE_DIR/package-lock.json"; then
        return 0
    fi
    log "npm ci (services/console)"
    (cd "$CONSOLE_DIR" && npm ci --no-audit --no-fund --loglevel=error)
    cp "$CONSOLE_DIR/package-lock.json" "$stamp"
}

build_console() {
    ensure_node
    console_packages
    log "building the console (services/console/dist)"
    (cd "$CONSOLE_DIR" && npm run --silent build)
}

# The browser end-to-end tests (services/console/e2e, node:test + playwright-core driving Debian's
# chromium): the real api and workers from target/debug on a fresh database and subject prefix.
# Needs ensure_services, ensure_chromium, build_console and `cargo build --workspace --bins` first.
# Screenshots of every page (zh and en, laptop and phone width) land in target/console-screenshots/.
run_console_e2e() {
    log "console end-to-end tests in headless chromium (screenshots in target/console-screenshots/)"
    (cd "$CONSOLE_DIR" && LOOPDESK_E2E_PROFILE=debug npm run --silent e2e)
}

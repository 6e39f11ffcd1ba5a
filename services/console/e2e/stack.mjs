// Starts the real Loopdesk for browser tests and benchmarks: a fresh database and subject prefix on the
// machine's Postgres and NATS (like shared::testkit), the api serving the built console (dist/), and the
// intake, router, sla and survey workers as processes, exactly as tests/src/workers.rs runs them.
import { spawn, execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { createServer } from 'node:net'
import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { connect, StringCodec } from 'nats'

const HERE = dirname(fileURLToPath(import.meta.url))
export const ROOT = resolve(HERE, '../../..')
const BASE_DB = process.env.LOOPDESK_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const NATS_URL = process.env.LOOPDESK_TEST_NATS_URL ?? 'nats://127.0.0.1:4222'
const PROFILE = process.env.LOOPDESK_E2E_PROFILE ?? 'debug'
export const ADMIN_TOKEN = `e2e-admin-${randomBytes(12).toString('hex')}`

function freePort() {
  return new Promise((ok, fail) => {
    const s = createServer()
    s.once('error', fail)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => ok(port))
    })
  })
}

function psql(sql) {
  execFileSync('psql', [BASE_DB, '-v', 'ON_ERROR_STOP=1', '-qc', sql], { stdio: ['ignore', 'ignore', 'inherit'] })
}

function databaseUrl(name) {
  const cut = BASE_DB.lastIndexOf('/')
  return `${BASE_DB.slice(0, cut)}/${name}`
}

async function waitReady(url, proc, what, ms = 60_000) {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (proc.exitCode !== null) throw new Error(`${what} exited with ${proc.exitCode}`)
    try {
      const r = await fetch(url)
      if (r.ok) return
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${what} was not ready at ${url} within ${ms} ms`)
}

export class Stack {
  constructor() {
    const id = randomBytes(6).toString('hex')
    this.dbName = `console_e2e_${id}`
    this.prefix = `ce${id}`
    this.procs = []
    this.surveySecret = randomBytes(32).toString('hex')
    this.logs = join(ROOT, 'target', 'console-e2e-logs', id)
    this.nc = null
  }

  env(port, opsPort, extra = {}) {
    return {
      ...process.env,
      LOOPDESK_CONFIG_DIR: '/nonexistent-loopdesk-config',
      LOOPDESK__DATABASE__URL: databaseUrl(this.dbName),
      LOOPDESK__DATABASE__MAX_CONNECTIONS: '5',
      LOOPDESK__NATS__URL: NATS_URL,
      LOOPDESK__PREFIX: this.prefix,
      LOOPDESK__HTTP__ADDR: `127.0.0.1:${port}`,
      // Health, readiness and metrics answer on their own listener, never on the public one.
      LOOPDESK__HTTP__OPS_ADDR: `127.0.0.1:${opsPort}`,
      // Survey links are signed; every replica shares the secret, here one per test run.
      LOOPDESK__SURVEY__TOKEN_SECRET: this.surveySecret,
      RUST_LOG: process.env.RUST_LOG ?? 'warn',
      ...extra,
    }
  }

  async worker(name, extra = {}) {
    const bin = join(ROOT, 'target', PROFILE, name)
    if (!existsSync(bin)) throw new Error(`${bin} is missing: build the workers first (cargo build --workspace --bins)`)
    mkdirSync(this.logs, { recursive: true })
    const logFile = join(this.logs, `${name}.log`)
    const log = openSync(logFile, 'a')
    const port = await freePort()
    const opsPort = await freePort()
    // The router binary also holds its training tools; `run` is the worker.
    const proc = spawn(bin, name === 'router' ? ['run'] : [], {
      cwd: ROOT,
      env: this.env(port, opsPort, extra),
      // Each worker's output goes to its own file, named in the error when it does not come up.
      stdio: ['ignore', log, log],
    })
    closeSync(log)
    this.procs.push(proc)
    await waitReady(`http://127.0.0.1:${opsPort}/ready`, proc, `${name} (log ${logFile})`)
    return port
  }

  /** Starts everything; `base` is the console's address. */
  async start({ workers = true } = {}) {
    psql(`create database "${this.dbName}"`)
    const port = await this.worker('api', {
      LOOPDESK_ADMIN_TOKEN: ADMIN_TOKEN,
      LOOPDESK__API__CONSOLE_DIR: join(ROOT, 'services/console/dist'),
    })
    this.base = `http://127.0.0.1:${port}`
    if (workers) for (const w of ['intake', 'router', 'sla', 'survey']) await this.worker(w)
    this.nc = await connect({ servers: NATS_URL })
    return this
  }

  async stop() {
    await this.nc?.drain().catch(() => {})
    await Promise.all(
      this.procs.map(
        (p) =>
          new Promise((ok) => {
            if (p.exitCode !== null) return ok()
            p.once('exit', ok)
            p.kill('SIGTERM')
            setTimeout(() => p.kill('SIGKILL'), 5000).unref()
          }),
      ),
    )
    try {
      psql(`drop database if exists "${this.dbName}" with (force)`)
    } catch {
      // left for the next clean-up; never fatal
    }
  }

  /** Runs SQL in this stack's own database (bench seeding). */
  sql(text) {
    execFileSync('psql', [databaseUrl(this.dbName), '-v', 'ON_ERROR_STOP=1', '-q'], {
      input: text,
      stdio: ['pipe', 'ignore', 'inherit'],
    })
  }

  /** The api as the bootstrap admin (users, checks). */
  async admin(method, path, body) {
    const r = await fetch(`${this.base}${path}`, {
      method,
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
    const text = await r.text()
    let json = null
    try {
      json = text ? JSON.parse(text) : null
    } catch {
      json = text
    }
    return { status: r.status, body: json }
  }

  async user(name, role, department, password = `pw-${name}-e2e`) {
    const r = await this.admin('POST', '/v1/users', { name, role, department, password })
    if (r.status !== 201) throw new Error(`user ${name}: ${r.status} ${JSON.stringify(r.body)}`)
    return { name, password, role, department }
  }

  /** Publishes a submission to intake over NATS, as a channel adapter does. */
  publish(submission) {
    const sc = StringCodec()
    this.nc.publish(`${this.prefix}.feedback.in.${submission.channel}`, sc.encode(JSON.stringify(submission)))
    return this.nc.flush()
  }

  /** Waits until the api lists a ticket for `externalId`'s submission (as the admin sees it), routed. */
  async ticketFor(q, { routed = true, ms = 60_000 } = {}) {
    // Generous: a ticket is routed in well under a second, but a batch that fails and is redelivered
    // comes back only after the ack wait (30 s). The error says how far the submission got.
    const until = Date.now() + ms
    let seen = null
    while (Date.now() < until) {
      const r = await this.admin('GET', `/v1/tickets?q=${encodeURIComponent(q)}&limit=5`)
      const t = r.body?.items?.[0]
      if (t && (!routed || t.lead_department)) return t
      seen = t ?? seen
      await new Promise((ok) => setTimeout(ok, 100))
    }
    const state = seen
      ? `ticket ${seen.ticket_no} exists (status ${seen.status}, category ${seen.category}, lead ${seen.lead_department})`
      : 'no ticket at all (intake never stored it)'
    throw new Error(`no ${routed ? 'routed ' : ''}ticket for ${q} within ${ms} ms: ${state}; worker logs in ${this.logs}`)
  }
}

/**
 * A unique word to find a test's ticket by. Never a long run of digits: intake redacts what reads as a
 * phone, ID or bank-card number (a 13-digit millisecond time passes the card checksum one time in ten),
 * and a redacted marker is found by nobody.
 */
export function marker(kind) {
  return `E2E-${kind}-${Date.now().toString(36)}x${randomBytes(3).toString('hex')}`
}

let serial = 0
/** A web-form submission from a customer, unique per call. */
export function submission(description, over = {}) {
  serial += 1
  const id = `${Date.now()}-${serial}-${randomBytes(3).toString('hex')}`
  return {
    schema_version: 1,
    channel: 'form',
    external_id: `e2e-${id}`,
    submitted_at: new Date().toISOString(),
    customer: { id: `C-${id}`, name: '王芳', phone: '13900001111', type: 'returning' },
    order_number: `SO${id.replace(/\D/g, '').slice(0, 12)}`,
    description,
    feedback_type: 'service_attitude',
    tags: [],
    ...over,
  }
}

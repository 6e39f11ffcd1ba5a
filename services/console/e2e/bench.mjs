// Browser figures of `scripts/bench console`: first-load JavaScript (gzipped, as the inbox loads it)
// and the time from navigation to an interactive inbox in headless chromium, cold cache, p50/p95.
// CONSOLE_BENCH_OPENS (default 40) opens with CONSOLE_BENCH_TICKETS (default 1,000,000) tickets in the
// database, written by the same seed as the api half (services/api/benches/console-seed.sql).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { Stack, ROOT } from './stack.mjs'
import { launch } from './browser.mjs'

const OPENS = Number(process.env.CONSOLE_BENCH_OPENS ?? 40)
const TICKETS = Number(process.env.CONSOLE_BENCH_TICKETS ?? 1_000_000)
const SEED = join(ROOT, 'services/api/benches/console-seed.sql')
const DIST = join(import.meta.dirname, '..', 'dist')

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]
}

const stack = new Stack()
let browser
try {
  // Only the api: the inbox is what is timed, and idle workers would only add noise.
  await stack.start({ workers: false })
  const agent = await stack.user('bench.agent', 'agent', 'customer_service')
  const seeding = Date.now()
  stack.sql(readFileSync(SEED, 'utf8').replaceAll('{tickets}', String(TICKETS)) + '\nanalyze;')
  console.log(`browser_tickets=${TICKETS}`)
  console.log(`browser_seed_secs=${((Date.now() - seeding) / 1000).toFixed(1)}`)
  browser = await launch()

  async function open(collectScripts) {
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 } })
    const signed = await context.request.post(`${stack.base}/v1/auth/session`, {
      data: { name: agent.name, password: agent.password },
    })
    if (!signed.ok()) throw new Error(`sign-in for the bench failed: ${signed.status()}`)
    const page = await context.newPage()
    const scripts = []
    if (collectScripts) page.on('response', (r) => r.request().resourceType() === 'script' && scripts.push(new URL(r.url()).pathname))
    await page.goto(`${stack.base}/desk`)
    await page.waitForSelector('[data-test=inbox-row]')
    const ms = await page.evaluate(() => performance.getEntriesByName('inbox-interactive')[0]?.startTime ?? performance.now())
    await context.close()
    return { ms, scripts }
  }

  const first = await open(true)
  const gz = first.scripts.reduce((sum, path) => sum + gzipSync(readFileSync(join(DIST, path))).length, 0)
  const times = []
  for (let i = 0; i < OPENS; i++) times.push((await open(false)).ms)
  times.sort((a, b) => a - b)
  console.log(`first_load_js_gzip_kb=${(gz / 1024).toFixed(1)}`)
  console.log(`first_load_js_files=${first.scripts.length}`)
  console.log(`console_opens=${OPENS}`)
  console.log(`console_open_interactive_p50_ms=${percentile(times, 50).toFixed(0)}`)
  console.log(`console_open_interactive_p95_ms=${percentile(times, 95).toFixed(0)}`)
} finally {
  await browser?.close()
  await stack.stop()
}

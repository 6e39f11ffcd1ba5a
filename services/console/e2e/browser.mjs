// Debian's chromium driven by playwright-core (no browser download), with the flags the brief names.
import assert from 'node:assert/strict'
import { chromium } from 'playwright-core'
import { mkdirSync, readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { ROOT } from './stack.mjs'

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium'
export const SCREENSHOTS = join(ROOT, 'target', 'console-screenshots')
export const LAPTOP = { width: 1366, height: 768 }
export const PHONE = { width: 375, height: 812 }

export function launch() {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  })
}

/** A fresh browser profile (own cookies) at a viewport, in a language. */
export async function person(browser, { viewport = LAPTOP, locale = 'zh-CN' } = {}) {
  const context = await browser.newContext({ viewport, locale })
  // The console remembers the chosen language in localStorage; start each person in theirs.
  await context.addInitScript((l) => localStorage.setItem('loopdesk.locale', l), locale)
  const page = await context.newPage()
  return { context, page }
}

/** Signs `user` in and waits for their first page (the inbox; an admin starts on the people page). */
export async function signIn(page, base, user, ready = '[data-test=inbox-list]') {
  await page.goto(`${base}/sign-in`)
  await page.fill('input[data-test=name]', user.name)
  await page.fill('input[data-test=password]', user.password)
  await page.click('[data-test=sign-in]')
  await page.waitForSelector(ready)
}

export async function screenshot(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true })
  const { width, height } = page.viewportSize()
  const lang = await page.evaluate(() => document.documentElement.lang)
  const file = join(SCREENSHOTS, `${name}-${lang}-${width}x${height}.png`)
  await page.screenshot({ path: file, fullPage: false })
  return file
}

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8')

/**
 * No serious or critical axe violation on the page. Element Plus fades dialogs and messages in and axe
 * measures contrast, so this waits until nothing moves.
 */
export async function assertAccessible(page, what) {
  await page.waitForFunction(() => document.getAnimations().every((a) => a.playState !== 'running'))
  const violations = await axeViolations(page)
  assert.deepEqual(violations, [], `${what}: axe found serious or critical violations`)
}

/** axe-core's serious and critical violations on the page as it is now. */
export async function axeViolations(page) {
  // Evaluated over the DevTools protocol, which the console's CSP (script-src 'self') does not govern,
  // so the page under test keeps its real policy.
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(`${axeSource}\n;0`)
  const result = await page.evaluate(async () => {
    // eslint-disable-next-line no-undef
    const r = await axe.run(document, { resultTypes: ['violations'] })
    return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(' ')).slice(0, 5) }))
  })
  return result.filter((v) => v.impact === 'serious' || v.impact === 'critical')
}

// The survey policy and the report targets edited by an admin in the console (issue 20), on the real
// api and workers, a fresh database and prefix, Debian's chromium: a value that breaks a rule is named
// beside its field before saving; a saved policy is applied by the running survey worker (the next
// resolved ticket is asked after the new delay); saved targets are what the next report holds groups to.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { marker, submission } from './stack.mjs'
import { adminStack } from './admin-stack.mjs'
import { assertAccessible, LAPTOP, person, PHONE, screenshot } from './browser.mjs'

const env = adminStack('zhou.admin')
const { stack, adminIn } = env

async function adminOnPolicies(page) {
  await adminIn(page)
  await page.click('nav a[href="/admin/policies"]')
  await page.waitForSelector('input[data-test=survey-delay]')
}

/** The problem shown beside a field (`survey-delay` → `problem-survey-delay`). */
function errorOf(page, field) {
  return page.locator(`[data-test=problem-${field}]`)
}

describe('survey policy and report targets, edited by an admin', () => {
  it('names a broken value, saves a sound one, and the survey worker asks after the new delay', async () => {
    const { page, context } = await person(env.browser, { locale: 'zh-CN' })
    await adminOnPolicies(page)

    // Thirteen hours plus the twelve quiet hours could ask more than a day after resolution.
    await page.fill('input[data-test=survey-delay]', '13h')
    await errorOf(page, 'survey-delay').waitFor()
    assert.match(await errorOf(page, 'survey-delay').textContent(), /24 小时/)
    assert.ok(await page.locator('[data-test=survey-save]').isDisabled(), 'nothing broken can be sent')
    await page.fill('input[data-test=survey-expire_after]', 'soon')
    assert.match(await errorOf(page, 'survey-expire_after').textContent(), /不是有效的时长/)
    await screenshot(page, 'admin-policies-refused')

    // One hour, no quiet hours (so the check below holds at any time of day).
    await page.fill('input[data-test=survey-delay]', '1h')
    await page.fill('input[data-test=survey-expire_after]', '72h')
    await page.fill('input[data-test=survey-quiet_start]', '00:00')
    await page.fill('input[data-test=survey-quiet_end]', '00:00')
    await errorOf(page, 'survey-delay').waitFor({ state: 'detached' })
    await page.fill('input[data-test=survey-note]', 'e2e: ask after an hour')
    await page.click('[data-test=survey-save]')
    await page.waitForSelector('[data-test=survey-saved]')
    const saved = (await stack.admin('GET', '/v1/setup/survey')).body
    assert.equal(saved.body.delay, '1h')
    assert.equal(saved.body.quiet_start, '00:00')
    await page.locator('[data-test=survey-form] [data-test=history]', { hasText: 'e2e: ask after an hour' }).waitFor()

    // The running survey worker applies it within seconds: a ticket resolved now is asked an hour later.
    await new Promise((ok) => setTimeout(ok, 3000))
    const mark = marker('survey')
    await stack.publish(submission(`${mark} 客服态度很差，电话里一直不耐烦，问题也没解决`))
    const ticket = await stack.ticketFor(mark)
    const resolved = await stack.admin('POST', `/v1/tickets/${ticket.id}/resolve`, { resolution: 'full', solution: '已安排发货' })
    assert.equal(resolved.status, 200, JSON.stringify(resolved.body))
    let scheduled = null
    for (let i = 0; i < 120 && !scheduled; i++) {
      const detail = (await stack.admin('GET', `/v1/tickets/${ticket.id}`)).body
      scheduled = detail.timeline?.find((e) => e.kind === 'survey_scheduled') ?? null
      if (!scheduled) await new Promise((ok) => setTimeout(ok, 250))
    }
    assert.ok(scheduled, 'the survey worker scheduled a survey')
    const resolvedAt = Date.parse(resolved.body.ticket?.resolved_at ?? scheduled.at)
    const sendAt = Date.parse(scheduled.data.send_at)
    const waited = (sendAt - resolvedAt) / 60000
    assert.ok(Math.abs(waited - 60) < 2, `asked ${waited} minutes after resolution, not 60`)
    await context.close()
  })

  it('saves report targets the next report holds groups to, and refuses a target of zero', async () => {
    const { page, context } = await person(env.browser, { locale: 'en' })
    await adminOnPolicies(page)
    const field = page.locator('[data-test=targets-first_response_minutes] input')
    await field.fill('0')
    await field.blur()
    await errorOf(page, 'targets-first_response_minutes').waitFor()
    assert.match(await errorOf(page, 'targets-first_response_minutes').textContent(), /more than zero/)
    assert.ok(await page.locator('[data-test=targets-save]').isDisabled())
    await field.fill('45')
    await field.blur()
    await page.fill('input[data-test=targets-note]', 'e2e: 45 minutes')
    await page.click('[data-test=targets-save]')
    await page.waitForSelector('[data-test=targets-saved]')
    const today = new Date().toISOString().slice(0, 10)
    const report = (await stack.admin('GET', `/v1/reports/summary?from=${today}&to=${today}`)).body
    assert.equal(report.total.targets.first_response.target, 45, JSON.stringify(report.total.targets))
    await context.close()
  })

  it('is accessible and laid out in both languages at laptop and phone width', async () => {
    for (const viewport of [LAPTOP, PHONE]) {
      for (const locale of ['zh-CN', 'en']) {
        const { page, context } = await person(env.browser, { viewport, locale })
        await adminOnPolicies(page)
        await page.waitForSelector('[data-test=targets-form] input')
        await screenshot(page, 'admin-policies')
        await assertAccessible(page, `policies page ${locale} ${viewport.width}`)
        await context.close()
      }
    }
  })
})

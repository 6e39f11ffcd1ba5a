// Departments, deadlines and calendars edited through forms (issue 20), end to end: the real api and
// workers on a fresh database, the built console, Debian's chromium. An admin adds a department and it
// is offered wherever departments are chosen; shortens the urgent first-response target and a new
// urgent ticket is timed by it; adds an override and a matching ticket is timed by it; a breaking change is explained, as typed or by the api, and nothing
// typed is lost. Each form is photographed in both languages at laptop and phone width.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { marker, submission } from './stack.mjs'
import { adminStack } from './admin-stack.mjs'
import { assertAccessible, LAPTOP, person, PHONE, screenshot } from './browser.mjs'

const env = adminStack('zhou.admin')
const { stack, adminIn } = env

/** The departments page's row of a department, by its code (a new row has no code attribute yet). */
const row = (page, code) => page.locator(`[data-test=departments] tr[data-department="${code}"]`)

/**
 * Submits login failures (urgent, from a returning customer) until one has a `kind` clock of
 * `secs`: the SLA worker applies a saved version within seconds. Fails after a minute, naming what the
 * last ticket got.
 */
async function urgentClockTimed(kind, secs) {
  let seen = null
  const until = Date.now() + 60_000
  while (Date.now() < until) {
    const mark = marker('sla')
    await stack.publish(submission(`${mark} 登录不了，一直提示密码错误，账号被锁定了`, { feedback_type: 'product_quality' }))
    const ticket = await stack.ticketFor(mark)
    assert.equal(ticket.priority, 'urgent', 'a login failure is urgent')
    for (let i = 0; i < 50; i++) {
      const detail = (await stack.admin('GET', `/v1/tickets/${ticket.ticket_no}`)).body
      const clock = detail.sla_clocks?.find((c) => c.kind === kind)
      if (clock) {
        if (clock.target_secs === secs) return clock
        seen = clock
        break
      }
      await new Promise((ok) => setTimeout(ok, 100))
    }
    await new Promise((ok) => setTimeout(ok, 500))
  }
  assert.fail(`no ${kind} clock of ${secs} s within a minute; the last ticket's: ${JSON.stringify(seen)}`)
}

describe('departments, deadlines and calendars, edited through forms', () => {
  it('admin adds a department, checked as typed, and it is offered where departments are chosen', async () => {
    const { page, context } = await person(env.browser)
    await adminIn(page)
    await page.click('nav a[href="/admin/departments"]')
    await row(page, 'customer_service').waitFor()
    await assertAccessible(page, 'departments page')

    await page.click('[data-test=add]')
    const added = page.locator('[data-test=departments] tbody tr[data-row]').last()
    const index = await added.getAttribute('data-row')
    const problems = page.locator(`[data-test=problems-${index}]`)
    // The code is checked as it is typed: a blank inside, then a code that is taken.
    await added.locator('input[data-test=code]').fill('bill ing')
    await problems.filter({ hasText: '编码不能为空或包含空格' }).waitFor()
    await added.locator('input[data-test=code]').fill('sales')
    await problems.filter({ hasText: '编码“sales”重复' }).waitFor()
    await problems.filter({ hasText: '需要中文名称' }).waitFor()
    await screenshot(page, 'admin-departments-typing')
    // The English name suggests the code; the Chinese name is required.
    await added.locator('input[data-test=code]').fill('')
    await added.locator('input[data-test=name-en]').fill('Billing')
    assert.equal(await added.locator('input[data-test=code]').inputValue(), 'billing')
    await added.locator('input[data-test=name-zh]').fill('账务部')
    await problems.waitFor({ state: 'detached' })
    await added.locator('select[data-test=assignment]').selectOption('round_robin')
    await added.locator('select[data-test=calendar]').selectOption('always-on')
    assert.equal(await added.locator('input[data-test=supervisor]').inputValue(), 'supervisor:billing')
    await page.fill('input[data-test=note]', 'e2e billing')
    await page.click('[data-test=save]')
    await page.waitForSelector('[data-test=saved]')
    await page.locator('[data-test=history]', { hasText: 'e2e billing' }).waitFor()

    const departments = (await stack.admin('GET', '/v1/setup/departments')).body.body
    assert.deepEqual(
      departments.departments.find((d) => d.code === 'billing'),
      { code: 'billing', name_zh: '账务部', name_en: 'Billing', assignment: 'round_robin' },
    )
    const sla = (await stack.admin('GET', '/v1/setup/sla')).body.body
    assert.deepEqual(sla.departments.billing, { calendar: 'always-on', supervisor: 'supervisor:billing' })
    assert.ok(sla.policy.overrides.length > 0, 'the rest of the SLA document is kept')

    // Offered on the people page and on the routing page, without reloading the console.
    await page.click('nav a[href="/admin/users"]')
    await page.waitForSelector('[data-test=users] [data-user]')
    assert.equal(await page.locator('select[data-test=new-department] option[value=billing]').textContent(), '账务部')
    await page.click('nav a[href="/admin/routing"]')
    await page.locator('[data-test=route-0-departments]').click()
    await page.locator('.el-select-dropdown__item:visible', { hasText: '账务部' }).waitFor()
    await page.keyboard.press('Escape')
    await context.close()
  })

  it('refuses to remove a department still in use, as typed and when the api finds it, losing nothing typed', async () => {
    const { page, context } = await person(env.browser)
    await adminIn(page)
    await page.goto(`${stack.base}/admin/departments`)
    await row(page, 'billing').waitFor()

    // Logistics is named by routes: the page says which before anything is sent.
    await row(page, 'logistics').locator('[data-test=remove]').click()
    await page.locator('[data-test=problems]', { hasText: /分派规则第 \d+ 条仍把工单分派给“物流部”/ }).waitFor()
    await page.click('[data-test=save]')
    assert.ok(await page.locator('[data-test=save]').isDisabled(), 'nothing is sent while a route needs the department')
    await page.reload()
    await row(page, 'billing').waitFor()

    // Another admin routes a tag to billing after this page was opened: only the api can know.
    const routing = (await stack.admin('GET', '/v1/setup/routing')).body
    const tag = (await stack.admin('GET', '/v1/taxonomy')).body.tags[0].code
    const put = await stack.admin('PUT', '/v1/setup/routing', {
      body: { ...routing.body, routes: [...routing.body.routes, { when: { tag }, departments: ['billing'] }] },
      note: 'e2e: a route to billing',
      base_version: routing.version,
    })
    assert.equal(put.status, 200, JSON.stringify(put.body))
    const route = routing.body.routes.length + 1

    await row(page, 'sales').locator('input[data-test=name-zh]').fill('销售部（E2E）')
    await row(page, 'billing').locator('[data-test=remove]').click()
    await page.fill('input[data-test=note]', 'e2e remove billing')
    await page.click('[data-test=save]')
    await page.locator('[data-test=refusal]', { hasText: '配置未保存' }).waitFor()
    await page.locator('[data-test=problems]', { hasText: `分派规则第 ${route} 条仍把工单分派给“账务部”` }).waitFor()
    await assertAccessible(page, 'departments refusal')
    await screenshot(page, 'admin-departments-refused')
    // What was typed is still there; nothing was stored.
    assert.equal(await row(page, 'sales').locator('input[data-test=name-zh]').inputValue(), '销售部（E2E）')
    assert.equal(await row(page, 'billing').count(), 0)
    assert.equal(await page.locator('input[data-test=note]').inputValue(), 'e2e remove billing')
    const departments = (await stack.admin('GET', '/v1/setup/departments')).body.body
    assert.ok(departments.departments.some((d) => d.code === 'billing'))
    assert.equal(departments.departments.find((d) => d.code === 'sales').name_zh, '销售部')

    // Once the route is gone, the same change is taken, with billing's calendar entry in the SLA rules.
    const withRoute = (await stack.admin('GET', '/v1/setup/routing')).body
    const back = await stack.admin('PUT', '/v1/setup/routing', {
      body: { ...withRoute.body, routes: withRoute.body.routes.filter((r) => !r.departments.includes('billing')) },
      note: 'e2e: billing route removed',
      base_version: withRoute.version,
    })
    assert.equal(back.status, 200, JSON.stringify(back.body))
    await page.click('[data-test=save]')
    await page.waitForSelector('[data-test=saved]')
    const now = (await stack.admin('GET', '/v1/setup/departments')).body.body
    assert.ok(!now.departments.some((d) => d.code === 'billing'))
    assert.equal(now.departments.find((d) => d.code === 'sales').name_zh, '销售部（E2E）')
    assert.equal((await stack.admin('GET', '/v1/setup/sla')).body.body.departments.billing, undefined)
    // Sales becomes where unmatched tickets land, and so cannot be removed.
    await row(page, 'sales').locator('input[data-test=default]').check()
    assert.ok(await row(page, 'sales').locator('[data-test=remove]').isDisabled())
    await page.fill('input[data-test=note]', 'e2e default sales')
    await page.click('[data-test=save]')
    await page.locator('[data-test=history]', { hasText: 'e2e default sales' }).waitFor()
    assert.equal((await stack.admin('GET', '/v1/setup/departments')).body.body.default_department, 'sales')
    await context.close()

    // In English the refusal reads in English.
    const en = await person(env.browser, { locale: 'en' })
    await adminIn(en.page)
    await en.page.goto(`${stack.base}/admin/departments`)
    await row(en.page, 'logistics').locator('[data-test=remove]').click()
    await en.page.locator('[data-test=problems]', { hasText: /Route \d+ still sends tickets to “Logistics”/ }).waitFor()
    // People still working in a department keep it too (the api does not check that; the page does).
    await stack.user('wu.agent', 'agent', 'product')
    await en.page.reload()
    await row(en.page, 'product').locator('[data-test=remove]').click()
    await en.page.locator('[data-test=problems]', { hasText: 'People still work in “Product & technology” (wu.agent)' }).waitFor()
    await en.context.close()
  })

  it('admin shortens the urgent first-response target in the form, checked as typed, and a new urgent ticket follows it', async () => {
    const { page, context } = await person(env.browser)
    await adminIn(page)
    await page.click('nav a[href="/admin/sla"]')
    const urgent = page.locator('tr[data-clock=first_response] input[data-test=target-urgent]')
    await urgent.waitFor()
    assert.equal(await urgent.inputValue(), '2h')
    await assertAccessible(page, 'deadline rules form')

    // A zero or unreadable target is refused beside the field, and saving waits for a good one.
    await urgent.fill('0m')
    await page.locator('[data-test=problem-first_response-urgent]', { hasText: '时限必须大于零' }).waitFor()
    assert.ok(await page.locator('[data-test=save]').isDisabled())
    await urgent.fill('5 hours please')
    await page.locator('[data-test=problem-first_response-urgent]', { hasText: '不是时长' }).waitFor()
    await page.fill('input[data-test=warning]', '75, 120')
    await page.locator('[data-test=problem-warning]', { hasText: '预警比例必须在 0 与 1 之间' }).waitFor()
    await screenshot(page, 'admin-sla-typing')
    await page.fill('input[data-test=warning]', '75, 90')
    await urgent.fill('5h')
    await page.locator('[data-test=problem-first_response-urgent]').waitFor({ state: 'detached' })
    await page.fill('input[data-test=note]', 'e2e urgent first response 5h')
    await page.click('[data-test=save]')
    await page.waitForSelector('[data-test=saved]')
    const sla = (await stack.admin('GET', '/v1/setup/sla')).body.body
    assert.equal(sla.policy.clocks.first_response.urgent, '5h')
    assert.deepEqual(sla.policy.warning_fractions, [0.75, 0.9])
    await context.close()

    // The SLA worker applies the saved version within seconds: a login failure (urgent) submitted after
    // it is timed by the new target.
    const clock = await urgentClockTimed('first_response', 5 * 3600)
    assert.equal(clock.target_secs, 5 * 3600)
    assert.ok(new Date(clock.due_at) - new Date(clock.started_at) >= 5 * 3600 * 1000, 'the deadline is at least 5 hours after receipt')
  })

  it("admin adds an override and a clock's own warning points in the form, checked as typed, and a matching ticket is timed by it", async () => {
    const { page, context } = await person(env.browser)
    await adminIn(page)
    await page.click('nav a[href="/admin/sla"]')
    await page.locator('[data-test=override-0]').waitFor()
    const before = await page.locator('[data-test=overrides] fieldset').count()

    await page.click('[data-test=add-override]')
    const added = page.locator(`[data-test=override-${before}]`)
    // A rule that sets no deadline is named before anything is sent.
    await page.locator(`[data-test=problem-override-${before}]`, { hasText: `第 ${before + 1} 条特殊规则没有设任何时限` }).waitFor()
    assert.ok(await page.locator('[data-test=save]').isDisabled())
    await added.locator('select[data-test=override-priority]').selectOption('urgent')
    await added.locator('select[data-test=override-customer-type]').selectOption('returning')
    await added.locator('input[data-test=override-target-resolution]').fill('0m')
    await page.locator(`[data-test=problem-override-${before}-resolution]`, { hasText: '时限必须大于零' }).waitFor()
    await added.locator('input[data-test=override-target-resolution]').fill('7h')
    await page.locator(`[data-test=problem-override-${before}-resolution]`).waitFor({ state: 'detached' })
    await page.locator('tr[data-clock=proactive_contact] input[data-test=clock-warning]').fill('50, 80')
    await assertAccessible(page, 'deadline overrides')
    await screenshot(page, 'admin-sla-override')
    await page.fill('input[data-test=note]', 'e2e returning urgent resolution 7h')
    await page.click('[data-test=save]')
    await page.waitForSelector('[data-test=saved]')
    const sla = (await stack.admin('GET', '/v1/setup/sla')).body.body
    assert.deepEqual(sla.policy.overrides.at(-1), { customer_type: 'returning', priority: 'urgent', targets: { resolution: '7h' } })
    assert.equal(sla.policy.overrides.length, before + 1, 'the overrides already there are kept')
    assert.deepEqual(sla.policy.clocks.proactive_contact.warning_fractions, [0.5, 0.8])
    await context.close()

    // The SLA worker applies it: an urgent ticket of a returning customer gets the 7-hour resolution.
    await urgentClockTimed('resolution', 7 * 3600)
  })

  it('edits a holiday and the weekly hours of a calendar in the form, a bad date is refused as typed, and the api refusal is shown on the calendar', async () => {
    const { page, context } = await person(env.browser)
    await adminIn(page)
    await page.goto(`${stack.base}/admin/sla`)
    await page.click('[data-test=tab-calendars]')
    const office = page.locator('[data-calendar="cn-office"]')
    await office.waitFor()
    assert.equal(await office.locator('input[data-test=day-mon]').inputValue(), '09:00-12:00, 13:00-18:00')
    await assertAccessible(page, 'calendars form')

    // A Saturday morning becomes working time; a typo in the hours is caught as typed.
    await office.locator('input[data-test=day-sat]').fill('09:00-1200')
    await office.locator('[role=alert]', { hasText: '不是工作时段' }).waitFor()
    await office.locator('input[data-test=day-sat]').fill('09:00-12:00')
    // A holiday that is not a date, then a range.
    const set = page.locator('[data-holiday-set="cn-2026"]')
    const holidays = set.locator('[data-test="holiday_sets[0].holidays"]')
    await holidays.locator('[data-test=add-date]').click()
    const last = holidays.locator('li').last()
    await last.locator('input[data-test=from]').fill('2026-12-32')
    await last.locator('[role=alert]', { hasText: '不是日期' }).waitFor()
    assert.ok(await page.locator('[data-test=save]').isDisabled())
    await screenshot(page, 'admin-calendars-typing')
    await last.locator('input[data-test=from]').fill('2026-12-31')
    await last.locator('input[data-test=to]').fill('2027-01-01')
    // Every weekday emptied: the calendar would never be open.
    const always = page.locator('[data-calendar="cn-service-desk"]')
    for (const d of ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun']) await always.locator(`input[data-test=day-${d}]`).fill('')
    await always.locator('[data-test=problem-weekly]', { hasText: '没有任何工作时间' }).waitFor()
    await always.locator('input[data-test=day-mon]').fill('08:00-22:00')
    await page.fill('input[data-test=note]', 'e2e saturday morning')
    await page.click('[data-test=save]')
    await page.waitForSelector('[data-test=saved]')
    const calendars = (await stack.admin('GET', '/v1/setup/calendars')).body.body
    assert.deepEqual(calendars.calendars['cn-office'].weekly.sat, ['09:00-12:00'])
    assert.equal(calendars.holiday_sets['cn-2026'].holidays.at(-1), '2026-12-31..2027-01-01')

    // The api knows more than the form: a calendar the SLA rules still use (the customer service's)
    // cannot go. Its refusal is shown, and the calendar removed stays removed on the page.
    await page.locator('[data-calendar="cn-service-desk"] button', { hasText: '删除' }).click()
    await page.click('[data-test=save]')
    await page.locator('[data-test=refusal]', { hasText: '配置未保存' }).waitFor()
    await page.locator('[data-test=problems]', { hasText: '“cn-service-desk”不是已有的日历' }).waitFor()
    assert.equal(await page.locator('[data-calendar="cn-service-desk"]').count(), 0)
    assert.ok((await stack.admin('GET', '/v1/setup/calendars')).body.body.calendars['cn-service-desk'])
    await screenshot(page, 'admin-calendars-refused')
    await context.close()
  })

  it('shows the forms in both languages at laptop and phone width, accessible', async () => {
    const pages = [
      ['/admin/departments', '[data-test=departments] [data-department]', 'admin-departments', null],
      ['/admin/sla', '[data-test=clocks]', 'admin-sla', null],
      ['/admin/sla', '[data-calendar]', 'admin-calendars', '[data-test=tab-calendars]'],
    ]
    for (const viewport of [LAPTOP, PHONE]) {
      for (const locale of ['zh-CN', 'en']) {
        const { page, context } = await person(env.browser, { viewport, locale })
        await adminIn(page)
        for (const [path, ready, name, click] of pages) {
          await page.goto(`${stack.base}${path}`)
          if (click) await page.click(click)
          await page.waitForSelector(ready)
          await screenshot(page, name)
          await assertAccessible(page, `${name} ${locale} ${viewport.width}`)
        }
        await context.close()
      }
    }
  })
})

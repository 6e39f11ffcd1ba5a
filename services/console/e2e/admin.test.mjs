// The business's setup in the console end to end (issue 20): the real api and workers on a fresh
// database and prefix, the built console, Debian's chromium. An admin edits a route and a new ticket
// follows it; creates a user who then signs in; imports a sheet with an unknown label, mapped. Every
// admin page is checked by axe and photographed in both languages at laptop and phone width.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { marker, submission } from './stack.mjs'
import { adminStack } from './admin-stack.mjs'
import { assertAccessible, LAPTOP, person, PHONE, screenshot, signIn } from './browser.mjs'

const env = adminStack('chen.admin')
const { stack, adminIn } = env

describe('the business setup, edited by an admin', () => {
  it('admin edits a route, a new ticket follows it', async () => {
    // Where a complaint about the service goes now: the route of its category.
    const complaint = (mark) => `${mark} 客服态度很差，电话里一直不耐烦，问题也没解决`
    const first = marker('route')
    await stack.publish(submission(complaint(first)))
    const before = await stack.ticketFor(first)
    const routing = (await stack.admin('GET', '/v1/setup/routing')).body
    const index = routing.body.routes.findIndex((r) => r.when.category === before.category)
    assert.ok(index >= 0, `a route serves ${before.category}`)
    const target = before.lead_department === 'logistics' ? 'sales' : 'logistics'
    const targetZh = target === 'logistics' ? '物流部' : '销售部'

    const { page, context } = await person(env.browser)
    await adminIn(page)
    await page.click('nav a[href="/admin/routing"]')
    const row = page.locator(`[data-test=route-${index}]`)
    await row.waitFor()
    await assertAccessible(page, 'routing page')
    // The route's departments become the target alone.
    const departments = page.locator(`[data-test=route-${index}-departments]`)
    while ((await departments.locator('.el-tag__close').count()) > 0) {
      await departments.locator('.el-tag__close').first().click()
    }
    await departments.click()
    await page.locator('.el-select-dropdown__item:visible', { hasText: targetZh }).click()
    await page.keyboard.press('Escape')
    await page.fill('input[data-test=note]', `e2e: ${before.category} → ${target}`)
    await page.click('[data-test=save]')
    await page.waitForSelector('[data-test=saved]')
    const now = (await stack.admin('GET', '/v1/setup/routing')).body
    assert.deepEqual(now.body.routes[index].departments, [target])
    await page.locator('[data-test=history]', { hasText: `e2e: ${before.category}` }).waitFor()
    await context.close()

    // The router applies the new version within seconds: a ticket submitted after it follows the route.
    // Workers apply the saved version within seconds: a submission routed by the old table meanwhile is
    // followed by another, within a minute in all.
    let after = null
    const until = Date.now() + 60_000
    while (Date.now() < until) {
      const mark = marker('route')
      await stack.publish(submission(complaint(mark)))
      after = await stack.ticketFor(mark)
      if (after?.lead_department === target) break
      await new Promise((ok) => setTimeout(ok, 500))
    }
    assert.ok(after, 'a submission after the save becomes a routed ticket')
    assert.equal(after.category, before.category)
    assert.equal(after.lead_department, target, 'the new ticket follows the edited route')
  })

  it('admin creates a user on the people page, checked as typed, and that user signs in', async () => {
    const { page, context } = await person(env.browser)
    await adminIn(page)
    await assertAccessible(page, 'people page')
    await page.fill('input[data-test=new-name]', 'sun li')
    await page.locator('[data-test=problem-name]', { hasText: '不能包含空格' }).waitFor()
    await page.fill('input[data-test=new-name]', 'sun.li')
    await page.selectOption('select[data-test=new-role]', 'agent')
    await page.fill('input[data-test=new-password]', 'short')
    await page.locator('[data-test=problem-password]', { hasText: '至少需要 8 个字符' }).waitFor()
    await page.fill('input[data-test=new-password]', 'sun-li-e2e-pw')
    // An agent needs a department: the form says so before the api would.
    await page.click('[data-test=create-user]')
    await page.locator('[data-test=problem-department]', { hasText: '必须选择部门' }).waitFor()
    await page.selectOption('select[data-test=new-department]', 'sales')
    await page.click('[data-test=create-user]')
    await page.waitForSelector('[data-test=created]')
    const row = page.locator('[data-user="sun.li"]')
    await row.waitFor()
    assert.equal(await row.locator('select[data-test=row-department]').inputValue(), 'sales')

    // The same name again: the form knows the name is taken.
    await page.fill('input[data-test=new-name]', 'chen.admin')
    await page.locator('[data-test=problem-name]', { hasText: '已经存在' }).waitFor()

    const agent = { name: 'sun.li', password: 'sun-li-e2e-pw' }
    const other = await person(env.browser)
    await signIn(other.page, stack.base, agent)
    assert.equal(await other.page.textContent('h1'), '待处理反馈')
    await other.context.close()

    // A token issued for the user is listed (its secret never again) and revoked from the page.
    const issued = await stack.admin('POST', '/v1/users/sun.li/tokens', { label: 'e2e-bot' })
    assert.equal(issued.status, 201)
    await page.reload()
    await row.waitFor()
    await row.locator('[data-test=row-tokens]').click()
    const token = page.locator('[data-test=tokens] tr', { hasText: 'e2e-bot' })
    await token.waitFor()
    assert.doesNotMatch(await page.textContent('[data-test=tokens]'), new RegExp(issued.body.token ?? 'no-secret'))
    await assertAccessible(page, 'tokens dialog')
    await token.locator('button').click()
    await token.locator('td', { hasText: '已吊销' }).waitFor()
    await page.keyboard.press('Escape')
    await page.locator('[data-test=tokens]').waitFor({ state: 'hidden' })

    // Disabled, the user can no longer sign in; enabled again, they can.
    await row.locator('[data-test=row-disable]').click()
    await row.locator('[data-test=row-state]', { hasText: '已停用' }).waitFor()
    const refused = await fetch(`${stack.base}/v1/auth/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(agent),
    })
    assert.equal(refused.status, 401)
    await row.locator('[data-test=row-enable]').click()
    await row.locator('[data-test=row-state]', { hasText: '启用' }).waitFor()
    const users = (await stack.admin('GET', '/v1/users')).body
    assert.equal(users.find((u) => u.name === 'sun.li').disabled_at, null)
    await context.close()
  })

  it('imports a sheet: preview with an unknown label, mapped, imported row by row', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'loopdesk-import-'))
    const file = join(dir, '跟踪表.csv')
    writeFileSync(
      file,
      [
        '日期,客户编号,问题描述,问题类型,提交时间,备注',
        '2024-03-10,C001,E2E导入 软件安装时报错,技术咨询,09:00,-',
        '2024-03-10,C002,E2E导入 安装后打开就闪退,技术咨询,09:10,-',
        '2024-03-10,C003,E2E导入 发票抬头开错了,发票事务,09:20,-',
        '2024-03-10,C004,E2E导入 时间写错的一行,发票事务,九点,-',
      ].join('\n'),
    )
    const { page, context } = await person(env.browser)
    await adminIn(page)
    await page.click('nav a[href="/admin/import"]')
    await page.waitForSelector('[data-test=import-file]')
    await page.selectOption('select[data-test=import-department]', 'customer_service')
    await page.setInputFiles('[data-test=import-file]', file)
    await page.waitForSelector('[data-test=preview]')
    assert.match(await page.textContent('[data-test=preview-counts]'), /共 4 行数据，其中 3 行可以导入，1 行有问题/)
    assert.match(await page.textContent('[data-test=columns]'), /备注 → （不导入）/)
    const tech = page.locator('[data-label="技术咨询"]')
    assert.match(await tech.textContent(), /2/)
    assert.match(await page.textContent('[data-label="发票事务"]'), /1/)
    assert.match(await page.textContent('[data-test=problems]'), /提交时间/)
    await assertAccessible(page, 'import preview')
    await screenshot(page, 'admin-import-preview')
    await tech.locator('select').selectOption('technical_fault')
    assert.match(await page.textContent('[data-test=mapping-summary]'), /1 行将使用新添加的问题类型，2 行将归入已有的问题类型/)
    await page.click('[data-test=import-run]')
    await page.waitForSelector('[data-test=report]')
    assert.match(await page.textContent('[data-test=report-counts]'), /新建 3 张工单，0 行重复（已存在），1 行未导入/)
    assert.match(await page.textContent('[data-test=added]'), /发票事务/)
    assert.match(await page.textContent('[data-test=mapped]'), /技术咨询/)
    assert.equal(await page.locator('[data-test=rows] tr[data-result=created]').count(), 3)
    assert.match(await page.textContent('[data-test=rows] tr[data-result=error]'), /提交时间/)
    await assertAccessible(page, 'import report')
    await context.close()

    const taxonomy = (await stack.admin('GET', '/v1/taxonomy')).body
    assert.ok(taxonomy.categories.some((c) => c.name_zh === '发票事务'), 'the kept label is a category now')
    assert.ok(!taxonomy.categories.some((c) => c.name_zh === '技术咨询'), 'the mapped label is not')
    const tickets = (await stack.admin('GET', `/v1/tickets?q=${encodeURIComponent('E2E导入 软件安装')}&limit=5`)).body
    assert.equal(tickets.items[0]?.category, 'technical_fault')
  })

  it('renames a category and adds a tag as a new taxonomy version, explains a refusal, and rolls back', async () => {
    const { page, context } = await person(env.browser)
    await adminIn(page)
    await page.click('nav a[href="/admin/taxonomy"]')
    const list = page.locator('[data-test=list-categories]')
    await list.waitFor()
    await assertAccessible(page, 'taxonomy page')
    // A new problem type is saved with a route to the department the admin picks, in one change; removed
    // again, its route goes with it.
    await page.click('[data-test=add]')
    const added = list.locator('tbody tr').last()
    await added.locator('input[data-test=name-en]').fill('Invoice')
    assert.equal(await added.locator('input[data-test=code]').inputValue(), 'invoice')
    await added.locator('input[data-test=name-zh]').fill('发票')
    await page.selectOption('select[data-test=route-to]', 'sales')
    await page.fill('input[data-test=note]', 'e2e invoice')
    await page.click('[data-test=save]')
    await page.waitForSelector('[data-test=saved]')
    let routing = (await stack.admin('GET', '/v1/setup/routing')).body
    assert.deepEqual(
      routing.body.routes.filter((r) => r.when.category === 'invoice').map((r) => r.departments),
      [['sales']],
    )
    assert.ok((await stack.admin('GET', '/v1/taxonomy')).body.categories.some((c) => c.code === 'invoice'))
    await list.locator('tbody tr', { has: page.locator('code', { hasText: /^invoice$/ }) }).locator('button', { hasText: '删除' }).click()
    await page.fill('input[data-test=note]', 'e2e invoice removed')
    await page.click('[data-test=save]')
    await page.locator('[data-test=history]', { hasText: 'e2e invoice removed' }).waitFor()
    routing = (await stack.admin('GET', '/v1/setup/routing')).body
    assert.ok(!routing.body.routes.some((r) => r.when.category === 'invoice'), 'the route went with its category')
    // A new name and a new tag are taken.
    await list.locator('tr[data-row="0"] input[data-test=name-zh]').fill('售前咨询（E2E）')
    await page.click('[data-test=tab-tags]')
    await page.click('[data-test=add]')
    const tag = page.locator('[data-test=list-tags] tbody tr').last()
    await tag.locator('input[data-test=name-en]').fill('Invoice wrong')
    await tag.locator('input[data-test=name-zh]').fill('发票错误')
    await page.fill('input[data-test=note]', 'e2e taxonomy')
    await page.click('[data-test=save]')
    await page.waitForSelector('[data-test=saved]')
    await page.locator('[data-test=history]', { hasText: 'e2e taxonomy' }).waitFor()
    let taxonomy = (await stack.admin('GET', '/v1/taxonomy')).body
    assert.equal(taxonomy.categories[0].name_zh, '售前咨询（E2E）')
    assert.ok(taxonomy.tags.some((t) => t.code === 'invoice_wrong' && t.name_zh === '发票错误'))
    // The rollback is a version of its own, on top of the history.
    const versions = await page.locator('[data-test=history] > li').count()
    await page.click('[data-test=rollback]')
    await page.waitForFunction((n) => document.querySelectorAll('[data-test=history] > li').length === n + 1, versions)
    taxonomy = (await stack.admin('GET', '/v1/taxonomy')).body
    assert.equal(taxonomy.categories[0].name_zh, '售前咨询')
    await context.close()
  })

  it('edits the SLA document on its JSON tab: checked as typed, the api refusal explained', async () => {
    const { page, context } = await person(env.browser)
    await adminIn(page)
    await page.click('nav a[href="/admin/sla"]')
    // The JSON tab holds the same document whole, for those who prefer to type it.
    await page.waitForSelector('[data-test=clocks]')
    await page.click('[data-test=mode-json]')
    const json = page.locator('textarea[data-test=json]')
    await page.waitForFunction(() => document.querySelector('textarea[data-test=json]')?.value.includes('warning_fractions'))
    const original = await json.inputValue()
    await json.fill(original.slice(0, -3))
    await page.locator('[data-test=json-status]', { hasText: '不是有效的 JSON' }).waitFor()
    assert.ok(await page.locator('[data-test=save]').isDisabled())
    const doc = JSON.parse(original)
    doc.policy.warning_fractions = [1.5]
    await json.fill(JSON.stringify(doc, null, 2))
    await page.click('[data-test=save]')
    await page.locator('[data-test=problems]', { hasText: '预警比例必须在 0 与 1 之间' }).waitFor()
    doc.policy.warning_fractions = [0.5, 0.9]
    await json.fill(JSON.stringify(doc, null, 2))
    await page.fill('input[data-test=note]', 'e2e earlier warning')
    await page.click('[data-test=save]')
    await page.waitForSelector('[data-test=saved]')
    const sla = (await stack.admin('GET', '/v1/setup/sla')).body
    assert.deepEqual(sla.body.policy.warning_fractions, [0.5, 0.9])
    await page.click('[data-test=tab-calendars]')
    await page.waitForFunction(() => document.querySelector('textarea[data-test=json]')?.value.includes('weekly'))
    await assertAccessible(page, 'deadlines and calendars page')
    await context.close()
  })

  it('shows the classifier page, and every admin page in both languages at laptop and phone width is accessible', async () => {
    const pages = [
      ['/admin/users', '[data-test=users] [data-user]', 'admin-users'],
      ['/admin/routing', '[data-test=route-0]', 'admin-routing'],
      ['/admin/departments', '[data-test=departments] [data-department]', 'admin-departments'],
      ['/admin/taxonomy', '[data-test=list-categories]', 'admin-taxonomy'],
      ['/admin/sla', '[data-test=clocks]', 'admin-sla'],
      ['/admin/import', '[data-test=import-file]', 'admin-import'],
      ['/admin/classifier', '[data-test=train]', 'admin-classifier'],
    ]
    for (const viewport of [LAPTOP, PHONE]) {
      for (const locale of ['zh-CN', 'en']) {
        const { page, context } = await person(env.browser, { viewport, locale })
        await adminIn(page)
        for (const [path, ready, name] of pages) {
          await page.goto(`${stack.base}${path}`)
          await page.waitForSelector(ready)
          await screenshot(page, name)
          await assertAccessible(page, `${name} ${locale} ${viewport.width}`)
        }
        await context.close()
      }
    }
    // A training request is recorded and listed (the router trains it in the background).
    const { page, context } = await person(env.browser, { locale: 'en' })
    await adminIn(page)
    await page.goto(`${stack.base}/admin/classifier`)
    await page.click('[data-test=train]')
    await page.locator('[data-test=models] [data-model]').first().waitFor()
    assert.match(await page.textContent('[data-test=live-model]'), /shipped/)
    await context.close()
  })
})

// The classifier learns the business's history, from the console (issue 20), on the real api and
// workers, a fresh database and prefix, Debian's chromium: a team's 200-row tracking sheet in its own
// four problem types is imported; the admin asks for a model, reads its held-out macro-F1 beside the
// live model's, adopts it; the running router switches without a restart, and the next ticket's
// timeline says the adopted model decided it.
import { describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { ADMIN_TOKEN, ROOT, submission } from './stack.mjs'
import { adminStack } from './admin-stack.mjs'
import { assertAccessible, person, screenshot } from './browser.mjs'

const env = adminStack('sun.admin')
const { stack, adminIn } = env

/** The team's sheet as they keep it: Chinese headers, their own labels, one row per ticket. */
function teamSheet() {
  const rows = readFileSync(join(ROOT, 'tests/data/router/team_200.tsv'), 'utf8')
    .split('\n')
    .filter((l) => l && !l.startsWith('#') && !l.startsWith('text\t'))
    .map((l) => l.split('\t'))
  const lines = rows.map(([text, label], i) => {
    const time = `${String(8 + Math.floor(i / 60)).padStart(2, '0')}:${String(i % 60).padStart(2, '0')}`
    return ['2024-05-06', `T${i + 1}`, `"${text.replaceAll('"', '""')}"`, label, time, '-'].join(',')
  })
  return { count: rows.length, csv: ['日期,客户编号,问题描述,问题类型,提交时间,备注', ...lines].join('\n') }
}

describe("the classifier trained on the team's history, from the console", () => {
  it('trains on the imported sheet, shows the figures beside the live model, adopts, and the router uses it', async () => {
    const sheet = teamSheet()
    const imported = await fetch(`${stack.base}/v1/import?format=csv&department=customer_service`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'text/csv' },
      body: sheet.csv,
    })
    const report = await imported.json()
    assert.equal(imported.status, 200, JSON.stringify(report).slice(0, 500))
    assert.equal(report.rows.filter((r) => r.result === 'created').length, sheet.count, JSON.stringify(report.rows.find((r) => r.error)))
    assert.deepEqual(report.added_categories.map((a) => a.label).sort(), ['咨询反馈', '售后咨询', '售后投诉', '技术咨询'])

    const { page, context } = await person(env.browser, { locale: 'zh-CN' })
    await adminIn(page)
    await page.goto(`${stack.base}/admin/classifier`)
    await page.click('[data-test=train]')
    // The router trains in the background; the page asks again every few seconds until it is done.
    const row = page.locator('[data-test=models] [data-model]').first()
    await row.locator('.tag.trained').waitFor({ timeout: 240_000 })
    const version = await row.getAttribute('data-model')
    assert.match(await row.textContent(), new RegExp(`${sheet.count}`), 'every imported row is an example')

    await row.locator('[data-test=show]').click()
    const evaluation = page.locator('[data-test=evaluation]')
    await evaluation.locator('[data-test=macro-candidate]').waitFor()
    const percent = async (what) => Number((await evaluation.locator(`[data-test=${what}]`).textContent()).replace(/[^\d.]/g, ''))
    const candidate = await percent('macro-candidate')
    const live = await percent('macro-live')
    // The shipped model knows none of the team's four categories; the trained one learned them.
    assert.ok(candidate > 60 && candidate > live, `candidate ${candidate} % vs live ${live} %`)
    assert.match(await evaluation.locator('[data-test=verdict]').textContent(), /高于当前模型/)
    for (const label of ['技术咨询', '售后投诉', '咨询反馈', '售后咨询']) {
      assert.match(await evaluation.locator('[data-test=per-label]').textContent(), new RegExp(label))
    }
    await assertAccessible(page, 'classifier evaluation')
    await screenshot(page, 'admin-classifier-evaluation')

    await row.locator('[data-test=adopt]').click()
    await page.locator('[data-test=live-model]', { hasText: `v${version}` }).waitFor()

    // The adoption reaches the running router over the bus; the first ticket after it is decided by
    // the adopted model, and its timeline names the version.
    let ticket = null
    const until = Date.now() + 30_000
    while (!ticket && Date.now() < until) {
      const s = submission(`E2E模型 APP一直闪退，登录不了 ${Date.now()}`)
      await stack.publish(s)
      const t = await stack.ticketFor(s.description)
      const detail = (await stack.admin('GET', `/v1/tickets/${t.ticket_no}`)).body
      const classified = detail.timeline.find((e) => e.kind === 'classified' || e.kind === 'classified_needs_review')
      if (classified?.data?.model_version === `v${version}`) ticket = t
    }
    assert.ok(ticket, `no ticket was decided by v${version} within 30 s of the adoption`)
    await page.goto(`${stack.base}/desk/tickets/${ticket.ticket_no}`)
    await page.locator('[data-test=timeline] [data-test=decided-by]', { hasText: `模型 v${version}` }).waitFor()
    await context.close()
  })
})

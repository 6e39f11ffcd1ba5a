// The agents' desk end to end: the real api and workers (fresh database and prefix), the built
// console, Debian's chromium. What issue 18 asks to be shown, in order.
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Stack, marker, submission } from './stack.mjs'
import { assertAccessible, LAPTOP, launch, person, PHONE, screenshot, signIn } from './browser.mjs'

const stack = new Stack()
let browser
let agent, supervisor, stranger
let ticketNo

before(async () => {
  await stack.start()
  browser = await launch()
  agent = await stack.user('wang.li', 'agent', 'customer_service')
  supervisor = await stack.user('zhao.min', 'supervisor', 'customer_service')
  stranger = await stack.user('liu.yang', 'agent', 'logistics')
})

after(async () => {
  await browser?.close()
  await stack.stop()
})


async function act(page, action, fill = async () => {}) {
  await page.click(`[data-action=${action}]`)
  const form = page.locator(`form[data-form=${action}]`)
  await form.waitFor()
  await fill(form)
  await form.locator('[data-test=submit-action]').click()
  return form
}

describe('the agents desk', () => {
  it('lets an agent sign in and see the inbox, accessible, in Chinese', async () => {
    const { page, context } = await person(browser)
    await page.goto(`${stack.base}/`)
    await page.waitForSelector('[data-test=sign-in]')
    await assertAccessible(page, 'sign-in page')
    await screenshot(page, 'sign-in')
    await page.fill('input[data-test=name]', agent.name)
    await page.fill('input[data-test=password]', 'not-the-password')
    await page.click('[data-test=sign-in]')
    await page.waitForSelector('[data-test=refusal]')
    assert.match(await page.textContent('[data-test=refusal]'), /用户名或密码不正确/)
    await page.fill('input[data-test=password]', agent.password)
    await page.click('[data-test=sign-in]')
    await page.waitForSelector('[data-test=inbox-list]')
    assert.equal(await page.textContent('h1'), '待处理反馈')
    await assertAccessible(page, 'inbox')
    await context.close()
  })

  it('shows a submission published to intake in the open inbox within 2 s, without a reload', async () => {
    const { page, context } = await person(browser)
    await signIn(page, stack.base, agent)
    await page.waitForSelector('[data-test=live-status] .dot')
    await page.waitForFunction(() => document.querySelector('[data-test=live-status]')?.classList.contains('on'))
    const mark = marker('live')
    const words = `${mark} 客服态度很差，电话里一直不耐烦，问题也没解决`
    const navigations = []
    page.on('framenavigated', (f) => f === page.mainFrame() && navigations.push(f.url()))
    const sent = Date.now()
    await stack.publish(submission(words))
    const row = page.locator('[data-test=inbox-row]', { hasText: mark })
    await row.waitFor({ timeout: 2000 })
    const waited = Date.now() - sent
    assert.ok(waited <= 2000, `appeared after ${waited} ms`)
    assert.deepEqual(navigations, [], 'the page did not reload')
    ticketNo = await row.getAttribute('data-ticket')
    assert.match(ticketNo, /^\d{11,}$/)
    assert.ok(await row.evaluate((el) => el.classList.contains('unread')), 'a new ticket is unread')
    await screenshot(page, 'inbox')
    await context.close()
  })

  it('lets the agent open it from the keyboard, reply, record steps and propose a solution', async () => {
    const { page, context } = await person(browser)
    await signIn(page, stack.base, agent)
    const row = page.locator(`[data-ticket="${ticketNo}"]`)
    await row.waitFor()
    await row.focus()
    await page.keyboard.press('Enter')
    await page.waitForSelector('[data-test=description]')
    assert.match(await page.textContent('h1'), new RegExp(ticketNo))
    await assertAccessible(page, 'ticket page')
    // The buttons are exactly what the api allows this agent now (asked with the agent's own session).
    const asked = await context.request.get(`${stack.base}/v1/tickets/${ticketNo}/actions`)
    assert.equal(asked.status(), 200)
    const allowed = (await asked.json()).allowed_actions
    const shown = await page.locator('[data-action]').evaluateAll((els) => els.map((e) => e.dataset.action))
    assert.deepEqual([...shown].sort(), [...allowed].sort())
    assert.ok(shown.includes('reply') && !shown.includes('approve'), 'an agent may reply, not approve')

    await page.keyboard.press('r')
    const reply = page.locator('form[data-form=reply]')
    await reply.waitFor()
    await reply.locator('textarea').fill('王女士您好，非常抱歉给您带来不好的体验，我们马上核实。')
    await reply.locator('[data-test=submit-action]').click()
    await reply.waitFor({ state: 'detached' })
    await page.locator('[data-test=timeline] [data-kind=replied]').waitFor()

    for (const [step, result] of [
      ['2', '已核实客户编号与订单号'],
      ['3', '坐席话术不当，态度问题属实'],
    ]) {
      await act(page, 'step', async (form) => {
        await form.locator('[data-field=step] select').selectOption(step)
        await form.locator('[data-field=result] input').fill(result)
      })
      await page.locator(`[data-test=steps] tr[data-step="${step}"]`, { hasText: result }).waitFor()
    }
    await act(page, 'step', async (form) => {
      await form.locator('[data-field=step] select').selectOption('4')
      await form.locator('[data-field=solution] textarea').fill('向客户致歉并赠送优惠券，对坐席进行话术培训')
    })
    await page.locator('[data-test=steps] tr[data-step="4"]', { hasText: '优惠券' }).waitFor()
    await screenshot(page, 'ticket')
    await context.close()
  })

  it('lets a supervisor assign the owner and approve the solution', async () => {
    const { page, context } = await person(browser)
    await signIn(page, stack.base, supervisor)
    await page.goto(`${stack.base}/desk/tickets/${ticketNo}`)
    await page.waitForSelector('[data-test=description]')
    await act(page, 'assign', (form) => form.locator('[data-field=owner] input').fill(agent.name))
    await page.locator('[data-test=owner]', { hasText: agent.name }).waitFor()
    await act(page, 'approve', (form) => form.locator('[data-field=remark] textarea').fill('同意'))
    await page.locator('[data-test=approved]').waitFor()
    await context.close()
  })

  it('shows a refused action in words, keeping what was typed, then resolves', async () => {
    const { page, context } = await person(browser)
    await signIn(page, stack.base, agent)
    await page.goto(`${stack.base}/desk/tickets/${ticketNo}`)
    await page.waitForSelector('[data-test=description]')
    const form = await act(page, 'resolve', async (f) => {
      await f.locator('[data-field=resolution] select').selectOption('partial')
      await f.locator('[data-field=solution] textarea').fill('已致歉并补偿')
    })
    const refusal = form.locator('[data-test=refusal]')
    await refusal.waitFor()
    assert.match(await refusal.textContent(), /请填写“原因”/)
    assert.equal(await form.locator('[data-field=solution] textarea').inputValue(), '已致歉并补偿')
    await form.locator('[data-field=resolution] select').selectOption('full')
    await form.locator('[data-test=submit-action]').click()
    await form.waitFor({ state: 'detached' })
    await page.locator('[data-test=ticket-status]', { hasText: '已解决' }).waitFor()

    // A second tab still showing the old buttons: the api refuses, the page says why in words.
    const second = await context.newPage()
    await second.goto(`${stack.base}/desk/tickets/${ticketNo}`)
    await second.waitForSelector('[data-test=description]')
    assert.equal(await second.locator('[data-action=reply]').count(), 0, 'no reply button on a resolved ticket')
    await context.close()
  })

  it('answers a stale button with the reason, in the user language', async () => {
    const { page, context } = await person(browser)
    await signIn(page, stack.base, agent)
    const mark = marker('stale')
    await stack.publish(submission(`${mark} 客服挂断电话，态度恶劣`))
    const t = await stack.ticketFor(mark)
    await page.goto(`${stack.base}/desk/tickets/${t.ticket_no}`)
    await page.waitForSelector('[data-action=reply]')
    // Someone else resolves it meanwhile; the feed may refresh the page, so open the form first.
    await page.click('[data-action=reply]')
    const form = page.locator('form[data-form=reply]')
    await form.locator('textarea').fill('这段文字不能丢')
    const other = await person(browser)
    await signIn(other.page, stack.base, supervisor)
    await other.page.goto(`${stack.base}/desk/tickets/${t.ticket_no}`)
    await act(other.page, 'resolve')
    await other.page.locator('[data-test=ticket-status]', { hasText: '已解决' }).waitFor()
    await other.context.close()
    await form.locator('[data-test=submit-action]').click()
    const refusal = form.locator('[data-test=refusal]')
    await refusal.waitFor()
    assert.match(await refusal.textContent(), /已解决/)
    assert.equal(await form.locator('textarea').inputValue(), '这段文字不能丢')
    await context.close()
  })

  it('hides the ticket from an agent of another department, in the list and by address', async () => {
    const { page, context } = await person(browser)
    await signIn(page, stack.base, stranger)
    await page.waitForSelector('[data-test=inbox-count]')
    assert.equal(await page.locator(`[data-ticket="${ticketNo}"]`).count(), 0)
    await page.goto(`${stack.base}/desk/tickets/${ticketNo}`)
    const refusal = page.locator('[data-test=refusal]')
    await refusal.waitFor()
    assert.match(await refusal.textContent(), /找不到这张工单/)
    assert.equal(await page.locator('[data-test=description]').count(), 0)
    await context.close()
  })

  it('renders in English on the switch, and every page at laptop and phone width is accessible', async () => {
    for (const viewport of [LAPTOP, PHONE]) {
      for (const locale of ['zh-CN', 'en']) {
        const { page, context } = await person(browser, { viewport, locale })
        await page.goto(`${stack.base}/sign-in`)
        await page.waitForSelector('[data-test=sign-in]')
        await screenshot(page, 'sign-in')
        await assertAccessible(page, `sign-in ${locale} ${viewport.width}`)
        await signIn(page, stack.base, supervisor)
        await page.locator(`[data-ticket="${ticketNo}"]`).waitFor().catch(() => {})
        assert.equal(await page.textContent('h1'), locale === 'en' ? 'Inbox' : '待处理反馈')
        await screenshot(page, 'inbox')
        await assertAccessible(page, `inbox ${locale} ${viewport.width}`)
        await page.keyboard.press('?')
        await page.locator('[data-test=shortcut-help]').waitFor()
        // The dialog fades in: axe measures contrast, so wait until no transition runs.
        await page.waitForFunction(() => document.getAnimations().every((a) => a.playState !== 'running'))
        await screenshot(page, 'shortcuts')
        await assertAccessible(page, `shortcut help ${locale} ${viewport.width}`)
        await page.keyboard.press('Escape')
        await page.goto(`${stack.base}/desk/tickets/${ticketNo}`)
        await page.waitForSelector('[data-test=description]')
        await screenshot(page, 'ticket')
        await assertAccessible(page, `ticket ${locale} ${viewport.width}`)
        await context.close()
      }
    }
    // The switch itself: Chinese to English without a reload.
    const { page, context } = await person(browser)
    await signIn(page, stack.base, agent)
    await page.click('[data-test=lang-en]')
    await page.locator('h1', { hasText: 'Inbox' }).waitFor()
    assert.equal(await page.evaluate(() => document.documentElement.lang), 'en')
    await context.close()
  })

  it('signs out, and signs out everywhere', async () => {
    const a = await person(browser)
    const b = await person(browser)
    await signIn(a.page, stack.base, agent)
    await signIn(b.page, stack.base, agent)
    await a.page.click('[data-test=account]')
    await a.page.click('[data-test=sign-out-everywhere]')
    await a.page.waitForSelector('[data-test=sign-in]')
    await b.page.reload()
    await b.page.waitForSelector('[data-test=sign-in]')
    assert.equal((await a.context.cookies()).filter((c) => c.name === 'loopdesk_session' && c.value).length <= 1, true)
    await a.context.close()
    await b.context.close()
  })
})

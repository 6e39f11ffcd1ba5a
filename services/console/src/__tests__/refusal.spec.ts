import { describe, expect, it } from 'vitest'
import { Refusal } from '@/api/refusal'
import { explainRefusal } from '@/i18n/refusal'
import { commonMessages, translator } from './locale-helper'

const zh = translator(commonMessages('zh-CN'))
const en = translator(commonMessages('en'))

function answer(status: number, body: unknown, headers: Record<string, string> = {}) {
  return Refusal.fromResponse(new Response(null, { status, headers }), body)
}

describe('a refusal in the user language', () => {
  it('names the action and the status of an invalid transition', () => {
    const r = answer(409, {
      error: { code: 'invalid_transition', message: 'cannot resolve', details: { action: 'resolve', status: 'archived' } },
    })
    expect(explainRefusal(zh, r)).toBe('工单当前状态为“已归档”，不能执行“确认解决”。')
    expect(explainRefusal(en, r)).toBe('The ticket is “Archived”, so “Resolve” is not possible now.')
  })

  it('says why a 403 was refused', () => {
    const dept = answer(403, { error: { code: 'forbidden', message: 'x', details: { reason: 'department' } } })
    expect(explainRefusal(zh, dept)).toBe('这张工单属于其他部门，你不能处理。')
    const role = answer(403, { error: { code: 'forbidden', message: 'x', details: { reason: 'role' } } })
    expect(explainRefusal(en, role, 'inspector')).toBe('Your role (Quality inspector) may not do this.')
    const csrf = answer(403, { error: { code: 'forbidden', message: 'x', details: { reason: 'csrf' } } })
    expect(explainRefusal(en, csrf)).toContain('Reload the page')
    const bare = answer(403, { error: { code: 'forbidden', message: 'x' } })
    expect(explainRefusal(zh, bare)).toBe('你没有权限执行这个操作。')
  })

  it('names the field that is missing, too long or invalid', () => {
    const r = answer(400, { error: { code: 'missing_field', message: 'x', field: 'reason' } })
    expect(explainRefusal(zh, r)).toBe('请填写“原因”。')
    expect(explainRefusal(en, r)).toBe('Fill in “Reason”.')
    const unnamed = answer(422, { error: { code: 'invalid_value', message: 'x' } })
    expect(explainRefusal(en, unnamed)).toBe('Something sent is not valid; check it and try again.')
  })

  it('says how long to wait after a 429', () => {
    const r = answer(429, { error: { code: 'rate_limited', message: 'x' } }, { 'Retry-After': '30' })
    expect(r.retryAfter).toBe(30)
    expect(explainRefusal(zh, r)).toBe('尝试次数过多，请在 30 秒后再试。')
  })

  it('covers 401 and 404 by their codes', () => {
    expect(explainRefusal(en, answer(401, { error: { code: 'invalid_credentials', message: 'x' } }))).toBe(
      'The name or password is not right.',
    )
    expect(explainRefusal(zh, answer(404, { error: { code: 'not_found', message: 'x' } }))).toBe(
      '找不到这张工单，或它不属于你的部门。',
    )
  })

  it('falls back to the status, then to the api message, for codes it does not know', () => {
    expect(explainRefusal(en, answer(409, { error: { code: 'brand_new', message: 'x' } }))).toBe(
      'The ticket has changed; this is not possible now.',
    )
    expect(explainRefusal(en, answer(418, { error: { code: 'teapot', message: 'I am a teapot' } }))).toBe(
      'Not done: I am a teapot',
    )
    expect(explainRefusal(zh, answer(502, '<html>bad gateway</html>'))).toBe('服务器出错了，请稍后重试。')
  })

  it('explains a request that got no answer', () => {
    expect(explainRefusal(zh, Refusal.network(new TypeError('Failed to fetch')))).toContain('无法连接服务器')
  })
})

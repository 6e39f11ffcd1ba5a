import { describe, expect, it } from 'vitest'
import { listProblems, readJson, routesFollowing, suggestCode, taxonomyProblems, type Taxonomy } from '../setupDoc'

const n = (code: string, name_zh = '名', name_en = '') => ({ code, name_zh, name_en })
const sound: Taxonomy = {
  categories: [n('order'), n('other')],
  feedback_types: [n('service_attitude')],
  priorities: [n('urgent'), n('general'), n('suggestion')],
  tags: [],
}

describe('the taxonomy, checked as the admin types', () => {
  it('accepts a sound taxonomy, tags may be none', () => {
    expect(taxonomyProblems(sound)).toEqual([])
  })

  it('names an empty list, a bad or repeated code and a missing Chinese name, with their paths', () => {
    const t: Taxonomy = { ...sound, categories: [n('order'), n('order'), n('bad code'), n('x'.repeat(65)), n('new', '  ')], feedback_types: [] }
    expect(taxonomyProblems(t).map((p) => `${p.code}@${p.path}`)).toEqual([
      'duplicate_code@categories[1].code',
      'bad_code@categories[2].code',
      'bad_code@categories[3].code',
      'missing_name@categories[4].name_zh',
      'empty_list@feedback_types',
    ])
    expect(listProblems('tags', [n('')], true).map((p) => p.code)).toEqual(['bad_code'])
  })

  it('suggests a code from the English name', () => {
    expect(suggestCode(' Invoice & receipts ')).toBe('invoice_receipts')
    expect(suggestCode('发票')).toBe('')
  })
})

describe('a setup document typed as JSON', () => {
  it('is an object or says why not', () => {
    expect(readJson('{"a": 1}')).toEqual({ ok: true, value: { a: 1 } })
    expect(readJson('[1]')).toEqual({ ok: false, error: 'not_object' })
    const bad = readJson('{"a": ')
    expect(bad.ok).toBe(false)
  })
})

describe('the routes that go with a change of categories', () => {
  const routing = {
    routes: [
      { when: { tag: 'vip' }, departments: ['customer_service'] },
      { when: { category: 'order' }, departments: ['order_ops'] },
      { when: { category: 'other' }, departments: ['customer_service'], lead: 'customer_service' },
    ],
    first_response_hours: { urgent: 2 },
  }
  it('adds a route for a new category and drops the routes of a removed one', () => {
    const next = routesFollowing(routing, ['order', 'other'], ['order', 'invoice'], 'sales')!
    expect(next.routes).toEqual([
      { when: { tag: 'vip' }, departments: ['customer_service'] },
      { when: { category: 'order' }, departments: ['order_ops'] },
      { when: { category: 'invoice' }, departments: ['sales'] },
    ])
    expect(next.first_response_hours).toEqual({ urgent: 2 })
    expect(routing.routes).toHaveLength(3)
  })
  it('changes nothing when the categories are the same, and keeps a route that already serves one', () => {
    expect(routesFollowing(routing, ['order', 'other'], ['other', 'order'], 'sales')).toBeNull()
    const next = routesFollowing(routing, ['order'], ['order', 'other'], 'sales')!
    expect(next.routes.filter((r) => r.when.category === 'other')).toHaveLength(1)
  })
})

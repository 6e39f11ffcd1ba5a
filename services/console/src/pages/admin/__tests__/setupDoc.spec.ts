import { describe, expect, it } from 'vitest'
import { listProblems, readJson, suggestCode, taxonomyProblems, type Taxonomy } from '../setupDoc'

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

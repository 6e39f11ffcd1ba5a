// Every locale file has the same keys in every language, and every key the console's tables
// refer to (shortcuts, action buttons, form fields, steps) exists in each.
import { readFileSync, readdirSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { assemble, LOCALES, leafKeys, type MessageTree } from '@/i18n/messages'
import { SHORTCUTS } from '@/keyboard/shortcuts'
import { ACTION_CODES, FORMS, STEP_NAMES } from '@/pages/desk/ticket/forms'

const SRC = join(__dirname, '..')

function localeFiles(): Record<string, MessageTree> {
  const out: Record<string, MessageTree> = {}
  const add = (rel: string) => {
    out[rel] = JSON.parse(readFileSync(join(SRC, rel), 'utf8')) as MessageTree
  }
  for (const f of readdirSync(join(SRC, 'i18n/locales'))) add(`i18n/locales/${f}`)
  for (const area of readdirSync(join(SRC, 'pages'))) {
    const dir = join(SRC, 'pages', area, 'locales')
    if (existsSync(dir)) for (const f of readdirSync(dir)) add(`pages/${area}/locales/${f}`)
    // Messages loaded when the area is first opened (src/i18n/lazy.ts) are checked the same way.
    const lazy = join(SRC, 'pages', area, 'lazy', 'locales')
    if (existsSync(lazy)) for (const f of readdirSync(lazy)) add(`pages/${area}/lazy/locales/${f}`)
  }
  return out
}

const files = localeFiles()
const trees = assemble(files) as Record<string, MessageTree>

describe('locale files', () => {
  it('exist for every language in every area that has any', () => {
    const groups = new Map<string, Set<string>>()
    for (const path of Object.keys(files)) {
      const dir = path.slice(0, path.lastIndexOf('/'))
      const lang = path.slice(path.lastIndexOf('/') + 1, -'.json'.length)
      if (!groups.has(dir)) groups.set(dir, new Set())
      groups.get(dir)!.add(lang)
    }
    for (const [dir, langs] of groups) expect([...langs].sort(), dir).toEqual([...LOCALES].sort())
  })

  it('have the same keys in every language', () => {
    const [first, ...rest] = LOCALES
    const reference = new Set(leafKeys(trees[first]!))
    for (const lang of rest) {
      const keys = new Set(leafKeys(trees[lang]!))
      const missing = [...reference].filter((k) => !keys.has(k))
      const extra = [...keys].filter((k) => !reference.has(k))
      expect({ lang, missing, extra }).toEqual({ lang, missing: [], extra: [] })
    }
  })

  it('put an area\'s lazy messages beside its eager ones (the titles the navigation needs first)', () => {
    for (const lang of LOCALES) {
      const keys = new Set(leafKeys(trees[lang]!))
      expect(keys.has('admin.users.title') && keys.has('admin.users.create') && keys.has('admin.routing.intro')).toBe(true)
    }
  })

  it('have no empty message', () => {
    for (const lang of LOCALES) {
      const empty = leafKeys(trees[lang]!).filter((k) => {
        const v = k.split('.').reduce<unknown>((t, p) => (t as MessageTree)[p], trees[lang])
        return typeof v !== 'string' || !v.trim()
      })
      expect({ lang, empty }).toEqual({ lang, empty: [] })
    }
  })

  it('name every shortcut, action, form field and handling step the console shows', () => {
    const needed = [
      ...SHORTCUTS.map((s) => `shortcuts.${s.command}`),
      ...SHORTCUTS.map((s) => `shortcuts.scope.${s.scope}`),
      ...ACTION_CODES.map((c) => `labels.action.${c}`),
      ...Object.values(FORMS).flatMap((fields) => fields.map((f) => `fields.${f.name}`)),
      ...Object.values(FORMS).flatMap((fields) => fields.flatMap((f) => (f.help ? [f.help] : []))),
      ...STEP_NAMES.map((s) => `labels.step.${s}`),
    ]
    for (const lang of LOCALES) {
      const keys = new Set(leafKeys(trees[lang]!))
      expect({ lang, missing: needed.filter((k) => !keys.has(k)) }).toEqual({ lang, missing: [] })
    }
  })
})

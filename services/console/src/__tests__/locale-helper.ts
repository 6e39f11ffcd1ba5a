// The shipped locale messages as plain trees, and a minimal translator over them (named `{x}`
// placeholders only, which is all the console's messages use), for tests that run without Vue.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Translator } from '@/i18n/refusal'
import type { MessageTree } from '@/i18n/messages'

export function commonMessages(lang: string): MessageTree {
  return JSON.parse(readFileSync(join(__dirname, '..', 'i18n', 'locales', `${lang}.json`), 'utf8')) as MessageTree
}

export function translator(tree: MessageTree): Translator {
  const find = (key: string) => key.split('.').reduce<unknown>((t, p) => (t as MessageTree | undefined)?.[p], tree)
  return {
    te: (key) => find(key) !== undefined,
    t: (key, params = {}) => {
      const v = find(key)
      if (typeof v !== 'string') return key
      return v.replace(/\{(\w+)\}/g, (_, name: string) => String(params[name] ?? `{${name}}`))
    },
  }
}

import { describe, expect, it } from 'vitest'
import { commandFor, SHORTCUTS } from '@/keyboard/shortcuts'

const press = (key: string, target: unknown = { tagName: 'BODY' }, mods = {}) =>
  ({ key, target, ctrlKey: false, metaKey: false, altKey: false, ...mods }) as unknown as KeyboardEvent

describe('the shortcut table', () => {
  it('has the keys the desk promises', () => {
    const inbox = SHORTCUTS.filter((s) => s.scope === 'inbox').map((s) => `${s.key}:${s.command}`)
    expect(inbox).toEqual(expect.arrayContaining(['j:next', 'k:previous', 'Enter:open', 'r:reply', 'e:resolve']))
    expect(SHORTCUTS.some((s) => s.key === '?' && s.scope === 'global' && s.command === 'help')).toBe(true)
  })

  it('gives each key one meaning per page', () => {
    for (const scope of ['inbox', 'ticket'] as const) {
      const keys = SHORTCUTS.filter((s) => s.scope === scope || s.scope === 'global').map((s) => s.key)
      expect(new Set(keys).size, scope).toBe(keys.length)
    }
  })

  it('maps a key to its command on the right page only', () => {
    expect(commandFor(press('j'), 'inbox')).toBe('next')
    expect(commandFor(press('j'), 'ticket')).toBeNull()
    expect(commandFor(press('r'), 'ticket')).toBe('reply')
    expect(commandFor(press('?'), 'ticket')).toBe('help')
  })

  it('leaves keys typed into a field, or with a modifier, alone', () => {
    expect(commandFor(press('j', { tagName: 'INPUT' }), 'inbox')).toBeNull()
    expect(commandFor(press('e', { tagName: 'TEXTAREA' }), 'ticket')).toBeNull()
    expect(commandFor(press('r', { tagName: 'DIV', isContentEditable: true }), 'inbox')).toBeNull()
    expect(commandFor(press('r', { tagName: 'BODY' }, { ctrlKey: true }), 'inbox')).toBeNull()
  })
})

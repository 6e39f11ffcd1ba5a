// Every keyboard shortcut of the console, in one table: the help dialog (`?`) lists exactly these,
// and pages bind them through `useShortcuts`, so a key cannot do something the help does not say.

export type Scope = 'global' | 'inbox' | 'ticket'

export type Command = 'next' | 'previous' | 'open' | 'reply' | 'resolve' | 'help' | 'search' | 'back'

export interface Shortcut {
  /** `KeyboardEvent.key` as the browser reports it. */
  key: string
  /** What the key is printed as in the help. */
  label: string
  scope: Scope
  command: Command
}

export const SHORTCUTS: readonly Shortcut[] = [
  { key: 'j', label: 'j', scope: 'inbox', command: 'next' },
  { key: 'k', label: 'k', scope: 'inbox', command: 'previous' },
  { key: 'Enter', label: 'Enter', scope: 'inbox', command: 'open' },
  { key: 'r', label: 'r', scope: 'inbox', command: 'reply' },
  { key: 'e', label: 'e', scope: 'inbox', command: 'resolve' },
  { key: '/', label: '/', scope: 'inbox', command: 'search' },
  { key: 'r', label: 'r', scope: 'ticket', command: 'reply' },
  { key: 'e', label: 'e', scope: 'ticket', command: 'resolve' },
  { key: 'u', label: 'u', scope: 'ticket', command: 'back' },
  { key: '?', label: '?', scope: 'global', command: 'help' },
]

/** Keys typed into a field are text, not commands. */
export function isTyping(target: EventTarget | null): boolean {
  const el = target as HTMLElement | null
  if (!el || typeof el.tagName !== 'string') return false
  if (el.isContentEditable) return true
  return ['INPUT', 'TEXTAREA', 'SELECT'].includes(el.tagName)
}

/** The command a key press means on a page of `scope`, if any. */
export function commandFor(
  e: Pick<KeyboardEvent, 'key' | 'target' | 'ctrlKey' | 'metaKey' | 'altKey'>,
  scope: Scope,
): Command | null {
  if (e.ctrlKey || e.metaKey || e.altKey || isTyping(e.target)) return null
  const hit = SHORTCUTS.find((s) => s.key === e.key && (s.scope === scope || s.scope === 'global'))
  return hit?.command ?? null
}

// Every locale file of the console: the common one (src/i18n/locales) and one per page area
// (src/pages/<area>/locales), the area's messages under the area's name (`desk.inbox.title`).
// Kept free of Vue so the key-parity test can read the same files the console ships.

export const LOCALES = ['zh-CN', 'en'] as const
export type Locale = (typeof LOCALES)[number]
export const DEFAULT_LOCALE: Locale = 'zh-CN'

export type MessageTree = { [key: string]: string | MessageTree }

/** `…/pages/desk/locales/en.json` (or `…/pages/desk/lazy/locales/en.json`, loaded on demand) is the desk
 * area's; any other `…/locales/en.json` is common. */
export function placeOf(path: string): { area: string | null; locale: string } | null {
  const area = /pages\/([^/]+)\/(?:lazy\/)?locales\/([^/]+)\.json$/.exec(path)
  if (area) return { area: area[1]!, locale: area[2]! }
  const common = /(?:^|\/)locales\/([^/]+)\.json$/.exec(path)
  if (common) return { area: null, locale: common[1]! }
  return null
}

/** Builds one tree per locale from `{path: messages}`. */
export function assemble<T>(files: Record<string, T>): Record<string, Record<string, T | unknown>> {
  const out: Record<string, Record<string, T | unknown>> = {}
  for (const [path, messages] of Object.entries(files)) {
    const place = placeOf(path)
    if (!place) continue
    const tree = (out[place.locale] ??= {})
    if (place.area === null) merge(tree, messages as Record<string, unknown>)
    else merge((tree[place.area] ??= {}) as Record<string, unknown>, messages as Record<string, unknown>)
  }
  return out
}

/** Merges `from` into `into`, subtree by subtree (an area's eager and lazy files make one tree). */
function merge(into: Record<string, unknown>, from: Record<string, unknown>) {
  for (const [k, v] of Object.entries(from)) {
    const here = into[k]
    if (v && typeof v === 'object' && here && typeof here === 'object') merge(here as Record<string, unknown>, v as Record<string, unknown>)
    else into[k] = v
  }
}

/** Every leaf key of a tree, dotted. */
export function leafKeys(tree: MessageTree, prefix = ''): string[] {
  return Object.entries(tree).flatMap(([k, v]) =>
    typeof v === 'string' ? [prefix + k] : leafKeys(v, `${prefix}${k}.`),
  )
}

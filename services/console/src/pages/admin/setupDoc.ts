// The business's setup documents other than routing (./problems.ts): the taxonomy's lists, checked as
// the admin types with the api's own rules (shared::setup::documents `check_list`), and the SLA and
// calendar documents edited as JSON, checked for being JSON at all. The api stays the judge of the rest
// (a category still routed, a calendar without hours, ...): its `details.problems` are shown the same way.
import type { Problem, Routing } from './problems'

export interface Named {
  code: string
  name_zh: string
  name_en: string
}

export interface Taxonomy {
  categories: Named[]
  feedback_types: Named[]
  priorities: Named[]
  tags: Named[]
  [other: string]: unknown
}

/** The lists an admin edits here; priorities are the system's own three and keep their codes. */
export const LISTS = ['categories', 'feedback_types', 'tags'] as const
export type ListName = (typeof LISTS)[number]

export const MAX_CODE = 64

function codeProblem(code: string): boolean {
  return !code.trim() || /[\s\p{Cc}]/u.test(code) || [...code].length > MAX_CODE
}

export function listProblems(field: string, list: readonly Named[], mayBeEmpty = false): Problem[] {
  const out: Problem[] = []
  if (list.length === 0 && !mayBeEmpty) out.push({ code: 'empty_list', path: field })
  const seen = new Set<string>()
  list.forEach((n, i) => {
    const path = `${field}[${i}]`
    if (codeProblem(n.code)) out.push({ code: 'bad_code', path: `${path}.code`, subject: n.code })
    if (!n.name_zh.trim()) out.push({ code: 'missing_name', path: `${path}.name_zh`, subject: n.code })
    if (seen.has(n.code)) out.push({ code: 'duplicate_code', path: `${path}.code`, subject: n.code })
    seen.add(n.code)
  })
  return out
}

export function taxonomyProblems(t: Taxonomy): Problem[] {
  return [
    ...listProblems('categories', t.categories),
    ...listProblems('feedback_types', t.feedback_types),
    ...listProblems('priorities', t.priorities),
    ...listProblems('tags', t.tags, true),
  ]
}

/** A code suggested from an English name: lower-case words joined by `_` (the admin may change it). */
export function suggestCode(nameEn: string): string {
  return nameEn
    .trim()
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .slice(0, MAX_CODE)
}

/** A JSON document typed by the admin: the object, or where it cannot be read. */
export function readJson(text: string): { ok: true; value: Record<string, unknown> } | { ok: false; error: string } {
  try {
    const value = JSON.parse(text) as unknown
    if (!value || typeof value !== 'object' || Array.isArray(value)) return { ok: false, error: 'not_object' }
    return { ok: true, value: value as Record<string, unknown> }
  } catch (e) {
    return { ok: false, error: e instanceof Error ? e.message : String(e) }
  }
}

/**
 * The routing table that goes with a change of categories: a route to `department` for each category
 * added (unless one already serves it), and no route left for a category removed. The api refuses a
 * category no route serves and a route to a category that does not exist, so both documents are
 * saved together. `null` when the categories did not change.
 */
export function routesFollowing(routing: Routing, before: readonly string[], after: readonly string[], department: string): Routing | null {
  const added = after.filter((c) => c && !before.includes(c))
  const removed = before.filter((c) => !after.includes(c))
  if (!added.length && !removed.length) return null
  const routes = routing.routes.filter((r) => !(r.when.category && removed.includes(r.when.category)))
  for (const category of added) {
    if (!routes.some((r) => r.when.category === category)) routes.push({ when: { category }, departments: [department] })
  }
  return { ...routing, routes }
}

// The SLA policy document (GET/PUT /v1/setup/sla, config/sla/sla.toml without its calendars) as a form:
// each clock's basis and targets per priority, the warning points, the default calendar and each
// department's calendar and supervisor. Read the way the SLA worker reads it (shared::sla::policy:
// humantime durations, targets above zero and at most 366 days, warning points strictly between 0 and
// 1), so a refusal is seen as the admin types. What the form does not show (overrides, a clock's own
// warning points) is carried through untouched and edited on the JSON tab.
import type { Problem } from './problems'

export const CLOCKS = ['registration', 'first_response', 'proactive_contact', 'resolution', 'survey'] as const
export type Clock = (typeof CLOCKS)[number]
export const PRIORITIES = ['urgent', 'general', 'suggestion'] as const
export type Priority = (typeof PRIORITIES)[number]
/** `target` sets every priority at once; a priority's own field wins over it. */
export const TARGETS = ['target', ...PRIORITIES] as const
export type TargetField = (typeof TARGETS)[number]
export type Basis = 'business' | 'wall'

/** The built-in targets when the document names none (shared::sla::policy `Policy::builtin`). */
export const BUILTIN: Record<Clock, { basis: Basis; targets: [string, string, string] }> = {
  registration: { basis: 'business', targets: ['30m', '30m', '30m'] },
  first_response: { basis: 'business', targets: ['2h', '24h', '72h'] },
  proactive_contact: { basis: 'business', targets: ['4h', '24h', '72h'] },
  resolution: { basis: 'business', targets: ['24h', '72h', '168h'] },
  survey: { basis: 'wall', targets: ['24h', '24h', '24h'] },
}
export const DEFAULT_WARNING = [0.75, 0.9]

const MAX_TARGET_SECS = 366 * 86_400

// humantime's units (the crate the SLA worker parses durations with); `M` is months, `m` minutes.
const UNITS: [RegExp, number][] = [
  [/^(nanos|nsec|ns)$/, 1e-9],
  [/^(usec|us|µs)$/, 1e-6],
  [/^(millis|msec|ms)$/, 1e-3],
  [/^(seconds|second|secs|sec|s)$/, 1],
  [/^(minutes|minute|mins|min|m)$/, 60],
  [/^(hours|hour|hrs|hr|h)$/, 3600],
  [/^(days|day|d)$/, 86_400],
  [/^(weeks|week|w)$/, 604_800],
  [/^(months|month|M)$/, 2_630_016],
  [/^(years|year|y)$/, 31_557_600],
]

/** A duration as people write it (`30m`, `2h`, `3days`, `1h 30m`) in seconds, or null when unreadable. */
export function parseDuration(text: string): number | null {
  const s = text.trim()
  if (!s) return null
  const parts = [...s.matchAll(/(\d+)\s*([^\d\s]+)\s*/gy)]
  if (!parts.length || parts.map((p) => p[0]).join('') !== s) return null
  let total = 0
  for (const [, n, unit] of parts) {
    const hit = UNITS.find(([re]) => re.test(unit!))
    if (!hit) return null
    total += Number(n) * hit[1]
  }
  return total
}

/** Why a typed target would be refused: unreadable, zero, or longer than a year. */
export function durationProblem(text: string): 'bad_duration' | 'zero_duration' | 'long_duration' | null {
  const secs = parseDuration(text)
  if (secs === null) return 'bad_duration'
  if (secs <= 0) return 'zero_duration'
  if (secs > MAX_TARGET_SECS) return 'long_duration'
  return null
}

export interface ClockForm {
  basis: Basis | ''
  target: string
  urgent: string
  general: string
  suggestion: string
}

export interface DepartmentForm {
  code: string
  calendar: string
  notify_calendar: string
  supervisor: string
}

export interface SlaForm {
  default_calendar: string
  /** Warning points as percentages of the target, e.g. `75, 90`. */
  warning: string
  clocks: Record<Clock, ClockForm>
  departments: DepartmentForm[]
}

type Json = Record<string, unknown>
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {})
const str = (v: unknown): string => (typeof v === 'string' ? v : '')

/** Percentages without float noise: 0.9 is `90`, not `90.00000000000001`. */
function percent(f: number): string {
  return String(Math.round(f * 10_000) / 100)
}

export function slaForm(doc: Json): SlaForm {
  const policy = obj(doc.policy)
  const clocks = obj(policy.clocks)
  const fractions = Array.isArray(policy.warning_fractions) ? (policy.warning_fractions as number[]) : []
  return {
    default_calendar: str(doc.default_calendar),
    warning: fractions.map(percent).join(', '),
    clocks: Object.fromEntries(
      CLOCKS.map((k) => {
        const c = obj(clocks[k])
        const basis = c.basis === 'business' || c.basis === 'wall' ? c.basis : ''
        return [k, { basis, target: str(c.target), urgent: str(c.urgent), general: str(c.general), suggestion: str(c.suggestion) }]
      }),
    ) as Record<Clock, ClockForm>,
    departments: Object.entries(obj(doc.departments)).map(([code, d]) => {
      const e = obj(d)
      return { code, calendar: str(e.calendar), notify_calendar: str(e.notify_calendar), supervisor: str(e.supervisor) }
    }),
  }
}

/** The typed warning points as fractions, or null when one is not a number. */
export function readWarning(text: string): number[] | null {
  const parts = text
    .split(/[,，\s]+/)
    .map((p) => p.replace(/%$/, ''))
    .filter((p) => p !== '')
  const out = parts.map((p) => (/^\d+(\.\d+)?$/.test(p) ? Number(p) / 100 : NaN))
  return out.some((f) => Number.isNaN(f)) ? null : out
}

/**
 * The document the form describes, on top of `base` (the document as loaded or as the JSON tab left
 * it): an emptied field is left out, so the built-in default applies again.
 */
export function slaDocument(form: SlaForm, base: Json): Json {
  const policy = { ...obj(base.policy) }
  const fractions = readWarning(form.warning)
  if (fractions && fractions.length) policy.warning_fractions = fractions
  else delete policy.warning_fractions
  const before = obj(policy.clocks)
  const clocks: Json = { ...before }
  for (const k of CLOCKS) {
    const c: Json = { ...obj(before[k]) }
    const f = form.clocks[k]
    for (const field of ['basis', ...TARGETS] as const) {
      const v = f[field].trim()
      if (v) c[field] = v
      else delete c[field]
    }
    if (Object.keys(c).length) clocks[k] = c
    else delete clocks[k]
  }
  policy.clocks = clocks
  const departments: Json = {}
  for (const d of form.departments) {
    if (!d.code || !d.calendar) continue
    const e: Json = { calendar: d.calendar }
    if (d.notify_calendar) e.notify_calendar = d.notify_calendar
    if (d.supervisor.trim()) e.supervisor = d.supervisor.trim()
    departments[d.code] = e
  }
  const out: Json = { ...base, policy, departments }
  if (form.default_calendar) out.default_calendar = form.default_calendar
  else delete out.default_calendar
  return out
}

/**
 * What the SLA worker would refuse in the form, each at the path the api would name (so the api's own
 * problems land on the same field): `calendars` are the calendars' names, for the pickers.
 */
export function slaProblems(form: SlaForm, calendars: readonly string[]): Problem[] {
  const out: Problem[] = []
  for (const k of CLOCKS) {
    for (const field of TARGETS) {
      const v = form.clocks[k][field]
      if (!v.trim()) continue
      const code = durationProblem(v)
      if (code) out.push({ code, path: `policy.clocks.${k}.${field}`, subject: v })
    }
  }
  const fractions = readWarning(form.warning)
  if (fractions === null || fractions.some((f) => !(f > 0 && f < 1))) {
    out.push({ code: 'bad_fraction', path: 'policy.warning_fractions', subject: form.warning })
  }
  if (form.default_calendar && !calendars.includes(form.default_calendar)) {
    out.push({ code: 'unknown_calendar', path: 'default_calendar', subject: form.default_calendar })
  }
  for (const d of form.departments) {
    for (const field of ['calendar', 'notify_calendar'] as const) {
      const c = d[field]
      if (c && !calendars.includes(c)) out.push({ code: 'unknown_calendar', path: `departments.${d.code}.${field}`, subject: c })
    }
  }
  return out
}

/**
 * The field an api problem is about, when it can be told: a path the api names (`policy.clocks.
 * first_response.urgent` when unreadable), or a clock a zero target names.
 */
export function problemField(p: Problem): string | null {
  if (p.path) return p.path
  if (p.code === 'zero_deadline' && p.subject && (CLOCKS as readonly string[]).includes(p.subject)) return `policy.clocks.${p.subject}`
  return null
}

/** Whether a problem belongs beside `field` (a field itself, or a row holding several fields). */
export function isAt(p: Problem, field: string): boolean {
  const at = problemField(p)
  return !!at && (at === field || at.startsWith(`${field}.`) || field.startsWith(`${at}.`))
}

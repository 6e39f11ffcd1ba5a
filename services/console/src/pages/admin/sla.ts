// The SLA policy document (GET/PUT /v1/setup/sla, config/sla/sla.toml without its calendars) as a form:
// each clock's basis and targets per priority, the warning points, the default calendar and each
// department's calendar and supervisor. Read the way the SLA worker reads it (shared::sla::policy:
// humantime durations, targets above zero and at most 366 days, warning points strictly between 0 and
// 1), so a refusal is seen as the admin types. Overrides (targets refined for a department, problem
// category, customer type and/or priority) are rows of the same form.
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
  /** The clock's own warning points (percentages), empty for the policy's. */
  warning: string
}

/** Targets for the tickets an override matches: every field it names must match (empty: any). */
export interface OverrideForm {
  department: string
  category: string
  customer_type: string
  priority: Priority | ''
  targets: Record<Clock, string>
  /** Warning points (percentages) for the clocks this override sets, empty for the clock's own. */
  warning: string
}

export const MATCH_FIELDS = ['department', 'category', 'customer_type', 'priority'] as const

export function newOverride(): OverrideForm {
  return {
    department: '',
    category: '',
    customer_type: '',
    priority: '',
    targets: Object.fromEntries(CLOCKS.map((k) => [k, ''])) as Record<Clock, string>,
    warning: '',
  }
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
  overrides: OverrideForm[]
  departments: DepartmentForm[]
}

type Json = Record<string, unknown>
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {})
const str = (v: unknown): string => (typeof v === 'string' ? v : '')

/** Percentages without float noise: 0.9 is `90`, not `90.00000000000001`. */
function percent(f: number): string {
  return String(Math.round(f * 10_000) / 100)
}

/** Warning fractions as the form shows them (`75, 90`), empty when the document names none. */
function warningText(v: unknown): string {
  return Array.isArray(v) ? (v as number[]).map(percent).join(', ') : ''
}

export function slaForm(doc: Json): SlaForm {
  const policy = obj(doc.policy)
  const clocks = obj(policy.clocks)
  return {
    default_calendar: str(doc.default_calendar),
    warning: warningText(policy.warning_fractions),
    clocks: Object.fromEntries(
      CLOCKS.map((k) => {
        const c = obj(clocks[k])
        const basis = c.basis === 'business' || c.basis === 'wall' ? c.basis : ''
        const targets = { target: str(c.target), urgent: str(c.urgent), general: str(c.general), suggestion: str(c.suggestion) }
        return [k, { basis, ...targets, warning: warningText(c.warning_fractions) }]
      }),
    ) as Record<Clock, ClockForm>,
    overrides: (Array.isArray(policy.overrides) ? (policy.overrides as unknown[]) : []).map((o) => {
      const e = obj(o)
      const targets = obj(e.targets)
      const priority = str(e.priority)
      return {
        department: str(e.department),
        category: str(e.category),
        customer_type: str(e.customer_type),
        priority: (PRIORITIES as readonly string[]).includes(priority) ? (priority as Priority) : '',
        targets: Object.fromEntries(CLOCKS.map((k) => [k, str(targets[k])])) as Record<Clock, string>,
        warning: warningText(e.warning_fractions),
      }
    }),
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
  putWarning(policy, form.warning)
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
    putWarning(c, f.warning)
    if (Object.keys(c).length) clocks[k] = c
    else delete clocks[k]
  }
  policy.clocks = clocks
  const overrides = form.overrides.map(overrideDocument)
  if (overrides.length) policy.overrides = overrides
  else delete policy.overrides
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

/** One override row as the document holds it: only what is set. */
function overrideDocument(o: OverrideForm): Json {
  const out: Json = {}
  for (const field of MATCH_FIELDS) {
    const v = o[field].trim()
    if (v) out[field] = v
  }
  const targets: Json = {}
  for (const k of CLOCKS) {
    const v = o.targets[k].trim()
    if (v) targets[k] = v
  }
  out.targets = targets
  putWarning(out, o.warning)
  return out
}

/** Writes typed warning points into a policy, clock or override as `warning_fractions`; an empty
 *  field leaves them out, so the next level's points apply. */
function putWarning(into: Json, text: string) {
  const fractions = readWarning(text)
  if (fractions && fractions.length) into.warning_fractions = fractions
  else delete into.warning_fractions
}

/** Why typed warning points would be refused: not numbers, or not strictly between 0 and 100 %. */
function warningProblem(text: string): boolean {
  const fractions = readWarning(text)
  return fractions === null || fractions.some((f) => !(f > 0 && f < 1))
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
    const own = form.clocks[k].warning
    if (warningProblem(own)) out.push({ code: 'bad_fraction', path: `policy.clocks.${k}.warning_fractions`, subject: own })
  }
  if (warningProblem(form.warning)) {
    out.push({ code: 'bad_fraction', path: 'policy.warning_fractions', subject: form.warning })
  }
  form.overrides.forEach((o, i) => {
    const at = `policy.overrides[${i}]`
    let set = 0
    for (const k of CLOCKS) {
      const v = o.targets[k]
      if (!v.trim()) continue
      set += 1
      const code = durationProblem(v)
      if (code) out.push({ code, path: `${at}.targets.${k}`, subject: v })
    }
    // A rule that sets no deadline changes nothing: most likely a row left half typed.
    if (!set) out.push({ code: 'override_without_targets', path: `${at}.targets`, subject: String(i + 1) })
    if (warningProblem(o.warning)) out.push({ code: 'bad_fraction', path: `${at}.warning_fractions`, subject: o.warning })
  })
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

// The checks the api makes on the survey policy and the report targets (shared/src/setup/policies.rs),
// made as the admin types so a mistake is named beside its field before saving. The api stays the
// judge: its 422 `details.problems` are shown the same way, by the field they name.

export interface SurveyPolicy {
  delay: string
  quiet_start: string
  quiet_end: string
  timezone?: string | null
  reminders: boolean
  reminder_after: string
  expire_after: string
  on_unsatisfied: 'reopen' | 'escalate' | string
  skip_older_than: string
  channels: Record<string, string>
}

export interface ReportTargets {
  first_response_minutes: number
  resolution_minutes: number
  resolution_rate: number
  first_contact_resolution_rate: number
}

/** A field's problem: the api's codes (`bad_duration`, `late_survey`, ...). */
export interface FieldProblem {
  path: string
  code: string
}

export const INTAKE_CHANNELS = ['form', 'app', 'ivr', 'phone', 'chat', 'email', 'social'] as const
export const SURVEY_CHANNELS = ['sms', 'app', 'ivr', 'link'] as const

const UNIT_MINUTES: Record<string, number> = {
  s: 1 / 60, sec: 1 / 60, secs: 1 / 60, second: 1 / 60, seconds: 1 / 60,
  m: 1, min: 1, mins: 1, minute: 1, minutes: 1,
  h: 60, hr: 60, hrs: 60, hour: 60, hours: 60,
  d: 1440, day: 1440, days: 1440,
  w: 10080, week: 10080, weeks: 10080,
}

/** `"2h"`, `"30m"`, `"1h 30m"` in minutes (the forms the api's duration reader takes); null if unreadable. */
export function durationMinutes(text: string): number | null {
  const s = text.trim()
  if (!s) return null
  const part = /(\d+)\s*([a-z]+)\s*/gy
  let total = 0
  let m: RegExpExecArray | null
  let at = 0
  while ((m = part.exec(s)) !== null) {
    const unit = UNIT_MINUTES[m[2] ?? ""]
    if (unit === undefined) return null
    total += Number(m[1]) * unit
    at = part.lastIndex
  }
  return at === s.length ? total : null
}

/** `"HH:MM"` in minutes after midnight; null if it is not a time of day. */
export function timeOfDay(text: string): number | null {
  const m = /^(\d{1,2}):(\d{2})$/.exec(text.trim())
  if (!m) return null
  const h = Number(m[1])
  const min = Number(m[2])
  return h < 24 && min < 60 ? h * 60 + min : null
}

const DAY = 24 * 60

/** Every problem of a survey policy, in the order the api checks them (it names only the first). */
export function surveyProblems(p: SurveyPolicy): FieldProblem[] {
  const out: FieldProblem[] = []
  const dur = (key: keyof SurveyPolicy) => {
    const v = durationMinutes(String(p[key] ?? ''))
    if (v === null) out.push({ path: key, code: 'bad_duration' })
    return v
  }
  const time = (key: 'quiet_start' | 'quiet_end') => {
    const v = timeOfDay(p[key])
    if (v === null) out.push({ path: key, code: 'bad_time' })
    return v
  }
  const delay = dur('delay')
  const start = time('quiet_start')
  const end = time('quiet_end')
  const reminder = dur('reminder_after')
  const expire = dur('expire_after')
  const skip = dur('skip_older_than')
  if (delay !== null && delay > DAY) out.push({ path: 'delay', code: 'late_survey' })
  else if (delay !== null && start !== null && end !== null) {
    const quiet = (end - start + DAY) % DAY
    if (delay + quiet > DAY) out.push({ path: 'delay', code: 'late_survey' })
  }
  if (skip !== null && delay !== null && skip <= delay) out.push({ path: 'skip_older_than', code: 'bad_value' })
  if (expire !== null && expire <= 0) out.push({ path: 'expire_after', code: 'zero_deadline' })
  if (p.reminders && reminder !== null && expire !== null && (reminder <= 0 || reminder >= expire)) {
    out.push({ path: 'reminder_after', code: 'bad_value' })
  }
  if (p.on_unsatisfied !== 'reopen' && p.on_unsatisfied !== 'escalate') out.push({ path: 'on_unsatisfied', code: 'bad_value' })
  for (const [from, to] of Object.entries(p.channels ?? {})) {
    if (!(INTAKE_CHANNELS as readonly string[]).includes(from) || !(SURVEY_CHANNELS as readonly string[]).includes(to)) {
      out.push({ path: 'channels', code: 'bad_value' })
      break
    }
  }
  return out
}

/** Every target out of range (minutes more than zero and at most a year, rates 0–100 %). */
export function targetProblems(t: ReportTargets): FieldProblem[] {
  const out: FieldProblem[] = []
  for (const key of ['first_response_minutes', 'resolution_minutes'] as const) {
    const v = t[key]
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) out.push({ path: key, code: 'zero_deadline' })
    else if (v > 525600) out.push({ path: key, code: 'bad_value' })
  }
  for (const key of ['resolution_rate', 'first_contact_resolution_rate'] as const) {
    const v = t[key]
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 100) out.push({ path: key, code: 'bad_rate' })
  }
  return out
}

/** The first problem of a field, from the page's own checks or the api's refusal. */
export function problemOf(problems: FieldProblem[], path: string): FieldProblem | undefined {
  return problems.find((p) => p.path === path)
}

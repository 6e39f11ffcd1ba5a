// The working calendars document (GET/PUT /v1/setup/calendars, the `[calendars]` and `[holiday_sets]`
// of config/sla/sla.toml) as a form: each calendar's time zone, weekly hours and own dates, and the
// shared holiday sets (holidays and make-up working days, single dates or ranges). Checked the way the
// SLA worker reads it (shared::sla::calendar: `HH:MM-HH:MM` spans that do not overlap, dates
// `YYYY-MM-DD` or inclusive ranges of at most 366 days, a date never both a holiday and a make-up day,
// some hours in the week unless always open). What the form does not show (`workday_hours`) is kept.
import type { Problem } from './problems'

export const DAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const
export type Day = (typeof DAYS)[number]

/** One holiday or make-up entry: a date, or a range when `to` is given. */
export interface DateRow {
  from: string
  to: string
}

export interface CalendarForm {
  name: string
  time_zone: string
  always_open: boolean
  /** Each day's spans as typed, e.g. `09:00-12:00, 13:00-18:00`; empty for a closed day. */
  weekly: Record<Day, string>
  holiday_sets: string[]
  holidays: DateRow[]
  makeup_workdays: DateRow[]
  /** Keys the form does not edit, carried through. */
  rest: Record<string, unknown>
}

export interface HolidaySetForm {
  name: string
  holidays: DateRow[]
  makeup_workdays: DateRow[]
}

export interface CalendarsForm {
  calendars: CalendarForm[]
  holiday_sets: HolidaySetForm[]
}

type Json = Record<string, unknown>
const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {})
const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [])

export function dateRow(value: string): DateRow {
  const [from, to] = value.split('..')
  return { from: (from ?? '').trim(), to: (to ?? '').replace(/^=/, '').trim() }
}

export function dateText(row: DateRow): string {
  const from = row.from.trim()
  const to = row.to.trim()
  return to && to !== from ? `${from}..${to}` : from
}

export function calendarsForm(doc: Json): CalendarsForm {
  return {
    calendars: Object.entries(obj(doc.calendars)).map(([name, v]) => {
      const { time_zone, always_open, weekly, holiday_sets, holidays, makeup_workdays, ...rest } = obj(v)
      const w = obj(weekly)
      return {
        name,
        time_zone: typeof time_zone === 'string' ? time_zone : 'Asia/Shanghai',
        always_open: always_open === true,
        weekly: Object.fromEntries(DAYS.map((d) => [d, strings(w[d]).join(', ')])) as Record<Day, string>,
        holiday_sets: strings(holiday_sets),
        holidays: strings(holidays).map(dateRow),
        makeup_workdays: strings(makeup_workdays).map(dateRow),
        rest,
      }
    }),
    holiday_sets: Object.entries(obj(doc.holiday_sets)).map(([name, v]) => {
      const s = obj(v)
      return { name, holidays: strings(s.holidays).map(dateRow), makeup_workdays: strings(s.makeup_workdays).map(dateRow) }
    }),
  }
}

/** A day's typed spans as the document's list (`09:00-12:00, 13:00-18:00` → two spans). */
export function spans(text: string): string[] {
  return text
    .split(/[,，;；\n]+/)
    .map((s) => s.replace(/\s+/g, '').replace(/[–—~～]/g, '-'))
    .filter((s) => s !== '')
}

const dates = (rows: readonly DateRow[]) => rows.map(dateText).filter((d) => d !== '')

export function calendarsDocument(form: CalendarsForm, base: Json): Json {
  const calendars: Json = {}
  for (const c of form.calendars) {
    const weekly: Json = {}
    for (const d of DAYS) {
      const s = spans(c.weekly[d])
      if (s.length) weekly[d] = s
    }
    const e: Json = { ...c.rest, time_zone: c.time_zone.trim() }
    if (c.always_open) e.always_open = true
    if (Object.keys(weekly).length) e.weekly = weekly
    if (c.holiday_sets.length) e.holiday_sets = [...c.holiday_sets]
    if (dates(c.holidays).length) e.holidays = dates(c.holidays)
    if (dates(c.makeup_workdays).length) e.makeup_workdays = dates(c.makeup_workdays)
    calendars[c.name.trim()] = e
  }
  const holiday_sets: Json = {}
  for (const s of form.holiday_sets) {
    holiday_sets[s.name.trim()] = { holidays: dates(s.holidays), makeup_workdays: dates(s.makeup_workdays) }
  }
  return { ...base, calendars, holiday_sets }
}

/** `HH:MM` in minutes after midnight (`24:00` ends a day), or null. */
function minutes(hhmm: string): number | null {
  const m = /^(\d{1,2}):(\d{2})$/.exec(hhmm)
  if (!m) return null
  const h = Number(m[1])
  const min = Number(m[2])
  if (min >= 60 || h > 24 || (h === 24 && min !== 0)) return null
  return h * 60 + min
}

/** Why a day's typed hours would be refused, or null. */
export function dayProblem(text: string): 'bad_span' | 'span_order' | 'span_overlap' | null {
  const parsed: [number, number][] = []
  for (const s of spans(text)) {
    const [a, b, more] = s.split('-')
    const start = minutes(a ?? '')
    const end = minutes(b ?? '')
    if (more !== undefined || start === null || end === null) return 'bad_span'
    if (start >= end) return 'span_order'
    parsed.push([start, end])
  }
  parsed.sort((x, y) => x[0] - y[0])
  for (let i = 1; i < parsed.length; i++) if (parsed[i]![0] < parsed[i - 1]![1]) return 'span_overlap'
  return null
}

/** A `YYYY-MM-DD` that is a real day, as days since 1970, or null. */
export function day(text: string): number | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text.trim())
  if (!m) return null
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])]
  const t = Date.UTC(y, mo - 1, d)
  const back = new Date(t)
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return null
  return t / 86_400_000
}

/** Why a holiday or make-up entry would be refused, or null (the field at fault: `from` or `to`). */
export function dateProblem(row: DateRow): { code: 'bad_date' | 'bad_range'; field: 'from' | 'to' } | null {
  const from = day(row.from)
  if (from === null) return { code: 'bad_date', field: 'from' }
  if (!row.to.trim()) return null
  const to = day(row.to)
  if (to === null) return { code: 'bad_date', field: 'to' }
  if (to < from || to - from > 366) return { code: 'bad_range', field: 'to' }
  return null
}

function daysOf(rows: readonly DateRow[]): Set<number> {
  const out = new Set<number>()
  for (const r of rows) {
    if (dateProblem(r)) continue
    const from = day(r.from)!
    const to = r.to.trim() ? day(r.to)! : from
    for (let d = from; d <= to; d++) out.add(d)
  }
  return out
}

function isoDay(d: number): string {
  return new Date(d * 86_400_000).toISOString().slice(0, 10)
}

/** Whether the browser knows the time zone (the same IANA names the SLA worker reads). */
export function knownTimeZone(tz: string): boolean {
  if (!tz.trim() || /\s/.test(tz)) return false
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz })
    return true
  } catch {
    return false
  }
}

const NAME = /^[^\s\p{Cc}]{1,64}$/u

function dateRowsProblems(at: string, holidays: readonly DateRow[], makeup: readonly DateRow[], out: Problem[]) {
  for (const [field, rows] of [['holidays', holidays], ['makeup_workdays', makeup]] as const) {
    rows.forEach((r, i) => {
      const p = dateProblem(r)
      if (p) out.push({ code: p.code, path: `${at}.${field}[${i}].${p.field}`, subject: dateText(r) })
    })
  }
  const off = daysOf(holidays)
  makeup.forEach((r, i) => {
    const both = [...daysOf([r])].find((d) => off.has(d))
    if (both !== undefined) out.push({ code: 'holiday_and_workday', path: `${at}.makeup_workdays[${i}].from`, subject: isoDay(both) })
  })
}

/** What the SLA worker would refuse, at form paths (`calendars[0].weekly.mon`, `holiday_sets[0].holidays[2].to`). */
export function calendarsProblems(form: CalendarsForm): Problem[] {
  const out: Problem[] = []
  const names = new Set<string>()
  const sets = new Set(form.holiday_sets.map((s) => s.name.trim()))
  form.calendars.forEach((c, i) => {
    const at = `calendars[${i}]`
    if (!NAME.test(c.name.trim())) out.push({ code: 'bad_code', path: `${at}.name`, subject: c.name })
    else if (names.has(c.name.trim())) out.push({ code: 'duplicate_code', path: `${at}.name`, subject: c.name })
    names.add(c.name.trim())
    if (!knownTimeZone(c.time_zone)) out.push({ code: 'bad_time_zone', path: `${at}.time_zone`, subject: c.time_zone })
    let open = false
    for (const d of DAYS) {
      const p = dayProblem(c.weekly[d])
      if (p) out.push({ code: p, path: `${at}.weekly.${d}`, subject: c.weekly[d] })
      if (spans(c.weekly[d]).length) open = true
    }
    if (!open && !c.always_open && !c.rest.workday_hours) out.push({ code: 'no_working_hours', path: `${at}.weekly`, subject: c.name })
    for (const s of c.holiday_sets) if (!sets.has(s)) out.push({ code: 'unknown_holiday_set', path: `${at}.holiday_sets`, subject: s })
    dateRowsProblems(at, c.holidays, c.makeup_workdays, out)
  })
  const setNames = new Set<string>()
  form.holiday_sets.forEach((s, i) => {
    const at = `holiday_sets[${i}]`
    if (!NAME.test(s.name.trim())) out.push({ code: 'bad_code', path: `${at}.name`, subject: s.name })
    else if (setNames.has(s.name.trim())) out.push({ code: 'duplicate_code', path: `${at}.name`, subject: s.name })
    setNames.add(s.name.trim())
    dateRowsProblems(at, s.holidays, s.makeup_workdays, out)
  })
  return out
}

/**
 * Where an api problem about the calendars belongs in the form: the api names the calendar (its
 * `subject`) rather than a path inside the document, so the problem is shown on that calendar's card.
 */
export function calendarOf(p: Problem, form: CalendarsForm): number {
  if (p.path) {
    const m = /^calendars\.([^.[]+)/.exec(p.path)
    if (m) return form.calendars.findIndex((c) => c.name === m[1])
  }
  return p.subject ? form.calendars.findIndex((c) => c.name === p.subject) : -1
}

/** A new calendar: office hours on weekdays, in the business's time zone. */
export function newCalendar(name = ''): CalendarForm {
  const weekly = Object.fromEntries(DAYS.map((d) => [d, ['sat', 'sun'].includes(d) ? '' : '09:00-18:00'])) as Record<Day, string>
  return { name, time_zone: 'Asia/Shanghai', always_open: false, weekly, holiday_sets: [], holidays: [], makeup_workdays: [], rest: {} }
}

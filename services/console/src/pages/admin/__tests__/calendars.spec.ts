import { describe, expect, it } from 'vitest'
import { calendarOf, calendarsDocument, calendarsForm, calendarsProblems, dateProblem, dayProblem, newCalendar } from '../calendars'

const office = ['09:00-12:00', '13:00-18:00']
// As GET /v1/setup/calendars returns config/sla/sla.toml's calendars (shortened).
const doc = {
  calendars: {
    'cn-office': { time_zone: 'Asia/Shanghai', holiday_sets: ['cn-2026'], weekly: { mon: office, tue: office, wed: office, thu: office, fri: office } },
    'always-on': { time_zone: 'Asia/Shanghai', always_open: true },
  },
  holiday_sets: {
    'cn-2026': { holidays: ['2026-01-01..2026-01-03', '2026-10-01..2026-10-07'], makeup_workdays: ['2026-01-04', '2026-10-10'] },
  },
}

describe('the working calendars as a form', () => {
  it('reads the document and writes it back unchanged', () => {
    const form = calendarsForm(doc)
    expect(form.calendars[0]!.weekly.mon).toBe('09:00-12:00, 13:00-18:00')
    expect(form.calendars[0]!.weekly.sat).toBe('')
    expect(form.holiday_sets[0]!.holidays[1]).toEqual({ from: '2026-10-01', to: '2026-10-07' })
    expect(calendarsDocument(form, doc)).toEqual(doc)
    expect(calendarsProblems(form)).toEqual([])
  })

  it('writes typed hours, a single holiday and a new calendar', () => {
    const form = calendarsForm(doc)
    form.calendars[0]!.weekly.sat = '10:00 – 12:00 ，14:00-16:00'
    form.holiday_sets[0]!.holidays.push({ from: '2026-12-31', to: '' })
    form.calendars.push(newCalendar('night'))
    const next = calendarsDocument(form, doc) as { calendars: Record<string, { weekly?: Record<string, string[]> }>; holiday_sets: Record<string, { holidays: string[] }> }
    expect(next.calendars['cn-office']!.weekly!.sat).toEqual(['10:00-12:00', '14:00-16:00'])
    expect(next.holiday_sets['cn-2026']!.holidays.at(-1)).toBe('2026-12-31')
    expect(next.calendars.night!.weekly!.mon).toEqual(['09:00-18:00'])
  })

  it('refuses hours, dates and names the SLA worker would refuse, at their fields', () => {
    expect(dayProblem('9-12')).toBe('bad_span')
    expect(dayProblem('18:00-09:00')).toBe('span_order')
    expect(dayProblem('09:00-13:00, 12:00-18:00')).toBe('span_overlap')
    expect(dayProblem('00:00-24:00')).toBeNull()
    expect(dateProblem({ from: '2026-02-30', to: '' })).toEqual({ code: 'bad_date', field: 'from' })
    expect(dateProblem({ from: '2026-10-07', to: '2026-10-01' })).toEqual({ code: 'bad_range', field: 'to' })
    expect(dateProblem({ from: '2026-01-01', to: '2027-06-01' })).toEqual({ code: 'bad_range', field: 'to' })

    const form = calendarsForm(doc)
    const office = form.calendars[0]!
    for (const d of ['mon', 'tue', 'wed', 'thu', 'fri'] as const) office.weekly[d] = ''
    office.time_zone = 'Mars/Olympus'
    office.holiday_sets.push('cn-2027')
    form.calendars[1]!.name = 'cn-office'
    form.holiday_sets[0]!.holidays.push({ from: '十月一日', to: '' })
    form.holiday_sets[0]!.makeup_workdays.push({ from: '2026-10-03', to: '' })
    expect(calendarsProblems(form).map((p) => `${p.code}@${p.path}`)).toEqual([
      'bad_time_zone@calendars[0].time_zone',
      'no_working_hours@calendars[0].weekly',
      'unknown_holiday_set@calendars[0].holiday_sets',
      'duplicate_code@calendars[1].name',
      'bad_date@holiday_sets[0].holidays[2].from',
      'holiday_and_workday@holiday_sets[0].makeup_workdays[2].from',
    ])
  })

  it('finds the calendar an api problem names', () => {
    const form = calendarsForm(doc)
    expect(calendarOf({ code: 'no_working_hours', path: '', subject: 'always-on' }, form)).toBe(1)
    expect(calendarOf({ code: 'unreadable', path: 'calendars.cn-office.weekly', subject: null }, form)).toBe(0)
    expect(calendarOf({ code: 'bad_fraction', path: '' }, form)).toBe(-1)
  })
})

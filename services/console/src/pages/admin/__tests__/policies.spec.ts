import { describe, expect, it } from 'vitest'
import { durationMinutes, surveyProblems, targetProblems, timeOfDay, type SurveyPolicy } from '../policies'

const policy = (): SurveyPolicy => ({
  delay: '2h',
  quiet_start: '21:00',
  quiet_end: '09:00',
  reminders: true,
  reminder_after: '24h',
  expire_after: '72h',
  on_unsatisfied: 'reopen',
  skip_older_than: '72h',
  channels: {},
})

describe('survey policy checks', () => {
  it('reads durations and times as the api does', () => {
    expect(durationMinutes('2h')).toBe(120)
    expect(durationMinutes('1h 30m')).toBe(90)
    expect(durationMinutes('3days')).toBe(4320)
    expect(durationMinutes('soon')).toBeNull()
    expect(durationMinutes('2 h x')).toBeNull()
    expect(timeOfDay('09:00')).toBe(540)
    expect(timeOfDay('9pm')).toBeNull()
    expect(timeOfDay('24:00')).toBeNull()
  })

  it('accepts the shipped defaults', () => {
    expect(surveyProblems(policy())).toEqual([])
  })

  it('names a survey that could come later than 24 hours', () => {
    // 13 h + 12 quiet hours > 24 h; without quiet hours 13 h is fine.
    expect(surveyProblems({ ...policy(), delay: '13h' })).toEqual([{ path: 'delay', code: 'late_survey' }])
    expect(surveyProblems({ ...policy(), delay: '13h', quiet_start: '00:00', quiet_end: '00:00' })).toEqual([])
    expect(surveyProblems({ ...policy(), delay: '25h', quiet_start: '00:00', quiet_end: '00:00' })[0]).toEqual({ path: 'delay', code: 'late_survey' })
  })

  it('names unreadable values, a reminder after expiry and an unknown channel', () => {
    const problems = surveyProblems({ ...policy(), quiet_start: '9pm', expire_after: 'soon', reminder_after: '80h', channels: { form: 'fax' } })
    expect(problems).toContainEqual({ path: 'quiet_start', code: 'bad_time' })
    expect(problems).toContainEqual({ path: 'expire_after', code: 'bad_duration' })
    expect(problems).toContainEqual({ path: 'channels', code: 'bad_value' })
    expect(surveyProblems({ ...policy(), reminder_after: '80h' })).toEqual([{ path: 'reminder_after', code: 'bad_value' }])
    expect(surveyProblems({ ...policy(), reminders: false, reminder_after: '80h' })).toEqual([])
  })
})

describe('report target checks', () => {
  it('names zero minutes and rates outside 0–100', () => {
    const ok = { first_response_minutes: 30, resolution_minutes: 120, resolution_rate: 95, first_contact_resolution_rate: 80 }
    expect(targetProblems(ok)).toEqual([])
    expect(targetProblems({ ...ok, resolution_minutes: 0, resolution_rate: 120 })).toEqual([
      { path: 'resolution_minutes', code: 'zero_deadline' },
      { path: 'resolution_rate', code: 'bad_rate' },
    ])
  })
})

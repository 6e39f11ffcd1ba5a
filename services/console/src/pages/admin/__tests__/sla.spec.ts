import { describe, expect, it } from 'vitest'
import { durationProblem, isAt, parseDuration, readWarning, slaDocument, slaForm, slaProblems } from '../sla'

// As GET /v1/setup/sla returns config/sla/sla.toml (overrides shortened).
const doc = {
  default_calendar: 'cn-office',
  policy: {
    warning_fractions: [0.75, 0.9],
    clocks: {
      registration: { basis: 'business', target: '30m' },
      first_response: { basis: 'business', urgent: '2h', general: '24h', suggestion: '72h', warning_fractions: [0.5] },
      survey: { basis: 'wall', target: '24h' },
    },
    overrides: [{ department: 'logistics', priority: 'urgent', targets: { resolution: '8h' } }],
  },
  departments: {
    customer_service: { calendar: 'cn-service-desk', notify_calendar: 'cn-office', supervisor: 'supervisor:customer_service' },
    sales: { calendar: 'cn-office' },
  },
}
const calendars = ['cn-office', 'cn-service-desk', 'always-on']

describe('durations as people write them', () => {
  it('reads the humantime forms the SLA worker reads', () => {
    expect(parseDuration('30m')).toBe(1800)
    expect(parseDuration('2h')).toBe(7200)
    expect(parseDuration('3days')).toBe(3 * 86400)
    expect(parseDuration(' 1h 30m ')).toBe(5400)
    expect(parseDuration('1M')).toBe(2_630_016)
  })

  it('refuses what it cannot read, zero, and more than a year', () => {
    expect(durationProblem('2')).toBe('bad_duration')
    expect(durationProblem('2 hours and')).toBe('bad_duration')
    expect(durationProblem('1.5h')).toBe('bad_duration')
    expect(durationProblem('两小时')).toBe('bad_duration')
    expect(durationProblem('0m')).toBe('zero_duration')
    expect(durationProblem('367d')).toBe('long_duration')
    expect(durationProblem('366d')).toBeNull()
  })
})

describe('the SLA policy as a form', () => {
  it('reads the document and writes it back unchanged', () => {
    const form = slaForm(doc)
    expect(form.warning).toBe('75, 90')
    expect(form.clocks.first_response).toEqual({ basis: 'business', target: '', urgent: '2h', general: '24h', suggestion: '72h' })
    expect(form.clocks.resolution).toEqual({ basis: '', target: '', urgent: '', general: '', suggestion: '' })
    expect(form.departments[0]).toEqual({ code: 'customer_service', calendar: 'cn-service-desk', notify_calendar: 'cn-office', supervisor: 'supervisor:customer_service' })
    expect(slaDocument(form, doc)).toEqual(doc)
  })

  it('writes an edit, leaves an emptied field out and keeps what the form does not show', () => {
    const form = slaForm(doc)
    form.clocks.first_response.urgent = '90m'
    form.clocks.survey.target = ''
    form.warning = '60%, 85'
    form.departments[1]!.supervisor = 'supervisor:sales'
    const next = slaDocument(form, doc) as typeof doc
    expect(next.policy.clocks.first_response).toEqual({ ...doc.policy.clocks.first_response, urgent: '90m' })
    expect(next.policy.clocks.survey).toEqual({ basis: 'wall' })
    expect(next.policy.warning_fractions).toEqual([0.6, 0.85])
    expect(next.policy.overrides).toEqual(doc.policy.overrides)
    expect(next.departments.sales).toEqual({ calendar: 'cn-office', supervisor: 'supervisor:sales' })
  })

  it('names each refusal at the path the api would name', () => {
    const form = slaForm(doc)
    form.clocks.first_response.urgent = '0m'
    form.clocks.registration.target = 'soon'
    form.warning = '75, 120'
    form.departments[1]!.calendar = 'cn-gone'
    expect(slaProblems(form, calendars).map((p) => `${p.code}@${p.path}`)).toEqual([
      'bad_duration@policy.clocks.registration.target',
      'zero_duration@policy.clocks.first_response.urgent',
      'bad_fraction@policy.warning_fractions',
      'unknown_calendar@departments.sales.calendar',
    ])
    expect(slaProblems(slaForm(doc), calendars)).toEqual([])
    expect(readWarning('abc')).toBeNull()
  })

  it('places an api problem beside its field or its clock', () => {
    expect(isAt({ code: 'unreadable', path: 'policy.clocks.first_response.urgent' }, 'policy.clocks.first_response')).toBe(true)
    expect(isAt({ code: 'zero_deadline', path: '', subject: 'first_response' }, 'policy.clocks.first_response')).toBe(true)
    expect(isAt({ code: 'zero_deadline', path: '', subject: 'first_response' }, 'policy.clocks.resolution')).toBe(false)
    expect(isAt({ code: 'bad_fraction', path: '' }, 'policy.warning_fractions')).toBe(false)
  })
})

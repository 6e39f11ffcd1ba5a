import { describe, expect, it } from 'vitest'
import { durationProblem, isAt, newOverride, parseDuration, readWarning, slaDocument, slaForm, slaProblems } from '../sla'

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
    expect(form.clocks.first_response).toEqual({ basis: 'business', target: '', urgent: '2h', general: '24h', suggestion: '72h', warning: '50' })
    expect(form.clocks.resolution).toEqual({ basis: '', target: '', urgent: '', general: '', suggestion: '', warning: '' })
    expect(form.overrides).toEqual([
      {
        department: 'logistics',
        category: '',
        customer_type: '',
        priority: 'urgent',
        targets: { registration: '', first_response: '', proactive_contact: '', resolution: '8h', survey: '' },
        warning: '',
      },
    ])
    expect(form.departments[0]).toEqual({ code: 'customer_service', calendar: 'cn-service-desk', notify_calendar: 'cn-office', supervisor: 'supervisor:customer_service' })
    expect(slaDocument(form, doc)).toEqual(doc)
  })

  it("edits overrides and a clock's own warning points as rows of the form", () => {
    const form = slaForm(doc)
    form.clocks.first_response.warning = ''
    form.clocks.resolution.warning = '50, 80'
    form.overrides[0]!.targets.first_response = '1h'
    const vip = newOverride()
    vip.customer_type = 'new'
    vip.category = 'service_complaint'
    vip.targets.resolution = '12h'
    vip.warning = '60'
    form.overrides.push(vip)
    const next = slaDocument(form, doc) as typeof doc & { policy: { clocks: Record<string, unknown> } }
    expect(next.policy.clocks.first_response).toEqual({ basis: 'business', urgent: '2h', general: '24h', suggestion: '72h' })
    expect(next.policy.clocks.resolution).toEqual({ warning_fractions: [0.5, 0.8] })
    expect(next.policy.overrides).toEqual([
      { department: 'logistics', priority: 'urgent', targets: { first_response: '1h', resolution: '8h' } },
      { category: 'service_complaint', customer_type: 'new', targets: { resolution: '12h' }, warning_fractions: [0.6] },
    ])
    form.overrides.splice(0, 2)
    expect((slaDocument(form, doc) as typeof doc).policy.overrides).toBeUndefined()
  })

  it("names a broken override and a clock's own warning points at the api's paths", () => {
    const form = slaForm(doc)
    form.clocks.survey.warning = '0, 50'
    form.overrides[0]!.targets.resolution = '0m'
    form.overrides[0]!.warning = 'half'
    form.overrides.push(newOverride())
    expect(slaProblems(form, calendars).map((p) => `${p.code}@${p.path}`)).toEqual([
      'bad_fraction@policy.clocks.survey.warning_fractions',
      'zero_duration@policy.overrides[0].targets.resolution',
      'bad_fraction@policy.overrides[0].warning_fractions',
      'override_without_targets@policy.overrides[1].targets',
    ])
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

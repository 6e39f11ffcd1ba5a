import { describe, expect, it } from 'vitest'
import { departmentProblems, removalProblems, slaFollowing, type Departments } from '../departments'
import type { Routing } from '../problems'

const dep = (code: string, name_zh = '部', name_en = '') => ({ code, name_zh, name_en, assignment: 'none' as const })
const sound: Departments = { default_department: 'customer_service', departments: [dep('customer_service'), dep('sales'), dep('logistics')] }
const routing: Routing = {
  routes: [
    { when: { category: 'order' }, departments: ['sales'] },
    { when: { tag: 'late' }, departments: ['customer_service', 'logistics'], lead: 'customer_service' },
  ],
  first_response_hours: {},
}

describe('the departments, checked as the admin types', () => {
  it('accepts a sound list', () => {
    expect(departmentProblems(sound)).toEqual([])
  })

  it('names a bad or repeated code, a missing Chinese name and a default that is no department', () => {
    const d: Departments = { default_department: 'gone', departments: [dep('sales'), dep('sales'), dep('after sales'), dep('ops', ' ')] }
    expect(departmentProblems(d).map((p) => `${p.code}@${p.path}`)).toEqual([
      'duplicate_code@departments[1].code',
      'bad_code@departments[2].code',
      'missing_name@departments[3].name_zh',
      'unknown_department@default_department',
    ])
    expect(departmentProblems({ default_department: '', departments: [] }).map((p) => p.code)).toEqual(['empty_list', 'unknown_department'])
  })

  it('refuses to remove a department a route or an active person still uses, naming them', () => {
    const after = { ...sound, departments: [dep('customer_service')] }
    const people = [
      { name: 'li.na', department: 'logistics' },
      { name: 'old.hand', department: 'logistics', disabled_at: '2026-01-01T00:00:00Z' },
      { name: 'wang.wu', department: 'logistics' },
    ]
    expect(removalProblems(sound, after, routing, people)).toEqual([
      { code: 'department_in_route', path: 'routes[0]', subject: 'sales', params: { route: 1 } },
      { code: 'department_in_route', path: 'routes[1]', subject: 'logistics', params: { route: 2 } },
      { code: 'department_has_people', path: 'departments', subject: 'logistics', params: { people: 'li.na, wang.wu' } },
    ])
    expect(removalProblems(sound, sound, routing, people)).toEqual([])
  })
})

describe('the SLA entries that go with the departments', () => {
  const sla = {
    policy: { warning_fractions: [0.75] },
    departments: { sales: { calendar: 'cn-office', supervisor: 'supervisor:sales' }, logistics: { calendar: 'cn-office' } },
  }

  it('adds a new department with its calendar and supervisor, keeping the rest of the document', () => {
    const d = { ...sound, departments: [...sound.departments, dep('billing')] }
    expect(slaFollowing(sla, d, { billing: { calendar: 'always-on', notify_calendar: '', supervisor: ' supervisor:billing ' } })).toEqual({
      policy: { warning_fractions: [0.75] },
      departments: { ...sla.departments, billing: { calendar: 'always-on', supervisor: 'supervisor:billing' } },
    })
  })

  it('drops the entry of a department removed, and of one set back to the default calendar', () => {
    const d = { ...sound, departments: [dep('customer_service'), dep('sales')] }
    expect(slaFollowing(sla, d, { sales: null })!.departments).toEqual({})
  })

  it('is null when nothing changes, so only the departments are saved', () => {
    expect(slaFollowing(sla, sound, {})).toBeNull()
    expect(slaFollowing(sla, sound, { sales: { calendar: 'cn-office', supervisor: 'supervisor:sales' } })).toBeNull()
  })
})

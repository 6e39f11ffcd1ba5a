// The departments document (GET/PUT /v1/setup/departments) and the SLA entries that go with it, checked
// as the admin types with the api's own rules (shared::setup::documents `check_departments`), plus what
// only this page can see before saving: a route or a person still using a department being removed.
// The api stays the judge: its 422 `details.problems` are shown beside the row they name.
import { listProblems } from './setupDoc'
import type { Problem, Routing } from './problems'

export type Assignment = 'none' | 'round_robin' | 'least_open'
export const ASSIGNMENTS: readonly Assignment[] = ['none', 'round_robin', 'least_open']

export interface Department {
  code: string
  name_zh: string
  name_en: string
  assignment: Assignment
}

export interface Departments {
  default_department: string
  departments: Department[]
}

/** One department's entry in the SLA document: the calendar its clocks run on, who is escalated to. */
export interface DepartmentSla {
  calendar: string
  notify_calendar?: string | null
  supervisor?: string | null
}

/** The SLA document as far as this page touches it; the rest is carried through untouched. */
export interface SlaDepartments {
  departments?: Record<string, DepartmentSla>
  [other: string]: unknown
}

/** A person as GET /v1/users lists them, as far as a department's removal cares. */
export interface Member {
  name: string
  department?: string | null
  disabled_at?: string | null
}

export function departmentProblems(d: Departments): Problem[] {
  const out = listProblems('departments', d.departments)
  if (!d.departments.some((x) => x.code === d.default_department)) {
    out.push({ code: 'unknown_department', path: 'default_department', subject: d.default_department })
  }
  return out
}

/**
 * Why a department the stored document has may not go: a route still sends tickets to it, or a person
 * still works in it (the api checks routes; a person's department only this page checks, see the
 * report in the branch). One problem per department removed, naming the first route or person.
 */
export function removalProblems(before: Departments, after: Departments, routing: Routing | null, members: readonly Member[]): Problem[] {
  const kept = new Set(after.departments.map((d) => d.code))
  const out: Problem[] = []
  for (const gone of before.departments.map((d) => d.code).filter((c) => !kept.has(c))) {
    const route = routing?.routes.findIndex((r) => r.departments.includes(gone) || r.lead === gone) ?? -1
    if (route >= 0) out.push({ code: 'department_in_route', path: `routes[${route}]`, subject: gone, params: { route: route + 1 } })
    const people = members.filter((m) => m.department === gone && !m.disabled_at).map((m) => m.name)
    if (people.length) out.push({ code: 'department_has_people', path: 'departments', subject: gone, params: { people: people.join(', ') } })
  }
  return out
}

/**
 * The SLA document that goes with the edited departments: an entry for each department given a
 * calendar, none for a department removed (the api refuses a calendar for a department that does not
 * exist). `null` when it is unchanged, so only the departments document is saved.
 */
export function slaFollowing(sla: SlaDepartments, departments: Departments, wanted: Readonly<Record<string, DepartmentSla | null>>): SlaDepartments | null {
  const codes = new Set(departments.departments.map((d) => d.code))
  const before = sla.departments ?? {}
  const next: Record<string, DepartmentSla> = {}
  for (const [code, entry] of Object.entries(before)) if (codes.has(code)) next[code] = entry
  for (const [code, entry] of Object.entries(wanted)) {
    if (!codes.has(code)) continue
    if (entry && entry.calendar) {
      const clean: DepartmentSla = { calendar: entry.calendar }
      if (entry.notify_calendar) clean.notify_calendar = entry.notify_calendar
      if (entry.supervisor?.trim()) clean.supervisor = entry.supervisor.trim()
      next[code] = clean
    } else delete next[code]
  }
  if (JSON.stringify(sortKeys(next)) === JSON.stringify(sortKeys(before))) return null
  return { ...sla, departments: next }
}

function sortKeys(o: Record<string, DepartmentSla>) {
  return Object.keys(o)
    .sort()
    .map((k) => [k, o[k]!.calendar, o[k]!.notify_calendar ?? null, o[k]!.supervisor ?? null])
}

/** The supervisor a department's escalations go to, as the shipped setup names them. */
export function defaultSupervisor(code: string): string {
  return code ? `supervisor:${code}` : ''
}

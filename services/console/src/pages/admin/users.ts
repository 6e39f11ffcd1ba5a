// The checks the api makes on a new user or a change (services/api/src/auth.rs `check_name`,
// `check_department_for`; passwords.rs `check_new`), made as the admin types. The api stays the judge:
// its refusals are shown in words by useSubmit.
import type { components } from '@/api/schema'

export type Role = components['schemas']['Role']
export const ROLES: readonly Role[] = ['agent', 'inspector', 'supervisor', 'admin', 'ops']

/** Agents and supervisors work for one department; the other roles see every department. */
export function needsDepartment(role: Role | '' | null | undefined): boolean {
  return role === 'agent' || role === 'supervisor'
}

export const MIN_PASSWORD = 8
export const MAX_PASSWORD = 256
export const MAX_NAME = 100

export interface NewUserForm {
  name: string
  /** The name colleagues know (李伟); optional. */
  display_name?: string
  role: Role | ''
  department: string
  password: string
}

/** A field's problem, as an i18n key under `admin.users.invalid` (with its parameters). */
export interface FieldProblem {
  field: 'name' | 'display_name' | 'role' | 'department' | 'password'
  code: string
  params?: Record<string, unknown>
}

export function nameProblem(name: string, taken: readonly string[] = []): FieldProblem | null {
  const n = name.trim()
  if (!n) return { field: 'name', code: 'name_empty' }
  if (/\s/.test(n)) return { field: 'name', code: 'name_blank' }
  if ([...n].length > MAX_NAME) return { field: 'name', code: 'name_long', params: { max: MAX_NAME } }
  if (taken.includes(n)) return { field: 'name', code: 'name_taken', params: { name: n } }
  return null
}

export function displayNameProblem(displayName: string | undefined): FieldProblem | null {
  const n = (displayName ?? '').trim()
  if ([...n].length > MAX_NAME) return { field: 'display_name', code: 'display_name_long', params: { max: MAX_NAME } }
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(n)) return { field: 'display_name', code: 'display_name_control' }
  return null
}

export function departmentProblem(role: Role | '', department: string): FieldProblem | null {
  if (needsDepartment(role) && !department.trim()) return { field: 'department', code: 'department_needed' }
  if ([...department].length > MAX_NAME) return { field: 'department', code: 'department_long', params: { max: MAX_NAME } }
  return null
}

export function passwordProblem(password: string): FieldProblem | null {
  const n = [...password].length
  if (n < MIN_PASSWORD) return { field: 'password', code: 'password_short', params: { min: MIN_PASSWORD } }
  if (n > MAX_PASSWORD) return { field: 'password', code: 'password_long', params: { max: MAX_PASSWORD } }
  return null
}

/** Every problem of a new user, in the form's order; empty when the api would take it. */
export function newUserProblems(f: NewUserForm, taken: readonly string[] = []): FieldProblem[] {
  const out: FieldProblem[] = []
  const name = nameProblem(f.name, taken)
  if (name) out.push(name)
  const display = displayNameProblem(f.display_name)
  if (display) out.push(display)
  if (!f.role) out.push({ field: 'role', code: 'role_needed' })
  const dep = departmentProblem(f.role, f.department)
  if (dep) out.push(dep)
  const pw = passwordProblem(f.password)
  if (pw) out.push(pw)
  return out
}

/** The api's body for a new user: trimmed, the department only where the role has one. */
export function newUserBody(f: NewUserForm) {
  const display = (f.display_name ?? '').trim()
  return {
    name: f.name.trim(),
    role: f.role as Role,
    department: f.department.trim() || null,
    password: f.password,
    ...(display ? { display_name: display } : {}),
  }
}

/** The PATCH body for a change of role, department or display name: only what changed (`null` when nothing). */
export function userChange(
  before: { role: Role; department?: string | null; display_name?: string | null },
  after: { role: Role; department: string; display_name?: string },
): { role?: Role; department?: string; display_name?: string } | null {
  const out: { role?: Role; department?: string; display_name?: string } = {}
  if (after.role !== before.role) out.role = after.role
  const dep = after.department.trim()
  if (dep !== (before.department ?? '')) out.department = dep
  if (after.display_name !== undefined) {
    const display = after.display_name.trim()
    if (display !== (before.display_name ?? '')) out.display_name = display
  }
  return Object.keys(out).length ? out : null
}

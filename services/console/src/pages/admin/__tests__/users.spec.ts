import { describe, expect, it } from 'vitest'
import { needsDepartment, newUserBody, newUserProblems, passwordProblem, userChange, type NewUserForm } from '../users'

const good: NewUserForm = { name: 'li.wei', role: 'agent', department: 'customer_service', password: 'secret-123' }
const codes = (f: NewUserForm, taken: string[] = []) => newUserProblems(f, taken).map((p) => `${p.field}:${p.code}`)

describe('a new user, checked as the admin types', () => {
  it('accepts what the api takes', () => {
    expect(codes(good)).toEqual([])
    expect(codes({ ...good, role: 'admin', department: '' })).toEqual([])
  })

  it('names each problem with its field, in the form order', () => {
    expect(codes({ name: '', role: '', department: '', password: '' })).toEqual([
      'name:name_empty',
      'role:role_needed',
      'password:password_short',
    ])
    expect(codes({ ...good, name: 'li wei' })).toEqual(['name:name_blank'])
    expect(codes({ ...good, name: 'x'.repeat(101) })).toEqual(['name:name_long'])
    expect(codes({ ...good, name: ' li.wei ' }, ['li.wei'])).toEqual(['name:name_taken'])
    expect(codes({ ...good, display_name: '李'.repeat(101) })).toEqual(['display_name:display_name_long'])
    expect(codes({ ...good, display_name: '李\u0000伟' })).toEqual(['display_name:display_name_control'])
    expect(codes({ ...good, display_name: ' 李伟 ' })).toEqual([])
  })

  it('asks a department of agents and supervisors only', () => {
    expect(needsDepartment('agent')).toBe(true)
    expect(needsDepartment('supervisor')).toBe(true)
    expect(needsDepartment('inspector')).toBe(false)
    expect(codes({ ...good, role: 'supervisor', department: '  ' })).toEqual(['department:department_needed'])
    expect(codes({ ...good, role: 'inspector', department: '' })).toEqual([])
  })

  it('counts password characters, not bytes', () => {
    expect(passwordProblem('密码密码密码密码')).toBeNull()
    expect(passwordProblem('密码密码密码')?.code).toBe('password_short')
    expect(passwordProblem('x'.repeat(257))?.code).toBe('password_long')
  })

  it('sends the name trimmed and no empty department', () => {
    expect(newUserBody({ ...good, name: ' li.wei ', role: 'ops', department: '' })).toEqual({
      name: 'li.wei',
      role: 'ops',
      department: null,
      password: 'secret-123',
    })
    expect(newUserBody({ ...good, display_name: ' 李伟 ' }).display_name).toBe('李伟')
  })
})

describe('a change of role or department', () => {
  it('sends only what changed, and nothing when nothing did', () => {
    const before = { role: 'agent' as const, department: 'sales' }
    expect(userChange(before, { role: 'agent', department: 'sales' })).toBeNull()
    expect(userChange(before, { role: 'supervisor', department: 'sales' })).toEqual({ role: 'supervisor' })
    expect(userChange(before, { role: 'admin', department: '' })).toEqual({ role: 'admin', department: '' })
    expect(userChange({ role: 'admin', department: null }, { role: 'admin', department: '' })).toBeNull()
    expect(userChange({ ...before, display_name: '' }, { ...before, display_name: ' 李伟 ' })).toEqual({ display_name: '李伟' })
    expect(userChange({ ...before, display_name: '李伟' }, { ...before, display_name: '李伟' })).toBeNull()
  })
})

import { describe, expect, it } from 'vitest'
import { routingProblems, type Routing } from '../problems'

const known = {
  categories: ['order', 'other'],
  feedback_types: ['service_attitude'],
  tags: ['refund'],
  departments: ['sales', 'customer_service'],
}

describe('routing checks as the admin types', () => {
  it('accepts a sound table', () => {
    const r: Routing = {
      routes: [
        { when: { category: 'order' }, departments: ['sales'] },
        { when: { category: 'other' }, departments: ['customer_service', 'sales'], lead: 'sales' },
      ],
      first_response_hours: { urgent: 2 },
    }
    expect(routingProblems(r, known)).toEqual([])
  })

  it('names an unknown department, an unserved category and a zero deadline', () => {
    const r: Routing = {
      routes: [{ when: { category: 'order' }, departments: ['warehouse'] }],
      first_response_hours: { urgent: 0 },
    }
    const codes = routingProblems(r, known).map((p) => `${p.code}:${p.subject ?? ''}`)
    expect(codes).toEqual(['unknown_department:warehouse', 'category_without_route:other', 'zero_deadline:urgent'])
  })
})

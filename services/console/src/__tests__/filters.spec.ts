import { describe, expect, it } from 'vitest'
import type { TicketSummary } from '@/live/stream'
import { emptyFilters, fromQuery, insertionIndex, membership, pendingFilters, toQuery } from '@/pages/desk/inbox/filters'

const ticket = (over: Partial<TicketSummary> = {}): TicketSummary =>
  ({
    id: 'a', ticket_no: '20260110001', status: 'open', channel: 'form', submitted_at: '2026-01-10T08:00:00Z',
    priority: 'urgent', category: 'technical_fault', lead_department: 'product', departments: ['product'],
    owner: null, description: 'APP闪退', unread: true, clocks: [], ...over,
  }) as unknown as TicketSummary

describe('inbox filters', () => {
  it('become the api query and back', () => {
    const f = { ...pendingFilters(), department: ['product'], owner: ' li.wei ', overdue: true, q: '闪退', sort: 'deadline' as const }
    const q = toQuery(f)
    expect(q).toEqual({
      status: 'new,needs_review,open,waiting_on_customer,reopened',
      department: 'product', owner: 'li.wei', sla: 'overdue', q: '闪退', sort: 'deadline',
    })
    expect(fromQuery(q)).toEqual({ ...f, owner: 'li.wei' })
    expect(toQuery(emptyFilters())).toEqual({})
  })

  it('place a live ticket in or out of the list, or leave it to the server', () => {
    const f = { ...pendingFilters(), department: ['product'] }
    expect(membership(ticket(), f)).toBe('in')
    expect(membership(ticket({ status: 'resolved' }), f)).toBe('out')
    expect(membership(ticket({ lead_department: 'logistics', departments: ['logistics'] }), f)).toBe('out')
    expect(membership(ticket({ lead_department: 'customer_service', departments: ['customer_service', 'product'] }), f)).toBe('in')
    expect(membership(ticket(), { ...f, q: '退款' })).toBe('unknown')
    expect(membership(ticket({ status: 'archived' }), { ...f, q: '退款' })).toBe('out')
  })

  it('insert a new ticket where the sort puts it', () => {
    const list = [
      ticket({ id: '1', submitted_at: '2026-01-10T09:00:00Z' }),
      ticket({ id: '2', submitted_at: '2026-01-10T07:00:00Z' }),
    ]
    expect(insertionIndex(list, ticket({ submitted_at: '2026-01-10T08:00:00Z' }), 'submitted')).toBe(1)
    const due = (iso: string) => [{ kind: 'resolution', state: 'running', deadline: iso }]
    const byDeadline = [ticket({ id: '1', clocks: due('2026-01-10T10:00:00Z') as never }), ticket({ id: '2', clocks: [] })]
    expect(insertionIndex(byDeadline, ticket({ clocks: due('2026-01-10T09:00:00Z') as never }), 'deadline')).toBe(0)
    expect(insertionIndex(byDeadline, ticket({ clocks: [] }), 'deadline')).toBe(2)
  })
})

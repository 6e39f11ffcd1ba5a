// The inbox's filters: how they become the api's query (GET /v1/tickets), and whether a ticket that
// arrives on the live feed belongs in the list as filtered, so the list changes without a reload.
import type { components } from '@/api/schema'
import type { TicketSummary } from '@/live/stream'

export interface Filters {
  status: string[]
  department: string[]
  priority: string[]
  channel: string[]
  category: string[]
  owner: string
  overdue: boolean
  unread: boolean
  q: string
  from: string
  to: string
  sort: 'submitted' | 'deadline'
}

export function emptyFilters(): Filters {
  return {
    status: [],
    department: [],
    priority: [],
    channel: [],
    category: [],
    owner: '',
    overdue: false,
    unread: false,
    q: '',
    from: '',
    to: '',
    sort: 'submitted',
  }
}

/** Open work: what an agent's inbox shows until they choose otherwise. */
export function pendingFilters(): Filters {
  return { ...emptyFilters(), status: ['new', 'needs_review', 'open', 'waiting_on_customer', 'reopened'] }
}

/** The list's query as the api names it (also what a saved view keeps), without empty entries. */
type ViewQuery = components['schemas']['ViewQuery']
export type ListQuery = { [K in keyof ViewQuery]?: NonNullable<ViewQuery[K]> }

/** The api's query parameters for these filters (lists comma-separated, empty ones left out). */
export function toQuery(f: Filters): ListQuery {
  const q: ListQuery = {}
  const list = (k: 'status' | 'department' | 'priority' | 'channel' | 'category', v: string[]) => {
    if (v.length) q[k] = v.join(',')
  }
  list('status', f.status)
  list('department', f.department)
  list('priority', f.priority)
  list('channel', f.channel)
  list('category', f.category)
  if (f.owner.trim()) q.owner = f.owner.trim()
  if (f.overdue) q.sla = 'overdue'
  if (f.unread) q.unread = true
  if (f.q.trim()) q.q = f.q.trim()
  if (f.from) q.from = f.from
  if (f.to) q.to = f.to
  if (f.sort !== 'submitted') q.sort = f.sort
  return q
}

/** The filters a saved view's query stands for (the inverse of `toQuery`). */
export function fromQuery(q: ViewQuery): Filters {
  const f = emptyFilters()
  const str = (k: keyof ViewQuery) => (typeof q[k] === 'string' ? (q[k] as string) : '')
  const list = (k: keyof ViewQuery) => str(k).split(',').map((s) => s.trim()).filter(Boolean)
  f.status = list('status')
  f.department = list('department')
  f.priority = list('priority')
  f.channel = list('channel')
  f.category = list('category')
  f.owner = str('owner')
  f.overdue = q.sla === 'overdue'
  f.unread = q.unread === true
  f.q = str('q')
  f.from = str('from')
  f.to = str('to')
  f.sort = q.sort === 'deadline' ? 'deadline' : 'submitted'
  return f
}

/**
 * Whether a ticket belongs in the list: `in` or `out` when the browser can tell from the ticket alone,
 * `unknown` when a filter only the server can decide (text, dates in the server's zone, overdue) is set
 * and the ticket passes every other one. The inbox refetches on `unknown`.
 */
export function membership(t: TicketSummary, f: Filters): 'in' | 'out' | 'unknown' {
  const oneOf = (allowed: string[], value: string | null | undefined) =>
    allowed.length === 0 || (value != null && allowed.includes(value))
  const departments = [t.lead_department, ...(t.departments ?? [])].filter(Boolean) as string[]
  const inDepartment = f.department.length === 0 || departments.some((d) => f.department.includes(d))
  const pass =
    oneOf(f.status, t.status) &&
    inDepartment &&
    oneOf(f.priority, t.priority) &&
    oneOf(f.channel, t.channel) &&
    oneOf(f.category, t.category) &&
    (!f.owner.trim() || t.owner === f.owner.trim()) &&
    (!f.unread || t.unread)
  if (!pass) return 'out'
  if (f.q.trim() || f.from || f.to || f.overdue) return 'unknown'
  return 'in'
}

/** The earliest deadline of a ticket's running clocks, for the deadline sort (none sorts last). */
export function nearestDeadline(t: TicketSummary): number {
  const deadlines = (t.clocks ?? [])
    .filter((c) => c.state === 'running' || c.state === 'breached')
    .map((c) => (c.deadline ? Date.parse(c.deadline) : NaN))
    .filter((d) => !Number.isNaN(d))
  return deadlines.length ? Math.min(...deadlines) : Infinity
}

/** Where a ticket goes in a list sorted as `sort` says (newest first, or nearest deadline first). */
export function insertionIndex(items: readonly TicketSummary[], t: TicketSummary, sort: Filters['sort']): number {
  const before =
    sort === 'deadline'
      ? (o: TicketSummary) => nearestDeadline(o) <= nearestDeadline(t)
      : (o: TicketSummary) => Date.parse(o.submitted_at) >= Date.parse(t.submitted_at)
  let i = 0
  while (i < items.length && before(items[i]!)) i++
  return i
}

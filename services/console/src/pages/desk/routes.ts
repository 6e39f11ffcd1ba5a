import type { RouteRecordRaw } from 'vue-router'

// The agents' desk. Inspectors read tickets too; ops have no customer data to see.
const roles = ['agent', 'supervisor', 'inspector', 'admin'] as const

const routes: RouteRecordRaw[] = [
  {
    path: '/desk',
    name: 'inbox',
    component: () => import('./inbox/InboxPage.vue'),
    meta: { roles, title: 'desk.inbox.title', nav: true },
  },
  {
    path: '/desk/tickets/:key',
    name: 'ticket',
    component: () => import('./ticket/TicketPage.vue'),
    meta: { roles, title: 'desk.ticket.back' },
  },
]

export default routes

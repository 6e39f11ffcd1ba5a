import type { RouteRecordRaw } from 'vue-router'

// The admin's setup pages (后台配置): the business's routes, edited as versioned data.
const roles = ['admin'] as const

const routes: RouteRecordRaw[] = [
  {
    path: '/admin/routing',
    name: 'admin-routing',
    component: () => import('./RoutingPage.vue'),
    meta: { roles, title: 'admin.routing.title', nav: true },
  },
]

export default routes

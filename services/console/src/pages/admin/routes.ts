import type { RouteRecordRaw } from 'vue-router'

// The admin's setup pages (后台配置): people and roles, the business's routes edited as versioned data,
// the tracking spreadsheet's import and the classifier's models. Each page is its own chunk, loaded
// only when an admin opens it.
const roles = ['admin'] as const

const routes: RouteRecordRaw[] = [
  {
    path: '/admin/users',
    name: 'admin-users',
    component: () => import('./UsersPage.vue'),
    meta: { roles, title: 'admin.users.title', nav: true },
  },
  {
    path: '/admin/routing',
    name: 'admin-routing',
    component: () => import('./RoutingPage.vue'),
    meta: { roles, title: 'admin.routing.title', nav: true },
  },
  {
    path: '/admin/import',
    name: 'admin-import',
    component: () => import('./ImportPage.vue'),
    meta: { roles, title: 'admin.import.title', nav: true },
  },
  {
    path: '/admin/classifier',
    name: 'admin-classifier',
    component: () => import('./ClassifierPage.vue'),
    meta: { roles, title: 'admin.classifier.title', nav: true },
  },
]

export default routes

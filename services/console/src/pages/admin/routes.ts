import type { RouteRecordRaw } from 'vue-router'
import { withMessages } from '@/i18n/lazy'

// The admin's setup pages (后台配置): people and roles, the business's routes, departments, categories,
// SLA and calendars, survey policy and report targets edited as versioned data,
// the tracking spreadsheet's import and the classifier's models. Each page is its own chunk, loaded
// only when an admin opens it, with the area's messages (src/pages/admin/lazy/locales).
const roles = ['admin'] as const

const routes: RouteRecordRaw[] = [
  {
    path: '/admin/users',
    name: 'admin-users',
    component: withMessages('admin', () => import('./UsersPage.vue')),
    meta: { roles, title: 'admin.users.title', nav: true },
  },
  {
    path: '/admin/routing',
    name: 'admin-routing',
    component: withMessages('admin', () => import('./RoutingPage.vue')),
    meta: { roles, title: 'admin.routing.title', nav: true },
  },
  {
    path: '/admin/departments',
    name: 'admin-departments',
    component: withMessages('admin', () => import('./DepartmentsPage.vue')),
    meta: { roles, title: 'admin.departments.title', nav: true },
  },
  {
    path: '/admin/taxonomy',
    name: 'admin-taxonomy',
    component: withMessages('admin', () => import('./TaxonomyPage.vue')),
    meta: { roles, title: 'admin.taxonomy.title', nav: true },
  },
  {
    path: '/admin/sla',
    name: 'admin-sla',
    component: withMessages('admin', () => import('./SlaPage.vue')),
    meta: { roles, title: 'admin.sla.title', nav: true },
  },
  {
    path: '/admin/policies',
    name: 'admin-policies',
    component: withMessages('admin', () => import('./SurveyTargetsPage.vue')),
    meta: { roles, title: 'admin.policy.title', nav: true },
  },
  {
    path: '/admin/import',
    name: 'admin-import',
    component: withMessages('admin', () => import('./ImportPage.vue')),
    meta: { roles, title: 'admin.import.title', nav: true },
  },
  {
    path: '/admin/classifier',
    name: 'admin-classifier',
    component: withMessages('admin', () => import('./ClassifierPage.vue')),
    meta: { roles, title: 'admin.classifier.title', nav: true },
  },
]

export default routes

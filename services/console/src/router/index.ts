// Routes come from each page area's own `routes.ts` (desk, review, board, dashboard, setup, auth),
// registered here in one place. `meta.roles` names who may open a route; `meta.public` routes need no
// session. A role without a page of its own lands on the first route its role may open.
import { createRouter, createWebHistory, type RouteRecordRaw } from 'vue-router'
import { restore, session, type Role } from '@/session/store'

declare module 'vue-router' {
  interface RouteMeta {
    roles?: readonly Role[]
    public?: boolean
    /** The i18n key of the page's title (document title and the navigation). */
    title?: string
    /** Shown in the top navigation. */
    nav?: boolean
  }
}

const areas = import.meta.glob<{ default: RouteRecordRaw[] }>('../pages/*/routes.ts', { eager: true })
export const areaRoutes: RouteRecordRaw[] = Object.values(areas).flatMap((m) => m.default)

export function mayOpen(route: { meta?: { roles?: readonly Role[] } }, role: Role | undefined): boolean {
  const roles = route.meta?.roles
  return !roles || (role !== undefined && roles.includes(role))
}

/** Where a signed-in user starts: the first navigable route the role may open. */
export function homeFor(role: Role | undefined): string {
  const first = areaRoutes.find((r) => r.meta?.nav && mayOpen(r, role))
  return first ? first.path : '/no-page'
}

export const router = createRouter({
  history: createWebHistory(),
  routes: [
    ...areaRoutes,
    // Where `/` leads depends on who is signed in, which only the guard knows (after asking the api).
    { path: '/', name: 'home', component: () => import('@/components/NoPage.vue') },
    { path: '/no-page', name: 'no-page', component: () => import('@/components/NoPage.vue') },
    { path: '/:rest(.*)*', name: 'not-found', component: () => import('@/components/NoPage.vue'), meta: { public: true } },
  ],
})

router.beforeEach(async (to) => {
  if (!session.checked) await restore()
  if (to.name === 'home') return session.user ? { path: homeFor(session.user.role) } : { name: 'sign-in' }
  if (to.name === 'sign-in' && session.user) return { path: homeFor(session.user.role) }
  if (to.meta.public) return true
  if (!session.user) return { name: 'sign-in', query: to.fullPath === '/' ? {} : { next: to.fullPath } }
  if (!mayOpen(to, session.user.role)) return { path: homeFor(session.user.role) }
  return true
})

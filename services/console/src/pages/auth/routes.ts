import type { RouteRecordRaw } from 'vue-router'

const routes: RouteRecordRaw[] = [
  {
    path: '/sign-in',
    name: 'sign-in',
    component: () => import('./SignInPage.vue'),
    meta: { public: true, title: 'auth.signIn' },
  },
]

export default routes

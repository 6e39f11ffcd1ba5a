// Who is signed in. The session itself is an HttpOnly cookie the page cannot read; the CSRF token the
// api hands out with it stays in this module's memory (never in localStorage), so a reload asks the
// api for a fresh one (GET /v1/auth/session).
import { reactive } from 'vue'
import { api, call, sessionHooks } from '@/api/client'
import type { components } from '@/api/schema'
import { closeLive } from '@/live/stream'

export type SessionUser = components['schemas']['SessionUser']
export type Role = SessionUser['role']

export const session = reactive({
  user: null as SessionUser | null,
  /** Whether the api has been asked once since the page loaded. */
  checked: false,
  /** The session ended while the page was open: a sign-in dialog appears over the page (nothing typed is lost). */
  expired: false,
})

function adopt(body: { user: SessionUser; csrf_token: string }) {
  session.user = body.user
  sessionHooks.csrf = body.csrf_token
  session.expired = false
}

sessionHooks.onUnauthorized = (path) => {
  if (path.startsWith('/v1/auth/session')) return
  if (session.user) session.expired = true
}

/** Asks the api whether the cookie still holds a live session. */
export async function restore(): Promise<SessionUser | null> {
  try {
    adopt(await call(api.GET('/v1/auth/session')))
  } catch {
    session.user = null
    sessionHooks.csrf = null
  }
  session.checked = true
  return session.user
}

export async function signIn(name: string, password: string): Promise<SessionUser> {
  adopt(await call(api.POST('/v1/auth/session', { body: { name, password } })))
  session.checked = true
  return session.user!
}

function forget() {
  session.user = null
  session.expired = false
  sessionHooks.csrf = null
  closeLive()
}

export async function signOut() {
  await call(api.DELETE('/v1/auth/session'))
  forget()
}

export async function signOutEverywhere() {
  await call(api.POST('/v1/auth/session/revoke-all'))
  forget()
}

// The one api client: typed from the api's OpenAPI document (src/api/schema.d.ts, generated from
// openapi.json), sending the session cookie and, on every state-changing request, the CSRF token
// that the session store keeps in memory only.
import createClient, { type Middleware } from 'openapi-fetch'
import type { paths } from './schema'
import type { PendingPaths } from './pending'
import { Refusal } from './refusal'

/** Where the CSRF token and the "session ended" signal live; the session store plugs itself in. */
export const sessionHooks = {
  csrf: null as string | null,
  onUnauthorized: (_path: string) => {},
}

const SAFE = new Set(['GET', 'HEAD', 'OPTIONS'])

const session: Middleware = {
  onRequest({ request }) {
    if (!SAFE.has(request.method) && sessionHooks.csrf) {
      request.headers.set('X-CSRF-Token', sessionHooks.csrf)
    }
    return request
  },
  onResponse({ request, response }) {
    if (response.status === 401) sessionHooks.onUnauthorized(new URL(request.url).pathname)
    return response
  },
}

export const api = createClient<paths & PendingPaths>({
  baseUrl: typeof location === 'undefined' ? 'http://localhost' : location.origin,
  credentials: 'same-origin',
})
api.use(session)

type Answer<T> = { data?: T; error?: unknown; response: Response }

/** Awaits an api call: its data, or a `Refusal` carrying the api's error code and details. */
export async function call<T>(request: Promise<Answer<T>>): Promise<T> {
  let answer: Answer<T>
  try {
    answer = await request
  } catch (e) {
    throw Refusal.network(e)
  }
  if (!answer.response.ok) throw Refusal.fromResponse(answer.response, answer.error)
  return answer.data as T
}

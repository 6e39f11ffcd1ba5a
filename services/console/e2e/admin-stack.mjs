// What every test file of the admin's pages starts with: the real api and workers on a fresh database
// and prefix (stack.mjs), one chromium, and an admin who signs in to the people page.
import { after, before } from 'node:test'
import { Stack } from './stack.mjs'
import { launch, signIn } from './browser.mjs'

/** Registers the file's before/after hooks; `browser` and `admin` are there once `before` has run. */
export function adminStack(name) {
  const env = { stack: new Stack(), browser: null, admin: null }
  before(async () => {
    await env.stack.start()
    env.browser = await launch()
    env.admin = await env.stack.user(name, 'admin', undefined)
  })
  after(async () => {
    await env.browser?.close()
    await env.stack.stop()
  })
  env.adminIn = (page) => signIn(page, env.stack.base, env.admin, '[data-test=users] [data-user]')
  return env
}

// Messages of a page area that only some people open (the admin's pages), kept out of the first load:
// `src/pages/<area>/lazy/locales/<locale>.json`, compiled like every locale file, merged under the
// area's name when one of its routes is first opened. The area's eager file keeps what the navigation
// needs before (the pages' titles).
import { i18n } from '@/i18n'
import { LOCALES } from './messages'

const files = import.meta.glob<Record<string, unknown>>('../pages/*/lazy/locales/*.json', { import: 'default' })
const loaded = new Map<string, Promise<void>>()

export function loadAreaMessages(area: string): Promise<void> {
  let done = loaded.get(area)
  if (!done) {
    done = Promise.all(
      LOCALES.map(async (locale) => {
        const load = files[`../pages/${area}/lazy/locales/${locale}.json`]
        // eslint-disable-next-line @typescript-eslint/no-explicit-any
        if (load) i18n.global.mergeLocaleMessage(locale, { [area]: await load() } as any)
      }),
    ).then(() => undefined)
    done.catch(() => loaded.delete(area))
    loaded.set(area, done)
  }
  return done
}

/** A route's component that waits for its area's messages too. */
export function withMessages<T>(area: string, component: () => Promise<T>): () => Promise<T> {
  return () => Promise.all([loadAreaMessages(area), component()]).then(([, c]) => c)
}

import { locale } from '@/i18n'

const cache = new Map<string, Intl.DateTimeFormat>()

/** A date and time in the user's language and the browser's zone; '—' for none. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '—'
  const at = new Date(iso)
  if (Number.isNaN(at.getTime())) return iso
  const key = locale.value
  let f = cache.get(key)
  if (!f) {
    f = new Intl.DateTimeFormat(key, { dateStyle: 'short', timeStyle: 'short' })
    cache.set(key, f)
  }
  return f.format(at)
}

import { createI18n } from 'vue-i18n'
import { ref } from 'vue'
import { assemble, DEFAULT_LOCALE, LOCALES, type Locale } from './messages'

const files = import.meta.glob(['./locales/*.json', '../pages/*/locales/*.json'], {
  eager: true,
  import: 'default',
})

const STORAGE_KEY = 'loopdesk.locale'

function initialLocale(): Locale {
  const saved = localStorage.getItem(STORAGE_KEY)
  return (LOCALES as readonly string[]).includes(saved ?? '') ? (saved as Locale) : DEFAULT_LOCALE
}

export const i18n = createI18n({
  legacy: false,
  locale: initialLocale(),
  fallbackLocale: DEFAULT_LOCALE,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  messages: assemble(files) as any,
  missingWarn: false,
  fallbackWarn: false,
})

/** The locale as a ref components can watch (Element Plus's own locale follows it). */
export const locale = ref<Locale>(i18n.global.locale.value as Locale)

export function setLocale(next: Locale) {
  i18n.global.locale.value = next
  locale.value = next
  localStorage.setItem(STORAGE_KEY, next)
  document.documentElement.lang = next
}

document.documentElement.lang = locale.value

// The business's own codes (categories, feedback types, tags, departments) with their names in both
// languages, from GET /v1/taxonomy. Fixed codes (status, priority, channel, ...) are in the locale
// files instead. A code the taxonomy does not name is shown as itself.
import { computed, reactive } from 'vue'
import { api, call } from '@/api/client'
import { locale } from '@/i18n'

export interface Named {
  code: string
  name_zh: string
  name_en: string
}

const state = reactive({
  categories: [] as Named[],
  feedback_types: [] as Named[],
  tags: [] as Named[],
  departments: [] as Named[],
  loaded: false,
})

let loading: Promise<void> | null = null

export function loadTaxonomy(): Promise<void> {
  loading ??= call(api.GET('/v1/taxonomy'))
    .then((t) => {
      state.categories = t.categories
      state.feedback_types = t.feedback_types
      state.tags = t.tags
      state.departments = t.departments
      state.loaded = true
    })
    .catch(() => {
      // Without the taxonomy the codes themselves are shown; a later page may try again.
      loading = null
    })
  return loading
}

/** Asks the api again, after the admin changed the taxonomy or departments. */
export function reloadTaxonomy(): Promise<void> {
  loading = null
  return loadTaxonomy()
}

export type Group = 'categories' | 'feedback_types' | 'tags' | 'departments'

export function useTaxonomy() {
  void loadTaxonomy()
  const name = (group: Group, code: string | null | undefined): string => {
    if (!code) return ''
    const hit = state[group].find((n) => n.code === code)
    if (!hit) return code
    return locale.value === 'en' ? hit.name_en || hit.code : hit.name_zh || hit.code
  }
  const options = (group: Group) =>
    computed(() => state[group].map((n) => ({ value: n.code, label: name(group, n.code) })))
  return { name, options, state }
}

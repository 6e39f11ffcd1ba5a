// One setup document of the api (GET/PUT /v1/setup/{kind}, its history and one-step rollback), as the
// taxonomy and SLA pages use it: the current version, the api's refusal problems, the history.
import { ref } from 'vue'
import { useI18n } from 'vue-i18n'
import { api, call } from '@/api/client'
import { Refusal } from '@/api/refusal'
import { useSubmit } from '@/i18n/useSubmit'
import { useTaxonomy, type Group } from '@/taxonomy'
import type { components } from '@/api/schema'
import type { Problem } from './problems'

/** The setup's kinds, as the api's OpenAPI document names them. */
export type Kind = components['schemas']['Kind']

export interface HistoryEntry {
  version: number
  author: string
  created_at: string
  note: string
  changes: { path: string; op: string }[]
}

/** Another kind's document saved in the same change. */
export interface Along {
  kind: Kind
  body: unknown
  base_version: number
}

export function useSetupDoc<T>(kind: Kind) {
  const { t, te } = useI18n()
  const { name } = useTaxonomy()
  const submit = useSubmit()
  const version = ref(0)
  const body = ref<T | null>(null)
  /** The document as stored, to tell what an edit changed. */
  const stored = ref<T | null>(null)
  const history = ref<HistoryEntry[]>([])
  const serverProblems = ref<Problem[]>([])
  const saved = ref(false)

  async function load() {
    const [current, h] = await Promise.all([
      call(api.GET('/v1/setup/{kind}', { params: { path: { kind } } })),
      call(api.GET('/v1/setup/{kind}/history', { params: { path: { kind }, query: { limit: 10 } } })),
    ])
    version.value = current.version
    body.value = JSON.parse(JSON.stringify(current.body)) as T
    stored.value = JSON.parse(JSON.stringify(current.body)) as T
    history.value = h as unknown as HistoryEntry[]
  }

  /**
   * Saves `next` as a new version; with `along`, the other kinds' documents it needs (a new category's
   * route) are saved in the same change, checked together by the api.
   */
  function save(next: unknown, note: string, along: Along[] = []) {
    saved.value = false
    serverProblems.value = []
    // The document's type depends on the kind; the api's schema calls it an object.
    const plain = (v: unknown) => JSON.parse(JSON.stringify(v)) as Record<string, never>
    return submit.run(async () => {
      try {
        if (along.length) {
          await call(
            api.PUT('/v1/setup', {
              body: {
                documents: [
                  { kind, body: plain(next), base_version: version.value },
                  ...along.map((a) => ({ kind: a.kind, body: plain(a.body), base_version: a.base_version })),
                ],
                note,
              },
            }),
          )
        } else {
          await call(api.PUT('/v1/setup/{kind}', { params: { path: { kind } }, body: { body: plain(next), note, base_version: version.value } }))
        }
      } catch (e) {
        if (e instanceof Refusal && e.code === 'setup_refused') {
          serverProblems.value = (e.details.problems as Problem[]) ?? []
        }
        throw e
      }
      saved.value = true
      await load()
    })
  }

  function rollback() {
    saved.value = false
    serverProblems.value = []
    return submit.run(async () => {
      try {
        await call(api.POST('/v1/setup/{kind}/rollback', { params: { path: { kind } } }))
      } catch (e) {
        if (e instanceof Refusal && e.code === 'setup_refused') {
          serverProblems.value = (e.details.problems as Problem[]) ?? []
        }
        throw e
      }
      await load()
    })
  }

  /** A problem in words; a code of the taxonomy is shown by its name. */
  function explain(p: Problem): string {
    const key = `admin.problem.${p.code}`
    const group: Group | null = /department|lead/.test(p.code) ? 'departments' : /category/.test(p.code) ? 'categories' : null
    const subject = p.subject ? (group ? name(group, p.subject) : p.subject) : ''
    return te(key) ? t(key, { ...p.params, subject }) : p.code
  }

  return { version, body, stored, history, serverProblems, saved, load, save, rollback, explain, ...submit }
}

import { useI18n } from 'vue-i18n'
import { Refusal } from '@/api/refusal'
import { session } from '@/session/store'
import { explainRefusal } from './refusal'

/** `explain(error)`: any thrown error as a sentence in the user's language. */
export function useExplain() {
  const { t, te } = useI18n()
  const tr = { t: (k: string, p?: Record<string, unknown>) => (p ? t(k, p) : t(k)), te: (k: string) => te(k) }
  return (e: unknown): string => {
    const r = e instanceof Refusal ? e : Refusal.network(e)
    return explainRefusal(tr, r, session.user?.role)
  }
}

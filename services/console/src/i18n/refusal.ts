// Turns an api refusal into a sentence in the user's language, from its code and details
// (CONTRACTS.md "Error shape"); the api's English message is only the last resort.
import type { Refusal } from '@/api/refusal'

export interface Translator {
  t: (key: string, params?: Record<string, unknown>) => string
  te: (key: string) => boolean
}

function label(tr: Translator, group: string, code: unknown): string {
  const key = `labels.${group}.${String(code)}`
  return tr.te(key) ? tr.t(key) : String(code ?? '')
}

function fieldLabel(tr: Translator, field: string | null): string | null {
  if (!field) return null
  return tr.te(`fields.${field}`) ? tr.t(`fields.${field}`) : field
}

export function explainRefusal(
  tr: Translator,
  r: Pick<Refusal, 'status' | 'code' | 'message' | 'field' | 'details' | 'retryAfter'>,
  role?: string | null,
): string {
  const d = r.details ?? {}
  switch (r.code) {
    case 'invalid_transition':
      if (d.action && d.status) {
        return tr.t('errors.invalid_transition', {
          action: label(tr, 'action', d.action),
          status: label(tr, 'status', d.status),
        })
      }
      return tr.t('errors.invalid_transition_plain')
    case 'forbidden': {
      const reason = typeof d.reason === 'string' ? d.reason : null
      if (reason && tr.te(`errors.forbidden_reason.${reason}`)) {
        return tr.t(`errors.forbidden_reason.${reason}`, { role: label(tr, 'role', d.role ?? role) })
      }
      return tr.t('errors.forbidden')
    }
    case 'rate_limited': {
      const seconds = r.retryAfter ?? (typeof d.retry_after_secs === 'number' ? d.retry_after_secs : null)
      return seconds !== null
        ? tr.t('errors.rate_limited', { seconds })
        : tr.t('errors.rate_limited_later')
    }
    case 'missing_field':
    case 'invalid_value':
    case 'field_too_long': {
      const field = fieldLabel(tr, r.field ?? (typeof d.field === 'string' ? d.field : null))
      if (field) return tr.t(`errors.${r.code}`, { field })
      return tr.te(`errors.${r.code}_plain`) ? tr.t(`errors.${r.code}_plain`) : tr.t('errors.status.400')
    }
  }
  if (tr.te(`errors.${r.code}`)) return tr.t(`errors.${r.code}`)
  if (tr.te(`errors.status.${r.status}`)) return tr.t(`errors.status.${r.status}`)
  if (r.status >= 500) return tr.t('errors.status.500')
  return tr.t('errors.fallback', { message: r.message })
}

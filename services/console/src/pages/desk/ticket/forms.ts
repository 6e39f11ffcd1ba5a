// The form behind each action button (CONTRACTS.md action codes): which fields it has, how they are
// shown, and what a fresh draft holds. The page keeps one draft per action until the api accepts it,
// so a refusal never costs what was typed.

export type ActionCode =
  | 'reply' | 'note' | 'step' | 'contact' | 'wait' | 'resume' | 'priority' | 'assign' | 'reclassify'
  | 'merge' | 'resolve' | 'approve' | 'review' | 'reopen' | 'archive' | 'supplement' | 'reveal'

export const ACTION_CODES: readonly ActionCode[] = [
  'reply', 'note', 'step', 'contact', 'wait', 'resume', 'priority', 'assign', 'reclassify',
  'merge', 'resolve', 'approve', 'review', 'reopen', 'archive', 'supplement', 'reveal',
]

export type FieldKind = 'text' | 'textarea' | 'datetime' | 'switch' | 'choice' | 'tags' | 'category' | 'feedbackType'

export interface Field {
  /** The api body's field name; its label is `fields.<name>`. */
  name: string
  kind: FieldKind
  required?: boolean
  /** For `choice`: the codes, labelled by `labels.<labels>.<code>` (or shown as they are). */
  choices?: readonly (string | number)[]
  labels?: string
  /** i18n key of a hint under the field. */
  help?: string
  /** Shown only while this says so (e.g. the solution of step 4). */
  when?: (draft: Draft) => boolean
}

export type Draft = Record<string, string | number | boolean | string[]>

export const STEP_CHOICES = [1, 2, 3, 4, 5, 7] as const
export const STEP_NAMES = [
  'intake', 'confirm_information', 'analyse', 'propose_solution',
  'implement', 'confirm_resolution', 'revisit', 'archive',
] as const

export const FORMS: Record<ActionCode, readonly Field[]> = {
  reply: [{ name: 'message', kind: 'textarea', required: true }],
  note: [{ name: 'text', kind: 'textarea', required: true }],
  step: [
    { name: 'step', kind: 'choice', required: true, choices: STEP_CHOICES, labels: 'stepNo', help: 'desk.ticket.stepHelp' },
    { name: 'owner', kind: 'text' },
    { name: 'started_at', kind: 'datetime' },
    { name: 'ended_at', kind: 'datetime' },
    { name: 'result', kind: 'text' },
    { name: 'remark', kind: 'textarea' },
    { name: 'solution', kind: 'textarea', required: true, help: 'desk.ticket.solutionHelp', when: (d) => d.step === 4 },
  ],
  contact: [{ name: 'note', kind: 'textarea' }],
  wait: [{ name: 'reason', kind: 'textarea' }],
  resume: [],
  priority: [
    { name: 'priority', kind: 'choice', required: true, choices: ['urgent', 'general', 'suggestion'], labels: 'priority' },
    { name: 'reason', kind: 'text' },
  ],
  assign: [{ name: 'owner', kind: 'text', required: true }],
  reclassify: [
    { name: 'category', kind: 'category' },
    { name: 'feedback_type', kind: 'feedbackType' },
    { name: 'priority', kind: 'choice', choices: ['urgent', 'general', 'suggestion'], labels: 'priority' },
    { name: 'tags', kind: 'tags', help: 'desk.ticket.tagsHelp' },
    { name: 'reason', kind: 'text' },
  ],
  merge: [{ name: 'into', kind: 'text', required: true }],
  resolve: [
    { name: 'resolution', kind: 'choice', required: true, choices: ['full', 'partial', 'unresolved'], labels: 'resolution' },
    { name: 'reason', kind: 'textarea', help: 'desk.ticket.reasonHelp', when: (d) => d.resolution !== 'full' },
    { name: 'first_contact', kind: 'switch' },
    { name: 'solution', kind: 'textarea' },
    { name: 'follow_up_plan', kind: 'textarea' },
  ],
  approve: [{ name: 'remark', kind: 'textarea' }],
  review: [
    { name: 'remark', kind: 'textarea' },
    { name: 'follow_up_plan', kind: 'textarea' },
  ],
  reopen: [{ name: 'reason', kind: 'textarea' }],
  archive: [],
  supplement: [
    { name: 'order_number', kind: 'text' },
    { name: 'expected_resolution_at', kind: 'datetime' },
    { name: 'customer_type', kind: 'choice', choices: ['new', 'returning'], labels: 'customerType' },
    { name: 'info_source', kind: 'text', required: true, help: 'desk.ticket.infoSourceHelp' },
  ],
  reveal: [],
}

/** A fresh draft: empty text, the first choice where one is required, switches off. */
export function emptyDraft(code: ActionCode): Draft {
  const d: Draft = {}
  for (const f of FORMS[code]) {
    if (f.kind === 'switch') d[f.name] = false
    else if (f.kind === 'tags') d[f.name] = []
    else if (f.kind === 'choice' && f.required && f.choices?.length) d[f.name] = f.choices[0]!
    else d[f.name] = ''
  }
  return d
}

/** Text trimmed, empty left out, `datetime-local` values as RFC 3339 instants. */
export function cleanBody(code: ActionCode, d: Draft): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const f of FORMS[code]) {
    if (f.when && !f.when(d)) continue
    const v = d[f.name]
    if (v === undefined) continue
    if (typeof v === 'string') {
      const s = v.trim()
      if (!s) continue
      out[f.name] = f.kind === 'datetime' ? new Date(s).toISOString() : s
    } else if (Array.isArray(v)) {
      if (v.length) out[f.name] = v
    } else {
      out[f.name] = v
    }
  }
  return out
}

/** Actions that change nothing but the status ask for a confirmation instead of a form. */
export function confirmOnly(code: ActionCode): boolean {
  return FORMS[code].length === 0
}

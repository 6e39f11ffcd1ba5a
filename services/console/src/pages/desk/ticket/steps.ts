// The 8 handling steps (SPEC "Handling") read from the timeline: for each step the latest entry that
// records it, with owner, start, end, result and remark.
import { STEP_NAMES } from './forms'

export interface Entry {
  kind: string
  actor: string
  at: string
  data: Record<string, unknown> | unknown
}

export interface StepRow {
  step: number
  name: (typeof STEP_NAMES)[number]
  owner: string | null
  start: string | null
  end: string | null
  result: string | null
  remark: string | null
  /** For step 6: the resolution code, labelled by the page. */
  resolution: string | null
  done: boolean
}

const str = (v: unknown): string | null => (typeof v === 'string' && v.trim() ? v : null)

/** `agent:li.wei` → `li.wei`; workers keep their `worker:` prefix. */
export function actorName(actor: string): string {
  const [role, name] = actor.split(':', 2)
  return name && role !== 'worker' ? name : actor
}

function stepOf(e: Entry): number | null {
  const d = (e.data ?? {}) as Record<string, unknown>
  if (e.kind === 'registered' || e.kind === 'imported') return 1
  if (e.kind === 'resolved') return 6
  if (e.kind === 'archived') return 8
  if (e.kind === 'step' && typeof d.step === 'number') return d.step
  return null
}

export function stepRows(timeline: readonly Entry[]): StepRow[] {
  const rows: StepRow[] = STEP_NAMES.map((name, i) => ({
    step: i + 1, name, owner: null, start: null, end: null, result: null, remark: null, resolution: null, done: false,
  }))
  for (const e of timeline) {
    const n = stepOf(e)
    if (n === null || n < 1 || n > 8) continue
    const d = (e.data ?? {}) as Record<string, unknown>
    rows[n - 1] = {
      step: n,
      name: STEP_NAMES[n - 1]!,
      owner: str(d.owner) ?? str(d.archiver) ?? actorName(e.actor),
      start: str(d.started_at) ?? e.at,
      end: str(d.ended_at) ?? (n === 1 ? null : e.at),
      result: str(d.result) ?? str(d.solution),
      remark: str(d.remark) ?? str(d.reason),
      resolution: str(d.resolution),
      done: true,
    }
  }
  return rows
}

/** Workers' bookkeeping, folded in the timeline so people's actions stand out. */
export const MACHINE_KINDS = new Set(['sla_clocks', 'classified', 'routed', 'survey_scheduled'])

/** The classifier version behind an automatic decision (`shipped`, `v3`), none for other entries. */
export function modelOf(e: Entry): string | null {
  const d = (e.data ?? {}) as Record<string, unknown>
  return str(d.model_version) ?? null
}

/** The words an entry carries, if any (reply text, note, reason, remark...). */
export function entryText(e: Entry): string | null {
  const d = (e.data ?? {}) as Record<string, unknown>
  for (const k of ['message', 'text', 'note', 'reason', 'remark', 'result', 'solution', 'comment']) {
    const v = str(d[k])
    if (v) return v
  }
  return null
}

// A trained model's evaluation as the router stores it (services/router/src/training.rs `Evaluation`):
// the candidate, the live model and the baseline scored on the same held-out examples.

export interface ClassReport {
  class: string
  precision: number
  recall: number
  f1: number
  support: number
}

export interface Scored {
  model: string
  macro_f1: number
  accuracy?: number
  n?: number
  classes: ClassReport[]
}

export interface Evaluation {
  train: number
  held_out: number
  split?: string
  candidate: Scored
  live: Scored
  baseline: Scored
  better_than_live: boolean
}

const WHO = ['candidate', 'live', 'baseline'] as const
export type Who = (typeof WHO)[number]

/** The evaluation if the object has its shape, else null (a model still training has none). */
export function readEvaluation(raw: unknown): Evaluation | null {
  if (!raw || typeof raw !== 'object') return null
  const e = raw as Record<string, unknown>
  for (const w of WHO) {
    const s = e[w] as Record<string, unknown> | undefined
    if (!s || typeof s.macro_f1 !== 'number') return null
  }
  const cls = (s: unknown) => (Array.isArray((s as Scored).classes) ? (s as Scored).classes : [])
  return {
    ...(e as unknown as Evaluation),
    candidate: { ...(e.candidate as Scored), classes: cls(e.candidate) },
    live: { ...(e.live as Scored), classes: cls(e.live) },
    baseline: { ...(e.baseline as Scored), classes: cls(e.baseline) },
  }
}

export interface LabelRow {
  label: string
  support: number
  figures: Record<Who, { precision: number; recall: number; f1: number } | null>
}

/** One row per label found in any of the three, with each model's precision and recall. */
export function labelRows(e: Evaluation): LabelRow[] {
  const labels = new Map<string, number>()
  for (const w of WHO) for (const c of e[w].classes) labels.set(c.class, Math.max(labels.get(c.class) ?? 0, c.support))
  return [...labels.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .map(([label, support]) => {
      const figures = {} as LabelRow['figures']
      for (const w of WHO) {
        const c = e[w].classes.find((x) => x.class === label)
        figures[w] = c ? { precision: c.precision, recall: c.recall, f1: c.f1 } : null
      }
      return { label, support, figures }
    })
}

/** A figure between 0 and 1 as a percentage with one decimal ("—" when absent). */
export function percent(x: number | null | undefined): string {
  return typeof x === 'number' && Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : '—'
}

/** Whether a model in this status may be adopted (the api's rule: trained or retired). */
export function adoptable(status: string): boolean {
  return status === 'trained' || status === 'retired'
}

/** Whether the list should be asked again soon: some model is still being trained. */
export function inProgress(models: readonly { status: string }[]): boolean {
  return models.some((m) => m.status === 'requested' || m.status === 'training')
}

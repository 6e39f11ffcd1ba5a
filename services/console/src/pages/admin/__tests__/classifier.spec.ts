import { describe, expect, it } from 'vitest'
import { adoptable, inProgress, labelRows, percent, readEvaluation } from '../classifier'

const stored = {
  train: 160,
  held_out: 40,
  better_than_live: true,
  candidate: {
    model: 'v3',
    macro_f1: 0.9,
    accuracy: 0.92,
    classes: [
      { class: 'order', precision: 0.9, recall: 0.8, f1: 0.85, support: 20 },
      { class: 'logistics', precision: 1, recall: 0.95, f1: 0.97, support: 20 },
    ],
  },
  live: { model: 'shipped', macro_f1: 0.1, classes: [{ class: 'order', precision: 0.5, recall: 0.1, f1: 0.17, support: 20 }] },
  baseline: { model: 'baseline', macro_f1: 0.8, classes: [] },
}

describe('a model evaluation', () => {
  it('is read only when it has the three figures', () => {
    expect(readEvaluation(null)).toBeNull()
    expect(readEvaluation({ train: 1 })).toBeNull()
    expect(readEvaluation({ ...stored, baseline: { model: 'baseline', macro_f1: 0.8 } })?.baseline.classes).toEqual([])
  })

  it('lines up each label of any model, most examples first, a missing figure as none', () => {
    const rows = labelRows(readEvaluation(stored)!)
    expect(rows.map((r) => r.label)).toEqual(['logistics', 'order'])
    expect(rows[1]!.figures.live).toEqual({ precision: 0.5, recall: 0.1, f1: 0.17 })
    expect(rows[0]!.figures.live).toBeNull()
    expect(rows[0]!.figures.baseline).toBeNull()
  })

  it('shows percentages and knows what may be adopted and what is still training', () => {
    expect(percent(0.9123)).toBe('91.2%')
    expect(percent(undefined)).toBe('—')
    expect(adoptable('trained') && adoptable('retired')).toBe(true)
    expect(adoptable('adopted') || adoptable('training') || adoptable('failed')).toBe(false)
    expect(inProgress([{ status: 'trained' }, { status: 'training' }])).toBe(true)
    expect(inProgress([{ status: 'adopted' }])).toBe(false)
  })
})

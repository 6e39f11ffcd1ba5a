// The import's mapping: each problem-type label of the sheet the taxonomy does not know is either
// mapped onto an existing category or kept as a new category of the team's own (the api adds it).
// The api's `mapping` query parameter carries only the mapped ones, as JSON label → category code.
import type { components } from '@/api/schema'

export type ImportPreview = components['schemas']['ImportPreview']
export type ImportReport = components['schemas']['ImportReport']
export type RowResult = components['schemas']['RowResult']
export type LabelCount = components['schemas']['LabelCount']

/** What the admin chose for one label: a category code, or `NEW` (keep it as a new category). */
export const NEW = ''
export type Choices = Record<string, string>

/** The choices a fresh preview starts with: every label kept as new, earlier choices kept. */
export function initialChoices(preview: Pick<ImportPreview, 'unknown_labels' | 'mapped_labels'>, earlier: Choices = {}): Choices {
  const out: Choices = {}
  for (const l of [...preview.mapped_labels, ...preview.unknown_labels]) {
    out[l.label] = earlier[l.label] ?? l.category ?? NEW
  }
  return out
}

/** The `mapping` parameter: the mapped labels only; undefined when none is mapped. */
export function mappingParam(choices: Choices, categories: readonly string[]): string | undefined {
  const mapped = Object.entries(choices).filter(([, code]) => code !== NEW && categories.includes(code))
  if (mapped.length === 0) return undefined
  return JSON.stringify(Object.fromEntries(mapped))
}

/** How many rows become new categories and how many are mapped, for the summary before importing. */
export function mappingSummary(labels: readonly LabelCount[], choices: Choices) {
  let added = 0
  let mapped = 0
  const addedLabels: string[] = []
  for (const l of labels) {
    if ((choices[l.label] ?? NEW) === NEW) {
      added += l.count
      addedLabels.push(l.label)
    } else mapped += l.count
  }
  return { added, mapped, addedLabels }
}

/** The sheet's format from the file's name (the api also detects XLSX from its bytes). */
export function formatOf(fileName: string): 'csv' | 'xlsx' | null {
  const ext = fileName.toLowerCase().split('.').pop()
  return ext === 'csv' ? 'csv' : ext === 'xlsx' ? 'xlsx' : null
}

/** Rows of a report or preview grouped for display: refused rows first, then the rest in line order. */
export function sortRows(rows: readonly RowResult[]): RowResult[] {
  const rank = (r: RowResult) => (r.result === 'error' ? 0 : r.result === 'duplicate' ? 1 : 2)
  return [...rows].sort((a, b) => rank(a) - rank(b) || a.line - b.line)
}

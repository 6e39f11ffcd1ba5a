import { describe, expect, it } from 'vitest'
import { formatOf, initialChoices, mappingParam, mappingSummary, NEW, sortRows } from '../importing'

const preview = {
  unknown_labels: [
    { label: '技术咨询', count: 3 },
    { label: '发票问题', count: 2 },
  ],
  mapped_labels: [{ label: '物流慢', count: 4, category: 'logistics' }],
}

describe('mapping the unknown labels of an import', () => {
  it('starts every unknown label as a new category and keeps what was mapped', () => {
    expect(initialChoices(preview)).toEqual({ 物流慢: 'logistics', 技术咨询: NEW, 发票问题: NEW })
    expect(initialChoices(preview, { 技术咨询: 'technical_fault' })).toEqual({
      物流慢: 'logistics',
      技术咨询: 'technical_fault',
      发票问题: NEW,
    })
  })

  it('sends only the labels mapped onto an existing category', () => {
    const cats = ['logistics', 'technical_fault']
    expect(mappingParam({ 技术咨询: NEW, 发票问题: NEW }, cats)).toBeUndefined()
    expect(JSON.parse(mappingParam({ 技术咨询: 'technical_fault', 发票问题: NEW, 旧的: 'gone' }, cats)!)).toEqual({
      技术咨询: 'technical_fault',
    })
  })

  it('counts the rows that get a new category and those mapped', () => {
    const labels = [...preview.mapped_labels, ...preview.unknown_labels]
    expect(mappingSummary(labels, { 物流慢: 'logistics', 技术咨询: NEW, 发票问题: 'billing' })).toEqual({
      added: 3,
      mapped: 6,
      addedLabels: ['技术咨询'],
    })
  })

  it('tells the format from the file name and lists refused rows first', () => {
    expect(formatOf('跟踪表.XLSX')).toBe('xlsx')
    expect(formatOf('a.csv')).toBe('csv')
    expect(formatOf('a.xls')).toBeNull()
    const rows = [
      { line: 2, result: 'created' },
      { line: 3, result: 'error' },
      { line: 4, result: 'duplicate' },
      { line: 5, result: 'error' },
    ]
    expect(sortRows(rows).map((r) => r.line)).toEqual([3, 5, 4, 2])
  })
})

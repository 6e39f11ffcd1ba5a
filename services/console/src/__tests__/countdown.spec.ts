import { describe, expect, it } from 'vitest'
import { byUrgency, clockView, durationParts, liveClocks } from '@/sla/countdown'

const NOW = Date.parse('2026-01-10T08:00:00Z')
const at = (secondsFromNow: number) => new Date(NOW + secondsFromNow * 1000).toISOString()

describe('an SLA clock at an instant', () => {
  it('runs green before its warning', () => {
    const v = clockView({ kind: 'first_response', state: 'running', deadline: at(3600), warn_at: at(1800) }, NOW)
    expect(v).toEqual({ kind: 'first_response', tone: 'running', remaining: 3600 })
  })

  it('turns amber from the warning on', () => {
    const c = { kind: 'resolution', state: 'running', deadline: at(600), warn_at: at(0) }
    expect(clockView(c, NOW).tone).toBe('warning')
    expect(clockView(c, NOW - 1000).tone).toBe('running')
  })

  it('turns red at the deadline, even before the server says breached', () => {
    const c = { kind: 'resolution', state: 'running', deadline: at(0), warn_at: at(-600) }
    expect(clockView(c, NOW)).toEqual({ kind: 'resolution', tone: 'breached', remaining: 0 })
    expect(clockView(c, NOW + 90_000).remaining).toBe(-90)
  })

  it('stays red when the server says breached', () => {
    const v = clockView({ kind: 'first_response', state: 'breached', deadline: at(-120) }, NOW)
    expect(v).toEqual({ kind: 'first_response', tone: 'breached', remaining: -120 })
  })

  it('stands still while paused, with the remaining time the server froze', () => {
    const c = { kind: 'resolution', state: 'paused', deadline: null, remaining_secs: 5400 }
    expect(clockView(c, NOW)).toEqual({ kind: 'resolution', tone: 'paused', remaining: 5400 })
    expect(clockView(c, NOW + 3_600_000).remaining).toBe(5400)
  })

  it('drops met clocks from the live ones and puts the most pressing first', () => {
    const views = liveClocks(
      [
        { kind: 'first_response', state: 'met' },
        { kind: 'resolution', state: 'running', deadline: at(7200) },
        { kind: 'proactive_contact', state: 'running', deadline: at(60) },
        { kind: 'survey', state: 'paused', remaining_secs: 10 },
      ],
      NOW,
    ).sort(byUrgency)
    expect(views.map((v) => v.kind)).toEqual(['proactive_contact', 'resolution', 'survey'])
  })

  it('counts from the server remaining time when there is no deadline', () => {
    expect(clockView({ kind: 'resolution', state: 'running', remaining_secs: 42 }, NOW).remaining).toBe(42)
  })
})

describe('a duration', () => {
  it('shows its two largest units', () => {
    expect(durationParts(2 * 86_400 + 3 * 3600 + 59)).toEqual({ key: 'days', params: { d: 2, h: 3 } })
    expect(durationParts(3600 + 5 * 60 + 7)).toEqual({ key: 'hours', params: { h: 1, m: 5 } })
    expect(durationParts(-(12 * 60 + 30))).toEqual({ key: 'minutes', params: { m: 12, s: 30 } })
  })
})

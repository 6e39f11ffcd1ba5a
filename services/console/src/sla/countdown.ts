// What an SLA clock looks like at a given instant. The server sends each clock's state, deadline and
// warning time (CONTRACTS.md "Inbox and ticket page data"); the browser counts down from them every
// second, so the badge turns amber at the warning and red at the deadline without asking the api.

export interface Clock {
  kind: string
  state: 'running' | 'paused' | 'met' | 'breached' | string
  deadline?: string | null
  warn_at?: string | null
  remaining_secs?: number | null
}

export type Tone = 'running' | 'warning' | 'breached' | 'paused' | 'met'

export interface ClockView {
  kind: string
  tone: Tone
  /** Seconds to the deadline (negative when past it); null when there is none to count. */
  remaining: number | null
}

export function clockView(clock: Clock, now: number): ClockView {
  const deadline = clock.deadline ? Date.parse(clock.deadline) : NaN
  const warnAt = clock.warn_at ? Date.parse(clock.warn_at) : NaN
  switch (clock.state) {
    case 'met':
      return { kind: clock.kind, tone: 'met', remaining: null }
    case 'paused':
      // While waiting on the customer the clock stands still: the server's remaining time is the truth.
      return { kind: clock.kind, tone: 'paused', remaining: clock.remaining_secs ?? null }
    case 'breached':
      return {
        kind: clock.kind,
        tone: 'breached',
        remaining: Number.isNaN(deadline) ? (clock.remaining_secs ?? null) : Math.floor((deadline - now) / 1000),
      }
  }
  if (Number.isNaN(deadline)) {
    return { kind: clock.kind, tone: 'running', remaining: clock.remaining_secs ?? null }
  }
  const remaining = Math.floor((deadline - now) / 1000)
  if (remaining <= 0) return { kind: clock.kind, tone: 'breached', remaining }
  if (!Number.isNaN(warnAt) && now >= warnAt) return { kind: clock.kind, tone: 'warning', remaining }
  return { kind: clock.kind, tone: 'running', remaining }
}

/** Clocks that still count (running, warning, breached, paused); met ones are history. */
export function liveClocks(clocks: readonly Clock[] | null | undefined, now: number): ClockView[] {
  return (clocks ?? []).map((c) => clockView(c, now)).filter((v) => v.tone !== 'met')
}

/** The most pressing clock first: breached, then the nearest deadline; paused ones last. */
export function byUrgency(a: ClockView, b: ClockView): number {
  const rank = (v: ClockView) => (v.tone === 'paused' ? 1 : 0)
  return rank(a) - rank(b) || (a.remaining ?? Infinity) - (b.remaining ?? Infinity)
}

export interface DurationParts {
  key: 'days' | 'hours' | 'minutes'
  params: { d?: number; h?: number; m?: number; s?: number }
}

/** Splits an absolute number of seconds into the two largest units shown. */
export function durationParts(seconds: number): DurationParts {
  const s = Math.abs(Math.trunc(seconds))
  const d = Math.floor(s / 86_400)
  const h = Math.floor((s % 86_400) / 3_600)
  const m = Math.floor((s % 3_600) / 60)
  if (d > 0) return { key: 'days', params: { d, h } }
  if (h > 0) return { key: 'hours', params: { h, m: m } }
  return { key: 'minutes', params: { m, s: s % 60 } }
}

// The live feed (GET /v1/events, CONTRACTS.md "Live updates"): one EventSource per page load, shared
// by every view that listens. The browser reconnects by itself; `connected` says whether it is up.
import { onScopeDispose, ref } from 'vue'
import type { components } from '@/api/schema'

export type TicketSummary = components['schemas']['TicketSummary']

export interface TicketEvent {
  kind: string
  ticket_id: string
  ticket_no: string
  ticket: TicketSummary
}

type Listener = (e: TicketEvent) => void

export const connected = ref(false)
/** Whether this page has a feed at all (only some pages listen): no feed, nothing to report. */
export const opened = ref(false)
const listeners = new Set<Listener>()
let source: EventSource | null = null

function open() {
  if (source || typeof EventSource === 'undefined') return
  source = new EventSource('/v1/events', { withCredentials: true })
  opened.value = true
  source.onopen = () => (connected.value = true)
  source.onerror = () => (connected.value = false)
  source.addEventListener('ticket', (m) => {
    let event: TicketEvent
    try {
      event = JSON.parse((m as MessageEvent<string>).data) as TicketEvent
    } catch {
      return
    }
    for (const l of listeners) l(event)
  })
}

/** Closes the feed (sign-out); the next listener opens it again. */
export function closeLive() {
  source?.close()
  source = null
  opened.value = false
  connected.value = false
}

/** Calls `listener` for every ticket event while the calling component lives. */
export function onTicketEvent(listener: Listener) {
  listeners.add(listener)
  open()
  onScopeDispose(() => listeners.delete(listener))
}

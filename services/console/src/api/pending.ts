// What CONTRACTS.md promises and the api's OpenAPI document does not describe yet, typed here from the
// contract so the console builds against it; each entry names its owner. When the document gains an
// entry, `npm run gen:api` brings the real type and the entry here must go (a clash is a compile error).
import type { components } from './schema'

type Summary = components['schemas']['TicketSummary']

export interface PendingSchemas {
  /** [deskapi] GET /v1/tickets/{id}/history */
  CustomerHistory: { earlier: Summary[]; likely_duplicate: Summary | null }
  /** [deskapi] POST /v1/tickets/{id}/reveal */
  Revealed: { customer_name: string | null; customer_phone: string | null }
  /** [deskapi] POST /v1/tickets/{id}/supplement */
  SupplementBody: {
    order_number?: string
    expected_resolution_at?: string
    customer_type?: string
    info_source: string
  }
  /** [setup] GET /v1/taxonomy */
  Taxonomy: Record<'categories' | 'feedback_types' | 'priorities' | 'tags' | 'departments', { code: string; name_zh: string; name_en: string }[]>
}

/** [shape] `allowed_actions` on the detail; [deskapi] the channel data the ticket row holds. */
export interface PendingDetail {
  allowed_actions?: string[]
}
export interface PendingTicket {
  client_ip?: string | null
  attachments?: { url: string; name?: string; content_type?: string }[] | null
  ivr?: {
    call_id?: string
    caller_number?: string
    keypresses?: string[]
    speech_text?: string
    speech_confidence?: number
  } | null
  customer_type?: string | null
  expected_resolution_at?: string | null
  info_source?: string | null
}

type Json<T> = { content: { 'application/json': T } }
type Op<Body, Answer> = {
  parameters: { query?: never; header?: never; path: { id: string }; cookie?: never }
  requestBody: Body extends never ? never : { content: { 'application/json': Body } }
  responses: { 200: Json<Answer> & { headers: Record<string, unknown> } }
}
type Route<M> = { parameters: { query?: never; header?: never; path?: never; cookie?: never } } & M

export interface PendingPaths {
  '/v1/tickets/{id}/history': Route<{ get: Omit<Op<never, PendingSchemas['CustomerHistory']>, 'requestBody'> }>
  '/v1/tickets/{id}/reveal': Route<{ post: Omit<Op<never, PendingSchemas['Revealed']>, 'requestBody'> }>
  '/v1/tickets/{id}/supplement': Route<{ post: Op<PendingSchemas['SupplementBody'], components['schemas']['TicketFull']> }>
  '/v1/taxonomy': Route<{
    get: {
      parameters: { query?: never; header?: never; path?: never; cookie?: never }
      requestBody?: never
      responses: { 200: Json<PendingSchemas['Taxonomy']> & { headers: Record<string, unknown> } }
    }
  }>
}

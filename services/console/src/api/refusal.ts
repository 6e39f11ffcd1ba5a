// A refusal of the api, as CONTRACTS.md "Error shape" defines it, plus the two ways a request fails
// without an answer (network) or with one that is not the api's JSON (a proxy's page).

export interface ErrorBody {
  error: {
    code: string
    message?: string
    field?: string | null
    details?: Record<string, unknown> | null
  }
}

export class Refusal extends Error {
  constructor(
    /** HTTP status; 0 when no answer came. */
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | null = null,
    readonly details: Record<string, unknown> = {},
    /** Seconds from a 429's Retry-After. */
    readonly retryAfter: number | null = null,
  ) {
    super(message)
    this.name = 'Refusal'
  }

  static network(cause: unknown): Refusal {
    return new Refusal(0, 'network', cause instanceof Error ? cause.message : String(cause))
  }

  /** Reads the api's error body; anything else keeps only the status. */
  static fromResponse(response: Response, body: unknown): Refusal {
    const retry = Number.parseInt(response.headers.get('Retry-After') ?? '', 10)
    const retryAfter = Number.isFinite(retry) ? retry : null
    const e = (body as ErrorBody | null)?.error
    if (e && typeof e.code === 'string') {
      return new Refusal(
        response.status,
        e.code,
        e.message ?? e.code,
        e.field ?? null,
        e.details ?? {},
        retryAfter,
      )
    }
    return new Refusal(response.status, `http_${response.status}`, response.statusText, null, {}, retryAfter)
  }
}

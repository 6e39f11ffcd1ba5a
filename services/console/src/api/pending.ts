// What CONTRACTS.md promises and the api's OpenAPI document does not describe yet, typed here from the
// contract so the console builds against it; each entry names its owner. When the document gains an
// entry, `npm run gen:api` brings the real type and the entry here must go (a clash is a compile error).

type Named = { code: string; name_zh: string; name_en: string }

export interface PendingSchemas {
  /** [setup] GET /v1/taxonomy */
  Taxonomy: Record<'categories' | 'feedback_types' | 'priorities' | 'tags' | 'departments', Named[]>
}

type Json<T> = { content: { 'application/json': T } }

export interface PendingPaths {
  '/v1/taxonomy': {
    parameters: { query?: never; header?: never; path?: never; cookie?: never }
    get: {
      parameters: { query?: never; header?: never; path?: never; cookie?: never }
      requestBody?: never
      responses: { 200: Json<PendingSchemas['Taxonomy']> & { headers: Record<string, unknown> } }
    }
  }
}

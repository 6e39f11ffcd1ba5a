// What CONTRACTS.md promises and the api's OpenAPI document does not describe yet, typed here from the
// contract so the console builds against it; each entry names its owner. When the document gains an
// entry, `npm run gen:api` brings the real type and the entry here must go (a clash is a compile error).
// (Empty: [setup] GET /v1/taxonomy is in the document now.)

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface PendingSchemas {}

// eslint-disable-next-line @typescript-eslint/no-empty-object-type
export interface PendingPaths {}

// Sends an action through the typed client: one call per action path (CONTRACTS.md), the body built
// from the action's draft by `cleanBody`. The api checks everything again; the body types here keep
// the console from sending a field the api does not know.
import { api, call } from '@/api/client'
import type { components } from '@/api/schema'
import { cleanBody, type ActionCode, type Draft } from './forms'

type S = components['schemas']
export type Revealed = S['Revealed']

export async function send(code: ActionCode, id: string, draft: Draft): Promise<Revealed | null> {
  const path = { params: { path: { id } } }
  const b = cleanBody(code, draft)
  switch (code) {
    case 'reply':
      await call(api.POST('/v1/tickets/{id}/reply', { ...path, body: b as S['ReplyBody'] }))
      break
    case 'note':
      await call(api.POST('/v1/tickets/{id}/notes', { ...path, body: b as S['NoteBody'] }))
      break
    case 'step':
      await call(api.POST('/v1/tickets/{id}/steps', { ...path, body: b as S['StepBody'] }))
      break
    case 'contact':
      await call(api.POST('/v1/tickets/{id}/contact', { ...path, body: b as S['ContactBody'] }))
      break
    case 'wait':
      await call(api.POST('/v1/tickets/{id}/wait', { ...path, body: b as S['WaitBody'] }))
      break
    case 'resume':
      await call(api.POST('/v1/tickets/{id}/resume', path))
      break
    case 'priority':
      await call(api.POST('/v1/tickets/{id}/priority', { ...path, body: b as S['PriorityBody'] }))
      break
    case 'assign':
      await call(api.POST('/v1/tickets/{id}/assign', { ...path, body: b as S['AssignBody'] }))
      break
    case 'reclassify':
      await call(api.POST('/v1/tickets/{id}/reclassify', { ...path, body: b as S['ReclassifyBody'] }))
      break
    case 'merge':
      await call(api.POST('/v1/tickets/{id}/merge', { ...path, body: b as S['MergeBody'] }))
      break
    case 'resolve':
      await call(api.POST('/v1/tickets/{id}/resolve', { ...path, body: b as S['ResolveBody'] }))
      break
    case 'approve':
      await call(api.POST('/v1/tickets/{id}/approve', { ...path, body: b as S['RemarkBody'] }))
      break
    case 'review':
      await call(api.POST('/v1/tickets/{id}/review', { ...path, body: b as S['RemarkBody'] }))
      break
    case 'reopen':
      await call(api.POST('/v1/tickets/{id}/reopen', { ...path, body: b as S['ReopenBody'] }))
      break
    case 'archive':
      await call(api.POST('/v1/tickets/{id}/archive', path))
      break
    case 'supplement':
      await call(api.POST('/v1/tickets/{id}/supplement', { ...path, body: b as S['SupplementBody'] }))
      break
    case 'reveal':
      return call(api.POST('/v1/tickets/{id}/reveal', path))
  }
  return null
}

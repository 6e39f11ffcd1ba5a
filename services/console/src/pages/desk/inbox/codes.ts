// Fixed codes the inbox filters on; their labels are in the common locale files (labels.*).
export const STATUSES = ['new', 'needs_review', 'open', 'waiting_on_customer', 'resolved', 'reopened', 'archived'] as const
export const PRIORITIES = ['urgent', 'general', 'suggestion'] as const
export const CHANNELS = ['form', 'app', 'ivr', 'chat', 'email', 'phone', 'social'] as const

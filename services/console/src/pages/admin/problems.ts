// The checks the api makes before it stores a routing table (shared::setup), made as the admin types so
// a refusal is seen before saving. The api stays the judge: its 422 `details.problems` are shown the
// same way.

export interface Route {
  when: { category?: string | null; feedback_type?: string | null; tag?: string | null }
  departments: string[]
  lead?: string | null
  stop?: boolean
}

export interface Routing {
  routes: Route[]
  first_response_hours: Record<string, number>
}

export interface Problem {
  /** The kind whose document is at fault, when the api says (it may differ from the one saved). */
  kind?: string
  code: string
  path: string
  subject?: string | null
  /** What else the sentence names (a route's number, the people still in a department). */
  params?: Record<string, string | number>
}

export interface Known {
  categories: string[]
  feedback_types: string[]
  tags: string[]
  departments: string[]
}

export function routingProblems(r: Routing, known: Known): Problem[] {
  const out: Problem[] = []
  r.routes.forEach((route, i) => {
    const path = `routes[${i}]`
    const keys = [route.when.category, route.when.feedback_type, route.when.tag].filter((k) => !!k)
    if (keys.length !== 1) out.push({ code: 'bad_condition', path: `${path}.when` })
    const c = route.when.category
    if (c && !known.categories.includes(c)) out.push({ code: 'unknown_category', path, subject: c })
    if (route.departments.length === 0) out.push({ code: 'no_department', path: `${path}.departments` })
    for (const d of route.departments) {
      if (!known.departments.includes(d)) out.push({ code: 'unknown_department', path, subject: d })
    }
    if (route.lead && !route.departments.includes(route.lead)) {
      out.push({ code: 'lead_not_in_route', path: `${path}.lead`, subject: route.lead })
    }
  })
  for (const c of known.categories) {
    if (!r.routes.some((route) => route.when.category === c)) {
      out.push({ code: 'category_without_route', path: 'routes', subject: c })
    }
  }
  for (const [p, h] of Object.entries(r.first_response_hours)) {
    if (!(h > 0)) out.push({ code: 'zero_deadline', path: `first_response_hours.${p}`, subject: p })
  }
  return out
}

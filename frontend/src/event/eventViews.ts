import type { Role } from '../realtime/protocol'

export const eventViews = ['stage', 'speaker', 'moderator', 'screen', 'staff'] as const
export type EventView = (typeof eventViews)[number]

// Which views a role opens. The server checks permissions on every command; this only
// decides which links the home page offers.
const viewsByRole: Record<Role, readonly EventView[]> = {
  attendee: ['stage'],
  speaker: ['speaker'],
  moderator: ['moderator', 'screen'],
  organizer: ['moderator', 'screen'],
  staff: ['staff'],
}

export function viewsFor(roles: readonly Role[]): EventView[] {
  const allowed = new Set(roles.flatMap((role) => viewsByRole[role] ?? []))
  return eventViews.filter((view) => allowed.has(view))
}

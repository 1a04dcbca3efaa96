// The transition plan as the server sends it, and the rules the views derive from it.
// Every time is absolute (ISO 8601); views count down against the server's clock themselves.

export type Moment = 'start' | 'warning' | 'end'
export type TransitionState = 'planned' | 'running' | 'done' | 'failed' | 'skipped'

export interface TransitionInfo {
  id: number
  session_id: number
  session_title: string
  session_kind: string
  room_id: number | null
  moment: Moment
  warning_minutes: number
  due_at: string
  session_end: string
  state: TransitionState
  finished_at: string | null
  late_ms: number | null
  reason: string
}

export interface Notice {
  kind: 'live' | 'time_left' | 'ended'
  session_id: number
  session_title: string
  room_id: number | null
  transition_id: number
  ends_at: string
  minutes?: number | null
}

const PENDING: TransitionState[] = ['planned', 'running']

export function isPending(t: TransitionInfo): boolean {
  return PENDING.includes(t.state)
}

/** "1:02:03", "4:05", "0:09"; never negative (a due transition shows 0:00 until it happens). */
export function formatCountdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000))
  const hours = Math.floor(total / 3600)
  const minutes = Math.floor((total % 3600) / 60)
  const seconds = total % 60
  const ss = String(seconds).padStart(2, '0')
  return hours > 0 ? `${hours}:${String(minutes).padStart(2, '0')}:${ss}` : `${minutes}:${ss}`
}

/** What is still to happen, in the order it will take effect. */
export function upcoming(plan: TransitionInfo[], limit = 8): TransitionInfo[] {
  return plan
    .filter(isPending)
    .sort((a, b) => Date.parse(a.due_at) - Date.parse(b.due_at) || a.id - b.id)
    .slice(0, limit)
}

/** What has just happened (done, skipped, failed), latest first. */
export function recent(plan: TransitionInfo[], limit = 5): TransitionInfo[] {
  return plan
    .filter((t) => !isPending(t))
    .sort((a, b) => Date.parse(b.finished_at ?? b.due_at) - Date.parse(a.finished_at ?? a.due_at))
    .slice(0, limit)
}

export interface SessionControl {
  session_id: number
  title: string
  status: 'live' | 'next'
  startsAt: string | null
  endsAt: string
}

/**
 * The sessions a moderator can act on: live ones (their start has happened, their end has
 * not) and the next ones (their start is still planned), taken from the plan alone.
 */
export function controllableSessions(plan: TransitionInfo[]): SessionControl[] {
  const bySession = new Map<number, TransitionInfo[]>()
  for (const t of plan) bySession.set(t.session_id, [...(bySession.get(t.session_id) ?? []), t])
  const result: SessionControl[] = []
  for (const [sessionId, items] of bySession) {
    const start = items.find((t) => t.moment === 'start')
    const end = items.find((t) => t.moment === 'end')
    if (!end || !isPending(end)) continue
    const first = items[0]!
    if (start && isPending(start)) {
      result.push({ session_id: sessionId, title: first.session_title, status: 'next', startsAt: start.due_at, endsAt: end.due_at })
    } else {
      result.push({ session_id: sessionId, title: first.session_title, status: 'live', startsAt: null, endsAt: end.due_at })
    }
  }
  return result.sort(
    (a, b) =>
      (a.status === b.status ? 0 : a.status === 'live' ? -1 : 1) ||
      Date.parse(a.startsAt ?? a.endsAt) - Date.parse(b.startsAt ?? b.endsAt),
  )
}

/** Folds a notice into what attendees see: one notice per session, an end removes it. */
export function applyNotice(current: Notice[], incoming: Notice): Notice[] {
  const others = current.filter((n) => n.session_id !== incoming.session_id)
  return incoming.kind === 'ended' ? others : [...others, incoming]
}

/** Notices for someone who just arrived: live sessions from the plan, with their last warning. */
export function noticesFromPlan(plan: TransitionInfo[]): Notice[] {
  const notices: Notice[] = []
  for (const session of controllableSessions(plan)) {
    if (session.status !== 'live') continue
    const end = plan.find((t) => t.session_id === session.session_id && t.moment === 'end')!
    const warned = plan
      .filter((t) => t.session_id === session.session_id && t.moment === 'warning' && t.state === 'done')
      .sort((a, b) => a.warning_minutes - b.warning_minutes)[0]
    notices.push({
      kind: warned ? 'time_left' : 'live',
      session_id: session.session_id,
      session_title: session.title,
      room_id: end.room_id,
      transition_id: (warned ?? end).id,
      ends_at: session.endsAt,
      minutes: warned?.warning_minutes ?? null,
    })
  }
  return notices
}

/** Whole minutes left until `endsAt`, rounded up ("2 minutes left" until the last second). */
export function minutesLeft(endsAt: string, nowMs: number): number {
  return Math.max(0, Math.ceil((Date.parse(endsAt) - nowMs) / 60_000))
}

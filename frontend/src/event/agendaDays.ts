import type { Agenda, AgendaRoom, AgendaSession } from '../realtime/protocol'
import { dayKey } from './eventTime'

export interface AgendaDay {
  key: string
  sessions: AgendaSession[]
}

/** Sessions by calendar day in the event's time zone, days and sessions in time order. */
export function groupSessionsByDay(sessions: readonly AgendaSession[], timeZone: string): AgendaDay[] {
  const sorted = [...sessions].sort(
    (a, b) => Date.parse(a.start) - Date.parse(b.start) || Date.parse(a.end) - Date.parse(b.end) || a.id - b.id,
  )
  const days = new Map<string, AgendaSession[]>()
  for (const session of sorted) {
    const key = dayKey(session.start, timeZone)
    const day = days.get(key)
    if (day) day.push(session)
    else days.set(key, [session])
  }
  return [...days].map(([key, daySessions]) => ({ key, sessions: daySessions }))
}

export function roomsById(agenda: Agenda): Map<number, AgendaRoom> {
  return new Map(agenda.rooms.map((room) => [room.id, room]))
}

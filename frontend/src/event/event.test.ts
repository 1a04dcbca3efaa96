import { describe, expect, it } from 'vitest'
import { groupSessionsByDay } from './agendaDays'
import { dayKey, formatTimeRange } from './eventTime'
import { viewsFor } from './eventViews'
import type { AgendaSession } from '../realtime/protocol'

function session(id: number, start: string, end: string): AgendaSession {
  return { id, title: `S${id}`, abstract: '', kind: 'talk', start, end, room_id: null, speakers: [] }
}

describe('event time', () => {
  it('uses the event time zone, not the viewer’s', () => {
    // 23:30 UTC is already the next day in Berlin.
    expect(dayKey('2026-11-23T23:30:00Z', 'Europe/Berlin')).toBe('2026-11-24')
    expect(formatTimeRange('2026-11-23T09:00:00Z', '2026-11-23T10:30:00Z', 'Europe/Berlin', 'de')).toMatch(
      /10:00\s*–\s*11:30/,
    )
  })
})

describe('agenda days', () => {
  it('groups by day and sorts by start time', () => {
    const days = groupSessionsByDay(
      [
        session(3, '2026-11-24T08:00:00Z', '2026-11-24T09:00:00Z'),
        session(2, '2026-11-23T12:00:00Z', '2026-11-23T13:00:00Z'),
        session(1, '2026-11-23T08:00:00Z', '2026-11-23T09:00:00Z'),
      ],
      'Europe/Berlin',
    )
    expect(days.map((day) => [day.key, day.sessions.map((s) => s.id)])).toEqual([
      ['2026-11-23', [1, 2]],
      ['2026-11-24', [3]],
    ])
  })
})

describe('views per role', () => {
  it('offers each role its views, once, in a fixed order', () => {
    expect(viewsFor(['attendee'])).toEqual(['stage'])
    expect(viewsFor(['organizer', 'moderator', 'speaker'])).toEqual(['speaker', 'moderator', 'screen'])
    expect(viewsFor(['staff'])).toEqual(['staff'])
    expect(viewsFor([])).toEqual([])
  })
})

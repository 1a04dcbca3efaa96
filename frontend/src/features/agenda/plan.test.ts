import { describe, expect, it } from 'vitest'
import { mergeCatalogues } from '../../i18n'
import { foldTransition } from './usePlan'
import {
  applyNotice,
  controllableSessions,
  formatCountdown,
  minutesLeft,
  noticesFromPlan,
  recent,
  upcoming,
  type Notice,
  type TransitionInfo,
} from './plan'

let nextId = 1
function tr(sessionId: number, moment: TransitionInfo['moment'], dueAt: string, state: TransitionInfo['state'] = 'planned', minutes = 0): TransitionInfo {
  return {
    id: nextId++,
    session_id: sessionId,
    session_title: `Session ${sessionId}`,
    session_kind: 'talk',
    room_id: 1,
    moment,
    warning_minutes: minutes,
    due_at: dueAt,
    session_end: '2026-05-04T11:00:00Z',
    state,
    finished_at: state === 'planned' ? null : dueAt,
    late_ms: state === 'done' ? 12 : null,
    reason: '',
  }
}

describe('countdowns from absolute times', () => {
  it('formats hours, minutes and seconds and never goes negative', () => {
    expect(formatCountdown(3_723_000)).toBe('1:02:03')
    expect(formatCountdown(245_000)).toBe('4:05')
    expect(formatCountdown(8_100)).toBe('0:09')
    expect(formatCountdown(-5_000)).toBe('0:00')
  })

  it('counts minutes left up, so "2 minutes left" holds until the last second', () => {
    const now = Date.parse('2026-05-04T10:58:00Z')
    expect(minutesLeft('2026-05-04T11:00:00Z', now)).toBe(2)
    expect(minutesLeft('2026-05-04T11:00:00Z', now + 1_000)).toBe(2)
    expect(minutesLeft('2026-05-04T11:00:00Z', now + 61_000)).toBe(1)
    expect(minutesLeft('2026-05-04T11:00:00Z', now + 200_000)).toBe(0)
  })
})

describe('the moderator console', () => {
  const plan = [
    tr(1, 'start', '2026-05-04T10:00:00Z', 'done'),
    tr(1, 'warning', '2026-05-04T10:40:00Z', 'skipped', 5),
    tr(1, 'end', '2026-05-04T10:45:00Z'),
    tr(2, 'start', '2026-05-04T10:45:00Z'),
    tr(2, 'end', '2026-05-04T11:30:00Z'),
    tr(3, 'start', '2026-05-04T09:00:00Z', 'done'),
    tr(3, 'end', '2026-05-04T09:30:00Z', 'done'),
  ]

  it('lists what is still to happen in order, and what just happened latest first', () => {
    expect(upcoming(plan).map((t) => [t.session_id, t.moment])).toEqual([
      [1, 'end'],
      [2, 'start'],
      [2, 'end'],
    ])
    expect(recent(plan).map((t) => [t.session_id, t.moment])).toEqual([
      [1, 'warning'],
      [1, 'start'],
      [3, 'end'],
      [3, 'start'],
    ])
  })

  it('offers live sessions first, then the next ones; finished sessions not at all', () => {
    expect(controllableSessions(plan).map((s) => [s.session_id, s.status])).toEqual([
      [1, 'live'],
      [2, 'next'],
    ])
  })
})

describe('attendee notices', () => {
  const live: Notice = {
    kind: 'live', session_id: 1, session_title: 'Keynote', room_id: 1, transition_id: 1, ends_at: '2026-05-04T10:45:00Z',
  }

  it('keeps one notice per session and drops it when the session ends', () => {
    const warned = applyNotice([live], { ...live, kind: 'time_left', minutes: 2, transition_id: 2 })
    expect(warned).toEqual([{ ...live, kind: 'time_left', minutes: 2, transition_id: 2 }])
    expect(applyNotice(warned, { ...live, kind: 'ended', transition_id: 3 })).toEqual([])
  })

  it('derives what is live for someone who just arrived, with the last warning that fired', () => {
    const plan = [
      tr(7, 'start', '2026-05-04T10:00:00Z', 'done'),
      tr(7, 'warning', '2026-05-04T10:40:00Z', 'done', 5),
      tr(7, 'warning', '2026-05-04T10:44:00Z', 'planned', 1),
      tr(7, 'end', '2026-05-04T10:45:00Z'),
      tr(8, 'start', '2026-05-04T11:00:00Z'),
      tr(8, 'end', '2026-05-04T11:45:00Z'),
    ]
    expect(noticesFromPlan(plan).map((n) => [n.session_id, n.kind, n.minutes])).toEqual([[7, 'time_left', 5]])
  })
})

describe('translations', () => {
  it('merge a feature into a core section of the same name without losing either', () => {
    expect(mergeCatalogues({ agenda: { title: 'Agenda', kind: { talk: 'Talk' } } }, { agenda: { control: { title: 'C' } } })).toEqual({
      agenda: { title: 'Agenda', kind: { talk: 'Talk' }, control: { title: 'C' } },
    })
  })
})

describe('a transition push', () => {
  it('replaces its entry in the plan, or adds it', () => {
    const a = tr(1, 'start', '2026-05-04T10:00:00Z')
    const done = { ...a, state: 'done' as const }
    expect(foldTransition([a], done)).toEqual([done])
    const b = tr(2, 'end', '2026-05-04T10:30:00Z', 'skipped')
    expect(foldTransition([a], b)).toEqual([a, b])
  })
})

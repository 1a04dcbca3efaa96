import { describe, expect, it } from 'vitest'
import { sortQuestions } from './store'
import type { Question } from './types'

const q = (id: number, votes: number): Question => ({
  id, votes, session_id: 1, text: `q${id}`, author: null, is_anonymous: true, state: 'visible', on_screen: false,
  created: '2026-01-01T00:00:00Z',
})

describe('sortQuestions', () => {
  it('ranks by votes, ties oldest first; or newest first by time', () => {
    const list = [q(1, 2), q(2, 5), q(3, 2)]
    expect(sortQuestions(list, 'votes').map((x) => x.id)).toEqual([2, 1, 3])
    expect(sortQuestions(list, 'time').map((x) => x.id)).toEqual([3, 2, 1])
  })
})

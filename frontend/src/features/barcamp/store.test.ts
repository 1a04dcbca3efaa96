import { describe, expect, it } from 'vitest'
import { applyProposal, applyRelease, applySnapshot, emptyStore, interest, ranked, type Proposal } from './store'

function proposal(id: number, title: string, withdrawn = false): Proposal {
  return {
    id, title, description: '', proposer: { id: 1, name: 'A' }, cohosts: [], language: 'de',
    format: 'discussion', length: 45, mode: 'hybrid', needs: [], in_plenum: false, withdrawn, session_id: null,
  }
}

describe('barcamp store', () => {
  it('ranks open proposals by expected audience', () => {
    const store = emptyStore()
    applySnapshot(store, {
      state: { session_length: 45, voting_open: true, grid_fixed: false, releases: 0 },
      proposals: [proposal(1, 'one'), proposal(2, 'two'), proposal(3, 'gone', true)],
      counts: {
        '1': { interested: 2, maybe: 2, hands: 0 },
        '2': { interested: 1, maybe: 0, hands: 5 },
        '3': { interested: 9, maybe: 0, hands: 0 },
      },
      my_votes: { '1': 'maybe' },
      my_stars: [],
    })
    expect(ranked(store).map((p) => p.title)).toEqual(['two', 'one'])
    expect(interest(store.counts['1'])).toBe(3)
    expect(store.myVotes['1']).toBe('maybe')
  })

  it('replaces a changed proposal and appends a new one', () => {
    const store = emptyStore()
    applyProposal(store, proposal(1, 'old'))
    applyProposal(store, proposal(1, 'new'))
    applyProposal(store, proposal(2, 'second'))
    expect(store.proposals.map((p) => p.title)).toEqual(['new', 'second'])
  })

  it('a release maps proposals to their sessions and cancels the rest', () => {
    const store = emptyStore()
    applyProposal(store, { ...proposal(1, 'kept'), session_id: 7 })
    applyProposal(store, { ...proposal(2, 'cancelled'), session_id: 8 })
    applyRelease(store, { number: 2, changes: [{ kind: 'cancelled', proposal_id: 2, title: 'cancelled' }], sessions: { '1': 7 } })
    expect(store.proposals.map((p) => p.session_id)).toEqual([7, null])
    expect(store.state.releases).toBe(2)
  })
})

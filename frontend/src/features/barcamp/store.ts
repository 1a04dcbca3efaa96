import { reactive } from 'vue'
import type { RealtimeClient } from '../../realtime/client'

export type Choice = 'interested' | 'maybe'
export type Mode = 'onsite' | 'online' | 'hybrid'

export interface Person {
  id: number
  name: string
}

export interface Proposal {
  id: number
  title: string
  description: string
  proposer: Person
  cohosts: Person[]
  language: string
  format: string
  length: number
  mode: Mode
  needs: string[]
  in_plenum: boolean
  withdrawn: boolean
  /** The agenda session it became once released (null before, or when cancelled). */
  session_id: number | null
}

export interface Counts {
  interested: number
  maybe: number
  hands: number
}

export interface CampState {
  session_length: number
  voting_open: boolean
  grid_fixed: boolean
  releases: number
}

export interface Change {
  kind: 'new' | 'moved' | 'cancelled'
  proposal_id: number
  title: string
  to?: { room: string; start: string } | null
}

export interface BarcampSnapshot {
  state: CampState
  proposals: Proposal[]
  counts: Record<string, Counts>
  my_votes: Record<string, Choice>
  my_stars: number[]
}

/** What the barcamp panels of one connection show; fed by the snapshot and the pushes. */
export interface BarcampStore {
  ready: boolean
  state: CampState
  proposals: Proposal[]
  counts: Record<string, Counts>
  myVotes: Record<string, Choice>
  myStars: number[]
  lastRelease: Release | null
}

export interface Release {
  number: number
  changes: Change[]
  /** Proposal id → agenda session id of everything published now. */
  sessions: Record<string, number>
}

export function emptyStore(): BarcampStore {
  return {
    ready: false,
    state: { session_length: 45, voting_open: false, grid_fixed: false, releases: 0 },
    proposals: [],
    counts: {},
    myVotes: {},
    myStars: [],
    lastRelease: null,
  }
}

export function applySnapshot(store: BarcampStore, snapshot: BarcampSnapshot): void {
  store.ready = true
  store.state = snapshot.state
  store.proposals = snapshot.proposals
  store.counts = snapshot.counts
  store.myVotes = snapshot.my_votes
  store.myStars = snapshot.my_stars
}

/** A proposal made or changed: replace it in place, or add it at the end. */
export function applyProposal(store: BarcampStore, proposal: Proposal): void {
  const index = store.proposals.findIndex((p) => p.id === proposal.id)
  if (index === -1) store.proposals = [...store.proposals, proposal]
  else store.proposals = store.proposals.map((p) => (p.id === proposal.id ? proposal : p))
}

/** A release: remember its changes and which session each proposal became. */
export function applyRelease(store: BarcampStore, release: Release): void {
  store.lastRelease = release
  store.state = { ...store.state, releases: release.number }
  store.proposals = store.proposals.map((p) => ({ ...p, session_id: release.sessions[p.id] ?? null }))
}

/** Expected audience, as the server's auto-fill counts it: interested + hands + half the maybes. */
export function interest(counts: Counts | undefined): number {
  if (!counts) return 0
  return counts.interested + counts.hands + counts.maybe / 2
}

/** Open proposals, most wanted first (the screen's order). */
export function ranked(store: BarcampStore): Proposal[] {
  return store.proposals
    .filter((p) => !p.withdrawn)
    .slice()
    .sort((a, b) => interest(store.counts[b.id]) - interest(store.counts[a.id]) || a.id - b.id)
}

const stores = new WeakMap<RealtimeClient, BarcampStore>()

export function barcampStore(client: RealtimeClient): BarcampStore {
  let store = stores.get(client)
  if (!store) {
    store = reactive(emptyStore()) as BarcampStore
    stores.set(client, store)
  }
  return store
}

export function setupBarcamp(client: RealtimeClient): void {
  const store = barcampStore(client)
  client.streams.onChange((name, entry) => {
    if (name === 'barcamp' && entry?.state) applySnapshot(store, entry.state as BarcampSnapshot)
  })
  client.on<Proposal>('barcamp.proposal', (proposal) => applyProposal(store, proposal))
  client.on<{ counts: Record<string, Counts> }>('barcamp.votes', (data) => {
    store.counts = data.counts
  })
  client.on<CampState>('barcamp.state', (state) => {
    store.state = state
  })
  client.on<Release>('barcamp.release', (release) => applyRelease(store, release))
}

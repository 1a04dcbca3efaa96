import { reactive } from 'vue'
import type { RealtimeClient } from '../../realtime/client'

export interface BreakoutRoom {
  id: number
  name: string
  topic: string
  capacity: number | null
  is_open: boolean
  onsite_room_id: number | null
  session_id: number | null
  count: number | null
}
export interface Round {
  id: number
  mode: 'manual' | 'automatic' | 'self_select'
  state: 'open' | 'done'
  ends_at: string | null
  warning_at: string | null
  returning: boolean
}
export interface Assignment {
  room: BreakoutRoom | null
  source: string | null
  mesh_limit: number
}
export interface Member {
  id: number
  name: string
  source: string
  moderator: boolean
  pre: boolean
  in_call?: boolean
  speaking?: boolean
}
export interface OverviewRoom extends BreakoutRoom {
  members: Member[]
}
export interface HelpRequest {
  room_id: number
  room_name: string
  participant_id: number
  name: string
  message: string
  at: string
}
export interface Broadcast {
  from: string
  text: string
  sent_at: string
}

export interface RoomsState {
  round: Round | null
  rooms: BreakoutRoom[]
  assignment: Assignment | null
  iceServers: RTCIceServer[]
  overview: OverviewRoom[] | null
  help: HelpRequest[]
  broadcasts: Broadcast[]
  warning: boolean
  speaking: Record<number, boolean>
}

const stores = new WeakMap<RealtimeClient, RoomsState>()

/** One reactive state per connection, fed by the rooms pushes (set up once in the feature). */
export function roomsState(client: RealtimeClient): RoomsState {
  let state = stores.get(client)
  if (!state) {
    state = reactive<RoomsState>({
      round: null, rooms: [], assignment: null, iceServers: [], overview: null,
      help: [], broadcasts: [], warning: false, speaking: {},
    }) as RoomsState
    stores.set(client, state)
  }
  return state
}

export async function refresh(client: RealtimeClient): Promise<void> {
  const state = roomsState(client)
  const data = await client.request<{
    round: Round | null
    rooms: BreakoutRoom[]
    assignment: Assignment
    ice: { ice_servers: RTCIceServer[] }
  }>('rooms.state')
  state.round = data.round && data.round.state === 'open' ? data.round : null
  state.rooms = data.rooms
  state.assignment = data.assignment
  state.iceServers = data.ice.ice_servers
}

export function follow(client: RealtimeClient): void {
  const state = roomsState(client)
  client.onSnapshot(() => {
    void refresh(client).catch(() => undefined)
  })
  client.on<Round>('rooms.round', (round) => {
    state.round = round.state === 'open' ? round : null
    if (round.state === 'open') state.warning = false
    // Automatic rounds place whoever asks; asking again also picks up the new timer.
    void refresh(client).catch(() => undefined)
  })
  client.on<Assignment>('rooms.assignment', (a) => {
    state.assignment = a
  })
  client.on<{ rooms: BreakoutRoom[] }>('rooms.rooms', ({ rooms }) => {
    state.rooms = rooms
  })
  client.on<{ rooms: OverviewRoom[] }>('rooms.overview', ({ rooms }) => {
    state.overview = rooms
  })
  client.on('rooms.warning', () => {
    state.warning = true
  })
  client.on<HelpRequest>('rooms.help', (request) => {
    state.help = [request, ...state.help].slice(0, 50)
  })
  client.on<Broadcast>('rooms.broadcast', (b) => {
    state.broadcasts = [b, ...state.broadcasts].slice(0, 5)
  })
  client.on<{ participant_id: number; state: { speaking: boolean } }>('rooms.media', (m) => {
    state.speaking = { ...state.speaking, [m.participant_id]: m.state.speaking }
  })
}

/** "4:05" from an absolute end time, using the server's clock. */
export function remaining(endsAt: string | null, now: number, offsetMs: number): number | null {
  if (!endsAt) return null
  return Math.max(0, Math.round((Date.parse(endsAt) - (now + offsetMs)) / 1000))
}

export function formatSeconds(total: number): string {
  const m = Math.floor(total / 60)
  const s = total % 60
  return `${m}:${String(s).padStart(2, '0')}`
}

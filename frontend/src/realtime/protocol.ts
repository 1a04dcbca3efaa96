// Shapes of the frames on /ws/events/<slug>/. The backend's pydantic models are the source
// of truth (docs/ has the generated AsyncAPI document); keep these in step with them.

export interface ErrorBody {
  code: string
  message: string
  // Present on "rate_limited": seconds until the server accepts the command again.
  retry_after?: number
  [extra: string]: unknown
}

/** Client → server. */
export interface CommandFrame {
  id: number
  type: string
  data: unknown
}

/** Server → client, answering the command with the same id. */
export type ReplyFrame =
  | { id: number; ok: true; data: unknown }
  | { id: number; ok: false; error: ErrorBody; data?: unknown }

/** Server → client without an id; "error" is sent just before the server closes. */
export type PushFrame =
  | { type: 'error'; error: ErrorBody }
  | { type: string; data: unknown }

export type ServerFrame = ReplyFrame | PushFrame

/** Close codes after which reconnecting cannot help: the ticket link must be opened again. */
export const CLOSE_NOT_AUTHENTICATED = 4401
export const CLOSE_FORBIDDEN = 4403

export function isReplyFrame(frame: ServerFrame): frame is ReplyFrame {
  return typeof (frame as ReplyFrame).id === 'number' && typeof (frame as ReplyFrame).ok === 'boolean'
}

/** Parses one text frame; returns null for anything that is not a frame we understand. */
export function parseServerFrame(text: unknown): ServerFrame | null {
  if (typeof text !== 'string') return null
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return null
  }
  if (typeof value !== 'object' || value === null) return null
  const frame = value as Record<string, unknown>
  if (typeof frame.id === 'number' && typeof frame.ok === 'boolean') return frame as unknown as ReplyFrame
  if (typeof frame.type === 'string') return frame as unknown as PushFrame
  return null
}

// ---- hello snapshot -------------------------------------------------------------------

export type Role = 'organizer' | 'moderator' | 'speaker' | 'staff' | 'attendee'
export type Attendance = 'online' | 'onsite'

export interface EventInfo {
  id: number
  slug: string
  title: string
  timezone: string
  start: string
  end: string
  venue: string
  online: boolean
  languages: string[]
}

export interface Me {
  participant_id: number
  name: string
  roles: Role[]
  attendance: Attendance
}

/** How the server answers a stream's resume cursor in hello. */
export type StreamUpdate =
  | { mode: 'full'; cursor: number; data: unknown }
  | { mode: 'delta'; cursor: number; data: unknown }
  | { mode: 'unchanged'; cursor: number }

export interface PresentParticipant {
  id: number
  name: string
  roles: Role[]
  attendance: Attendance
  room_id: number | null
}

export interface Presence {
  count: number
  participants: PresentParticipant[]
  // True when the server sent only part of the list (large events); count is still exact.
  truncated: boolean
}

export interface Snapshot {
  server_time: string
  event: EventInfo
  me: Me
  streams: Record<string, StreamUpdate>
  presence: Presence
}

export interface HelloData {
  resume?: Record<string, number>
}

// ---- agenda stream --------------------------------------------------------------------

export interface AgendaRoom {
  id: number
  name: string
  kind: 'stage' | 'breakout' | 'onsite'
  capacity: number | null
}

export interface AgendaSpeaker {
  id: number
  name: string
}

export type SessionKind = 'talk' | 'workshop' | 'barcamp' | 'break' | 'networking'

export interface AgendaSession {
  id: number
  title: string
  abstract: string
  kind: SessionKind
  start: string
  end: string
  room_id: number | null
  speakers: AgendaSpeaker[]
}

export interface Agenda {
  rooms: AgendaRoom[]
  sessions: AgendaSession[]
}

/** Push "agenda.update": always the whole agenda. */
export interface AgendaUpdate {
  cursor: number
  data: Agenda
}

// A stand-in for the browser WebSocket plus the server's side of it, for unit tests only.
import type { CommandFrame, Snapshot } from '../realtime/protocol'
import type { WebSocketLike } from '../realtime/client'

export class FakeSocket implements WebSocketLike {
  static instances: FakeSocket[] = []

  readyState = 0
  readonly sent: CommandFrame[] = []
  closedByClient: { code?: number; reason?: string } | null = null
  onopen: ((event: unknown) => void) | null = null
  onmessage: ((event: { data: unknown }) => void) | null = null
  onclose: ((event: { code: number; reason: string }) => void) | null = null
  onerror: ((event: unknown) => void) | null = null

  constructor(readonly url: string) {
    FakeSocket.instances.push(this)
  }

  static reset(): void {
    FakeSocket.instances = []
  }

  static latest(): FakeSocket {
    const socket = FakeSocket.instances.at(-1)
    if (!socket) throw new Error('no socket was opened')
    return socket
  }

  send(text: string): void {
    if (this.readyState !== 1) throw new Error('send on a socket that is not open')
    this.sent.push(JSON.parse(text) as CommandFrame)
  }

  close(code?: number, reason?: string): void {
    this.readyState = 3
    this.closedByClient = { code, reason }
  }

  // ---- the server's side ----

  accept(): void {
    this.readyState = 1
    this.onopen?.({})
  }

  sentOfType(type: string): CommandFrame[] {
    return this.sent.filter((frame) => frame.type === type)
  }

  lastSent(type: string): CommandFrame {
    const frame = this.sentOfType(type).at(-1)
    if (!frame) throw new Error(`nothing of type ${type} was sent`)
    return frame
  }

  reply(id: number, data: unknown): void {
    this.deliver({ id, ok: true, data })
  }

  fail(id: number, code: string, message = code, extra: Record<string, unknown> = {}): void {
    this.deliver({ id, ok: false, error: { code, message, ...extra } })
  }

  push(type: string, data: unknown): void {
    this.deliver({ type, data })
  }

  deliver(frame: unknown): void {
    this.onmessage?.({ data: JSON.stringify(frame) })
  }

  drop(code = 1006, reason = ''): void {
    this.readyState = 3
    this.onclose?.({ code, reason })
  }
}

export function snapshot(overrides: Partial<Snapshot> = {}): Snapshot {
  return {
    server_time: '2026-11-23T10:00:00Z',
    event: {
      id: 1,
      slug: 'digital-day',
      title: 'Digital Day',
      timezone: 'Europe/Berlin',
      start: '2026-11-23T08:00:00Z',
      end: '2026-11-24T16:00:00Z',
      venue: 'Marktplatz 1, Musterstadt',
      online: true,
      languages: ['de', 'en'],
    },
    me: { participant_id: 5, name: 'Alex', roles: ['attendee'], attendance: 'online' },
    streams: {
      agenda: {
        mode: 'full',
        cursor: 3,
        data: {
          rooms: [{ id: 1, name: 'Main stage', kind: 'stage', capacity: null }],
          sessions: [],
        },
      },
    },
    presence: { count: 1, participants: [], truncated: false },
    ...overrides,
  }
}

/** Lets promise callbacks run (reply → resolve → then-handlers) without moving the clock. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve()
}

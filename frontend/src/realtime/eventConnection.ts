import { inject, provide, shallowRef, type InjectionKey, type ShallowRef } from 'vue'
import { RealtimeClient, type ConnectionStatus, type RealtimeClientOptions } from './client'
import type { Agenda, EventInfo, Me, Presence } from './protocol'
import { setupFeatures } from '../features/registry'

type ReadonlyRef<T> = Readonly<ShallowRef<T>>

/** What the views of one event read: reactive mirrors of the client's state. */
export interface EventConnection {
  readonly client: RealtimeClient
  readonly status: ReadonlyRef<ConnectionStatus>
  readonly event: ReadonlyRef<EventInfo | null>
  readonly me: ReadonlyRef<Me | null>
  readonly agenda: ReadonlyRef<Agenda | null>
  readonly presence: ReadonlyRef<Presence | null>
  dispose(): void
}

/** ws://host/ws/events/<slug>/ on the page's own host, so the session cookie goes along. */
export function eventSocketUrl(slug: string, location: Pick<Location, 'protocol' | 'host'> = window.location): string {
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:'
  return `${scheme}//${location.host}/ws/events/${encodeURIComponent(slug)}/`
}

export function createEventConnection(
  slug: string,
  options: Partial<RealtimeClientOptions> = {},
): EventConnection {
  const client = new RealtimeClient({ url: eventSocketUrl(slug), ...options })
  client.followStream('agenda', 'agenda.update', 'full')
  setupFeatures(client)

  const status = shallowRef(client.status)
  const event = shallowRef<EventInfo | null>(null)
  const me = shallowRef<Me | null>(null)
  const agenda = shallowRef<Agenda | null>(null)
  const presence = shallowRef<Presence | null>(null)

  const unsubscribes = [
    client.onStatus((next) => {
      status.value = next
    }),
    client.onSnapshot((snapshot) => {
      event.value = snapshot.event
      me.value = snapshot.me
      presence.value = snapshot.presence
    }),
    client.on<Presence>('presence.update', (next) => {
      presence.value = next
    }),
    client.streams.onChange((name, entry) => {
      if (name === 'agenda') agenda.value = (entry?.state as Agenda | undefined) ?? null
    }),
  ]

  // After a network change the backoff may be waiting up to 15 s; the browser knows better.
  const reconnectWhenOnline = () => client.reconnectNow()
  window.addEventListener('online', reconnectWhenOnline)

  client.connect()

  return {
    client,
    status,
    event,
    me,
    agenda,
    presence,
    dispose() {
      window.removeEventListener('online', reconnectWhenOnline)
      for (const unsubscribe of unsubscribes) unsubscribe()
      client.close()
    },
  }
}

const eventConnectionKey: InjectionKey<EventConnection> = Symbol('eventConnection')

/**
 * The event layout owns the connection; every view below it shares the one socket.
 * The layout is keyed by slug, so another event means a new layout and a new connection.
 */
export function provideEventConnection(connection: EventConnection): void {
  provide(eventConnectionKey, connection)
}

export function useEventConnection(): EventConnection {
  const connection = inject(eventConnectionKey)
  if (!connection) throw new Error('useEventConnection() used outside the event layout')
  return connection
}

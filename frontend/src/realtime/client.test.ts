import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { RealtimeClient, type ConnectionState, type RealtimeClientOptions } from './client'
import { RealtimeError } from './errors'
import { FakeSocket, settle, snapshot } from '../testing/fakeSocket'

function makeClient(options: Partial<RealtimeClientOptions> = {}): RealtimeClient {
  return new RealtimeClient({
    url: 'ws://test/ws/events/digital-day/',
    WebSocket: FakeSocket,
    random: () => 0, // no jitter: exact delays
    ...options,
  })
}

/** Accepts the latest socket and answers its hello with a snapshot. */
async function serveHello(reply = snapshot()): Promise<FakeSocket> {
  const socket = FakeSocket.latest()
  socket.accept()
  socket.reply(socket.lastSent('hello').id, reply)
  await settle()
  return socket
}

function errorOf(promise: Promise<unknown>): Promise<RealtimeError> {
  return promise.then(
    () => {
      throw new Error('expected a rejection')
    },
    (error: RealtimeError) => error,
  )
}

beforeEach(() => {
  vi.useFakeTimers()
  FakeSocket.reset()
})

afterEach(() => {
  vi.useRealTimers()
})

describe('connecting', () => {
  it('sends hello without resume first, then is connected and holds the snapshot', async () => {
    const client = makeClient()
    const states: ConnectionState[] = []
    client.onStatus((status) => states.push(status.state))
    client.connect()

    const socket = FakeSocket.latest()
    expect(socket.url).toBe('ws://test/ws/events/digital-day/')
    socket.accept()
    const hello = socket.lastSent('hello')
    expect(hello.data).toEqual({})
    expect(hello.id).toBeGreaterThan(0)

    socket.reply(hello.id, snapshot())
    await settle()
    expect(states).toEqual(['connecting', 'connected'])
    expect(client.snapshot?.event.title).toBe('Digital Day')
    expect(client.streams.get('agenda')?.cursor).toBe(3)
  })

  it('uses increasing ids', async () => {
    const client = makeClient()
    client.connect()
    const socket = await serveHello()
    void client.request('a')
    void client.request('b')
    const ids = socket.sent.map((frame) => frame.id)
    expect(ids).toEqual([...ids].sort((x, y) => x - y))
    expect(new Set(ids).size).toBe(ids.length)
  })
})

describe('requests', () => {
  it('matches replies to requests by id, in any order', async () => {
    const client = makeClient()
    client.connect()
    const socket = await serveHello()

    const first = client.request<{ n: number }>('thing.get', { n: 1 })
    const second = client.request<{ n: number }>('thing.get', { n: 2 })
    const [a, b] = socket.sentOfType('thing.get')
    socket.reply(b!.id, { n: 2 })
    socket.reply(a!.id, { n: 1 })

    await expect(first).resolves.toEqual({ n: 1 })
    await expect(second).resolves.toEqual({ n: 2 })
  })

  it('rejects with the server code and message on an error reply', async () => {
    const client = makeClient()
    client.connect()
    const socket = await serveHello()

    const rejected = errorOf(client.request('chat.send', { text: 'hi' }))
    socket.fail(socket.lastSent('chat.send').id, 'rate_limited', 'Slow down', { retry_after: 3 })

    const error = await rejected
    expect(error).toBeInstanceOf(RealtimeError)
    expect(error.code).toBe('rate_limited')
    expect(error.message).toBe('Slow down')
    expect(error.retryAfter).toBe(3)
  })

  it('also reads retry_after from the reply data', async () => {
    const client = makeClient()
    client.connect()
    const socket = await serveHello()
    const rejected = errorOf(client.request('question.vote'))
    socket.deliver({
      id: socket.lastSent('question.vote').id,
      ok: false,
      error: { code: 'rate_limited', message: 'Slow down' },
      data: { retry_after: 5 },
    })
    expect((await rejected).retryAfter).toBe(5)
  })

  it('rejects with "timeout" when no reply comes, and ignores the late reply', async () => {
    const client = makeClient()
    client.connect()
    const socket = await serveHello()

    const rejected = errorOf(client.request('slow', {}, { timeoutMs: 2000 }))
    await vi.advanceTimersByTimeAsync(1999)
    socket.reply(999_999, {}) // an unrelated id changes nothing
    await vi.advanceTimersByTimeAsync(1)
    expect((await rejected).code).toBe('timeout')

    socket.reply(socket.lastSent('slow').id, { late: true })
    expect(client.status.state).toBe('connected')
  })

  it('rejects requests on the wire with "connection_lost" when the socket closes', async () => {
    const client = makeClient()
    client.connect()
    const socket = await serveHello()

    const rejected = errorOf(client.request('chat.send'))
    socket.drop(1006)
    expect((await rejected).code).toBe('connection_lost')
    expect(client.status.state).toBe('reconnecting')
  })

  it('queues requests made while disconnected and sends them after the next hello', async () => {
    const client = makeClient()
    client.connect()
    const before = client.request('early', { n: 1 }) // before the first hello reply
    const firstSocket = await serveHello()
    expect(firstSocket.sentOfType('early')).toHaveLength(1)
    firstSocket.reply(firstSocket.lastSent('early').id, 'one')
    await expect(before).resolves.toBe('one')

    firstSocket.drop(1006)
    const during = client.request('while.down', { n: 2 })
    await vi.advanceTimersByTimeAsync(500)
    const secondSocket = FakeSocket.latest()
    expect(secondSocket).not.toBe(firstSocket)
    secondSocket.accept()
    // hello goes first; the queued command waits for its reply
    expect(secondSocket.sent.map((frame) => frame.type)).toEqual(['hello'])
    secondSocket.reply(secondSocket.lastSent('hello').id, snapshot())
    await settle()
    expect(secondSocket.sent.map((frame) => frame.type)).toEqual(['hello', 'while.down'])
    secondSocket.reply(secondSocket.lastSent('while.down').id, 'two')
    await expect(during).resolves.toBe('two')
  })

  it('bounds the queue', async () => {
    const client = makeClient({ maxQueuedRequests: 2 })
    void client.request('a')
    void client.request('b')
    const error = await errorOf(client.request('c'))
    expect(error.code).toBe('queue_full')
  })

  it('rejects queued and new requests after close()', async () => {
    const client = makeClient()
    client.connect()
    const queued = errorOf(client.request('a'))
    client.close()
    expect((await queued).code).toBe('connection_closed')
    expect((await errorOf(client.request('b'))).code).toBe('connection_closed')
    expect(client.status.state).toBe('closed')
  })
})

describe('notifications', () => {
  it('sends a frame without id and expects nothing back', async () => {
    const client = makeClient()
    client.connect()
    const socket = await serveHello()
    expect(client.notify('rooms.signal', { to: 7, candidate: { candidate: '' } })).toBe(true)
    const frame = socket.lastSent('rooms.signal')
    expect(frame).toEqual({ type: 'rooms.signal', data: { to: 7, candidate: { candidate: '' } } })
    expect('id' in frame).toBe(false)
  })

  it('queues notifications made while disconnected, in order with requests, and sends them after hello', async () => {
    const client = makeClient()
    client.connect() // connecting: hello not answered yet
    expect(client.notify('rooms.signal', { to: 7, n: 1 })).toBe(true)
    void client.request('rooms.media', { audio: false })
    expect(client.notify('rooms.signal', { to: 7, n: 2 })).toBe(true)
    const socket = await serveHello()
    const after = socket.sent.filter((frame) => frame.type !== 'hello')
    expect(after.map((frame) => [frame.type, 'id' in frame])).toEqual([
      ['rooms.signal', false],
      ['rooms.media', true],
      ['rooms.signal', false],
    ])
    expect(after.at(-1)?.data).toEqual({ to: 7, n: 2 })
  })

  it('refuses a notification when the queue is full or the client is closed', async () => {
    const client = makeClient({ maxQueuedRequests: 1 })
    client.connect()
    expect(client.notify('rooms.signal', { to: 7 })).toBe(true)
    expect(client.notify('rooms.signal', { to: 8 })).toBe(false)
    client.close()
    expect(client.notify('rooms.signal', { to: 9 })).toBe(false)
  })

  it('hands a refusal to the subscribers of gateway.refused', async () => {
    const client = makeClient()
    client.connect()
    const socket = await serveHello()
    const refusals: unknown[] = []
    client.on('gateway.refused', (data) => refusals.push(data))
    client.notify('rooms.signal', { to: 7 })
    const refusal = { type: 'rooms.signal', error: { code: 'not_same_room', message: 'Not in your room.' } }
    socket.push('gateway.refused', refusal)
    expect(refusals).toEqual([refusal])
    expect(client.status.lastError).toBeNull() // a refused notification does not mark the connection
  })
})

describe('reconnecting', () => {
  it('backs off exponentially up to the cap', async () => {
    const client = makeClient({ backoff: { initialMs: 500, maxMs: 15_000 } })
    client.connect()
    await serveHello()

    const delays: number[] = []
    for (let attempt = 0; attempt < 7; attempt++) {
      FakeSocket.latest().drop(1006)
      const opened = FakeSocket.instances.length
      let waited = 0
      while (FakeSocket.instances.length === opened) {
        await vi.advanceTimersByTimeAsync(100)
        waited += 100
      }
      delays.push(waited)
    }
    expect(delays).toEqual([500, 1000, 2000, 4000, 8000, 15_000, 15_000])
    expect(client.status.state).toBe('reconnecting')
  })

  it('spreads reconnects with jitter', async () => {
    const client = makeClient({ random: () => 1, backoff: { initialMs: 1000, jitter: 0.5 } })
    client.connect()
    await serveHello()
    FakeSocket.latest().drop(1006)
    await vi.advanceTimersByTimeAsync(499)
    expect(FakeSocket.instances).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(FakeSocket.instances).toHaveLength(2)
  })

  it('starts the backoff over after a stable connection', async () => {
    const client = makeClient({ stableAfterMs: 10_000, heartbeatIntervalMs: 60_000 })
    client.connect()
    await serveHello()
    // Two quick failures grow the delay to 1000 ms …
    FakeSocket.latest().drop(1006)
    await vi.advanceTimersByTimeAsync(500)
    FakeSocket.latest().drop(1006)
    await vi.advanceTimersByTimeAsync(1000)
    expect(FakeSocket.instances).toHaveLength(3)
    // … then a connection that holds for 10 s resets it to 500 ms.
    await serveHello()
    await vi.advanceTimersByTimeAsync(10_000)
    FakeSocket.latest().drop(1006)
    await vi.advanceTimersByTimeAsync(500)
    expect(FakeSocket.instances).toHaveLength(4)
  })

  it('waits at least retry_after before retrying a rate-limited hello', async () => {
    const client = makeClient()
    client.connect()
    const socket = FakeSocket.latest()
    socket.accept()
    socket.fail(socket.lastSent('hello').id, 'rate_limited', 'Too many connections', { retry_after: 4 })
    await settle()
    expect(socket.closedByClient).not.toBeNull()
    expect(client.status).toMatchObject({ state: 'connecting', lastError: { code: 'rate_limited' } })
    await vi.advanceTimersByTimeAsync(3999)
    expect(FakeSocket.instances).toHaveLength(1)
    await vi.advanceTimersByTimeAsync(1)
    expect(FakeSocket.instances).toHaveLength(2)
  })

  it('stops when hello itself is refused for the ticket', async () => {
    const client = makeClient()
    client.connect()
    const socket = FakeSocket.latest()
    socket.accept()
    socket.fail(socket.lastSent('hello').id, 'ticket_invalid', 'Unknown ticket')
    await settle()
    expect(client.status).toMatchObject({ state: 'closed', lastError: { code: 'ticket_invalid' } })
    await vi.advanceTimersByTimeAsync(60_000)
    expect(FakeSocket.instances).toHaveLength(1)
  })

  it('reconnectNow skips the wait', async () => {
    const client = makeClient()
    client.connect()
    await serveHello()
    FakeSocket.latest().drop(1006)
    client.reconnectNow()
    expect(FakeSocket.instances).toHaveLength(2)
  })

  it('sends the cursors it holds in hello after a reconnect', async () => {
    const client = makeClient()
    client.connect()
    await serveHello()
    FakeSocket.latest().drop(1006)
    await vi.advanceTimersByTimeAsync(500)
    const socket = FakeSocket.latest()
    socket.accept()
    expect(socket.lastSent('hello').data).toEqual({ resume: { agenda: 3 } })
  })

  it('keeps a stream on "unchanged" and replaces it on "full"', async () => {
    const client = makeClient()
    client.connect()
    await serveHello()
    const agendaBefore = client.streams.get('agenda')?.state

    FakeSocket.latest().drop(1006)
    await vi.advanceTimersByTimeAsync(500)
    await serveHello(snapshot({ streams: { agenda: { mode: 'unchanged', cursor: 3 } } }))
    expect(client.streams.get('agenda')?.state).toBe(agendaBefore)

    FakeSocket.latest().drop(1006)
    await vi.advanceTimersByTimeAsync(1000)
    const fresh = { rooms: [], sessions: [] }
    await serveHello(snapshot({ streams: { agenda: { mode: 'full', cursor: 9, data: fresh } } }))
    expect(client.streams.get('agenda')).toEqual({ cursor: 9, state: fresh })
  })

  it('folds delta streams in with the registered reducer', async () => {
    const client = makeClient()
    client.streams.registerReducer('chat', (state, delta) => [...(state as string[]), ...(delta as string[])])
    client.connect()
    await serveHello(snapshot({ streams: { chat: { mode: 'full', cursor: 1, data: ['a'] } } }))
    FakeSocket.latest().drop(1006)
    await vi.advanceTimersByTimeAsync(500)
    await serveHello(snapshot({ streams: { chat: { mode: 'delta', cursor: 3, data: ['b', 'c'] } } }))
    expect(client.streams.get('chat')).toEqual({ cursor: 3, state: ['a', 'b', 'c'] })
  })

  it('does not reconnect after 4401 and reports the server error', async () => {
    const client = makeClient()
    client.connect()
    const socket = FakeSocket.latest()
    socket.accept()
    socket.deliver({ type: 'error', error: { code: 'ticket_expired', message: 'Your ticket has expired.' } })
    socket.drop(4401)

    expect(client.status.state).toBe('closed')
    expect(client.status.lastError?.code).toBe('ticket_expired')
    await vi.advanceTimersByTimeAsync(120_000)
    expect(FakeSocket.instances).toHaveLength(1)
    expect((await errorOf(client.request('x'))).code).toBe('ticket_expired')
  })

  it('does not reconnect after 4403 without an error push either', async () => {
    const client = makeClient()
    client.connect()
    FakeSocket.latest().accept()
    FakeSocket.latest().drop(4403, 'nope')
    expect(client.status).toMatchObject({ state: 'closed', lastError: { code: 'forbidden' } })
    await vi.advanceTimersByTimeAsync(120_000)
    expect(FakeSocket.instances).toHaveLength(1)
  })
})

describe('heartbeat', () => {
  it('pings every interval and drops a socket whose ping goes unanswered', async () => {
    const client = makeClient({ heartbeatIntervalMs: 25_000, heartbeatTimeoutMs: 10_000 })
    client.connect()
    const socket = await serveHello()

    await vi.advanceTimersByTimeAsync(25_000)
    socket.reply(socket.lastSent('ping').id, {})
    await settle()
    await vi.advanceTimersByTimeAsync(25_000)
    expect(socket.sentOfType('ping')).toHaveLength(2)

    await vi.advanceTimersByTimeAsync(10_000) // second ping unanswered
    expect(socket.closedByClient).not.toBeNull()
    expect(client.status.state).toBe('reconnecting')
    expect(client.status.lastError?.code).toBe('timeout')
    await vi.advanceTimersByTimeAsync(500)
    expect(FakeSocket.instances).toHaveLength(2)
  })
})

describe('pushes', () => {
  it('delivers pushes to subscribers until they unsubscribe', async () => {
    const client = makeClient()
    client.connect()
    const socket = await serveHello()
    const seen: unknown[] = []
    const unsubscribe = client.on('presence.update', (data) => seen.push(data))

    socket.push('presence.update', { count: 2 })
    unsubscribe()
    socket.push('presence.update', { count: 3 })
    expect(seen).toEqual([{ count: 2 }])
  })

  it('applies followed stream pushes and ignores stale cursors', async () => {
    const client = makeClient()
    client.followStream('agenda', 'agenda.update', 'full')
    client.connect()
    const socket = await serveHello()

    const newer = { rooms: [], sessions: [] }
    socket.push('agenda.update', { cursor: 4, data: newer })
    expect(client.streams.get('agenda')).toEqual({ cursor: 4, state: newer })
    socket.push('agenda.update', { cursor: 2, data: { rooms: [], sessions: [{ id: 1 }] } })
    expect(client.streams.get('agenda')?.cursor).toBe(4)
  })

  it('answers gateway.resync with a new hello carrying its cursors', async () => {
    const client = makeClient()
    client.connect()
    const socket = await serveHello()
    socket.push('gateway.resync', {})
    const hellos = socket.sentOfType('hello')
    expect(hellos).toHaveLength(2)
    expect(hellos[1]!.data).toEqual({ resume: { agenda: 3 } })
  })
})

import { defaultBackoff, reconnectDelay, type BackoffPolicy } from './backoff'
import { RealtimeError } from './errors'
import {
  CLOSE_FORBIDDEN,
  CLOSE_NOT_AUTHENTICATED,
  isReplyFrame,
  parseServerFrame,
  type HelloData,
  type Snapshot,
} from './protocol'
import { StreamStore } from './streams'

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'closed'

export interface ConnectionStatus {
  state: ConnectionState
  /** Why the connection is not (or was not) fine; cleared once hello succeeds again. */
  lastError: RealtimeError | null
}

/** The part of the browser WebSocket the client uses; tests pass a fake. */
export interface WebSocketLike {
  readonly readyState: number
  send(text: string): void
  close(code?: number, reason?: string): void
  onopen: ((event: unknown) => void) | null
  onmessage: ((event: { data: unknown }) => void) | null
  onclose: ((event: { code: number; reason: string }) => void) | null
  onerror: ((event: unknown) => void) | null
}

export type WebSocketConstructor = new (url: string) => WebSocketLike

export interface RealtimeClientOptions {
  url: string
  /** Defaults to the browser's WebSocket. */
  WebSocket?: WebSocketConstructor
  /** Default time a request waits for its reply once it is on the wire. */
  requestTimeoutMs?: number
  heartbeatIntervalMs?: number
  /** A ping unanswered for this long means the socket is dead even if the browser has not noticed. */
  heartbeatTimeoutMs?: number
  /** A connection that stayed up this long resets the backoff to its first step. */
  stableAfterMs?: number
  /** Requests made while disconnected wait for the next connection, up to this many. */
  maxQueuedRequests?: number
  backoff?: Partial<BackoffPolicy>
  random?: () => number
}

export interface RequestOptions {
  timeoutMs?: number
}

export type PushHandler<T = unknown> = (data: T) => void
export type StatusListener = (status: ConnectionStatus) => void
export type SnapshotListener = (snapshot: Snapshot) => void

interface PendingRequest {
  resolve: (data: unknown) => void
  reject: (error: RealtimeError) => void
  timer: ReturnType<typeof setTimeout>
}

interface QueuedRequest {
  type: string
  data: unknown
  /** Sent without id: nothing to wait for (see notify). */
  notification?: boolean
  timeoutMs: number
  resolve: (data: unknown) => void
  reject: (error: RealtimeError) => void
}

interface FollowedStream {
  stream: string
  mode: 'full' | 'delta'
}

// A close code of our own for sockets we give up on (dead heartbeat, failed hello).
const CLOSE_CLIENT_GAVE_UP = 4000
// WebSocket.OPEN; the fake sockets in tests have no static constants.
const SOCKET_OPEN = 1

/**
 * One event's realtime connection: request/reply over a single WebSocket, server pushes,
 * resumable streams, reconnects. Framework-free; src/realtime/eventConnection.ts binds it to Vue.
 */
export class RealtimeClient {
  readonly streams = new StreamStore()
  /** The last hello reply: event, me, presence as of that moment. */
  snapshot: Snapshot | null = null
  /** server clock − local clock, so countdowns can use the server's absolute times. */
  serverClockOffsetMs = 0

  private readonly url: string
  private readonly WebSocketImpl: WebSocketConstructor
  private readonly requestTimeoutMs: number
  private readonly heartbeatIntervalMs: number
  private readonly heartbeatTimeoutMs: number
  private readonly stableAfterMs: number
  private readonly maxQueuedRequests: number
  private readonly backoff: BackoffPolicy
  private readonly random: () => number

  private socket: WebSocketLike | null = null
  private nextId = 1
  private readonly pending = new Map<number, PendingRequest>()
  private queue: QueuedRequest[] = []
  private readonly pushHandlers = new Map<string, Set<PushHandler>>()
  private readonly followed = new Map<string, FollowedStream>()
  private readonly statusListeners = new Set<StatusListener>()
  private readonly snapshotListeners = new Set<SnapshotListener>()

  private currentStatus: ConnectionStatus = { state: 'closed', lastError: null }
  private started = false
  // Set by close() or an auth close (4401/4403): nothing will be sent any more.
  private terminated = false
  private terminalError: RealtimeError | null = null
  private everConnected = false
  private attempt = 0
  // The "error" push that precedes a server-side close; it explains the close code.
  private serverError: RealtimeError | null = null

  private reconnectTimer: ReturnType<typeof setTimeout> | null = null
  private heartbeatTimer: ReturnType<typeof setTimeout> | null = null
  private stableTimer: ReturnType<typeof setTimeout> | null = null
  private openTimer: ReturnType<typeof setTimeout> | null = null

  constructor(options: RealtimeClientOptions) {
    this.url = options.url
    this.WebSocketImpl = options.WebSocket ?? defaultWebSocket()
    this.requestTimeoutMs = options.requestTimeoutMs ?? 10_000
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? 25_000
    this.heartbeatTimeoutMs = options.heartbeatTimeoutMs ?? 10_000
    this.stableAfterMs = options.stableAfterMs ?? 10_000
    this.maxQueuedRequests = options.maxQueuedRequests ?? 50
    this.backoff = { ...defaultBackoff, ...options.backoff }
    this.random = options.random ?? Math.random
  }

  get status(): ConnectionStatus {
    return this.currentStatus
  }

  /** Opens the socket; from then on the client keeps itself connected until close(). */
  connect(): void {
    if (this.started || this.terminated) return
    this.started = true
    this.open()
  }

  /** Closes for good: pending and queued requests are rejected, no reconnect. */
  close(): void {
    if (this.terminated) return
    this.terminated = true
    this.clearTimers()
    const socket = this.socket
    this.socket = null
    if (socket) {
      detach(socket)
      socket.close(1000, 'client closed')
    }
    const error = new RealtimeError('connection_closed', 'The connection was closed.')
    this.rejectPending(error)
    this.rejectQueue(error)
    this.setStatus({ state: 'closed', lastError: null })
  }

  /** Skips the rest of the backoff wait, e.g. when the browser reports it is online again. */
  reconnectNow(): void {
    if (this.reconnectTimer === null) return
    clearTimeout(this.reconnectTimer)
    this.reconnectTimer = null
    this.open()
  }

  /**
   * Sends a command and resolves with the reply's data. While disconnected the command
   * waits in a bounded queue and goes out after the next successful hello; the timeout
   * counts from when it is actually sent.
   */
  request<T = unknown>(type: string, data: unknown = {}, options: RequestOptions = {}): Promise<T> {
    const timeoutMs = options.timeoutMs ?? this.requestTimeoutMs
    if (this.terminated) {
      return Promise.reject(
        this.terminalError ?? new RealtimeError('connection_closed', 'The connection was closed.'),
      )
    }
    if (this.currentStatus.state === 'connected' && this.socket) {
      return this.transmit(this.socket, type, data, timeoutMs) as Promise<T>
    }
    if (this.queue.length >= this.maxQueuedRequests) {
      return Promise.reject(new RealtimeError('queue_full', 'Too many requests are waiting for the connection.'))
    }
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ type, data, timeoutMs, resolve: resolve as (data: unknown) => void, reject })
    })
  }

  /**
   * Sends a command without waiting for anything back (a notification: the frame has no id).
   * Nothing comes back when the server accepts it; a refusal arrives as a "gateway.refused"
   * push naming the type. For WebRTC signals: the browser's peer connection outlives a
   * reconnect, so while disconnected a notification waits in the requests' queue, in order,
   * and goes out after the next hello. False when it could not be sent or queued.
   */
  notify(type: string, data: unknown = {}): boolean {
    if (this.terminated) return false
    if (this.currentStatus.state === 'connected' && this.socket) return this.sendNotification(this.socket, type, data)
    if (this.queue.length >= this.maxQueuedRequests) return false
    const ignore = () => undefined
    this.queue.push({ type, data, notification: true, timeoutMs: 0, resolve: ignore, reject: ignore })
    return true
  }

  private sendNotification(socket: WebSocketLike, type: string, data: unknown): boolean {
    try {
      if (socket.readyState !== SOCKET_OPEN) return false
      socket.send(JSON.stringify({ type, data }))
      return true
    } catch {
      return false
    }
  }

  /** Subscribes to a server push type; returns the unsubscribe function. */
  on<T = unknown>(type: string, handler: PushHandler<T>): () => void {
    let handlers = this.pushHandlers.get(type)
    if (!handlers) {
      handlers = new Set()
      this.pushHandlers.set(type, handlers)
    }
    handlers.add(handler as PushHandler)
    return () => {
      handlers.delete(handler as PushHandler)
    }
  }

  /**
   * Routes a push type carrying `{cursor, data}` into a stream, e.g. "agenda.update" → agenda
   * as a full replacement. Delta streams also need StreamStore.registerReducer.
   */
  followStream(stream: string, pushType: string, mode: 'full' | 'delta'): void {
    this.followed.set(pushType, { stream, mode })
  }

  onStatus(listener: StatusListener): () => void {
    this.statusListeners.add(listener)
    return () => this.statusListeners.delete(listener)
  }

  onSnapshot(listener: SnapshotListener): () => void {
    this.snapshotListeners.add(listener)
    return () => this.snapshotListeners.delete(listener)
  }

  // ---- connection lifecycle -----------------------------------------------------------

  private open(): void {
    this.reconnectTimer = null
    this.serverError = null
    this.setStatus({
      state: this.everConnected ? 'reconnecting' : 'connecting',
      lastError: this.currentStatus.lastError,
    })
    let socket: WebSocketLike
    try {
      socket = new this.WebSocketImpl(this.url)
    } catch (cause) {
      this.setStatus({ ...this.currentStatus, lastError: new RealtimeError('connection_lost', String(cause)) })
      this.scheduleReconnect()
      return
    }
    this.socket = socket
    socket.onopen = () => {
      this.clearTimer('openTimer')
      this.hello(socket, false)
    }
    socket.onmessage = (event) => this.receive(event.data)
    socket.onclose = (event) => this.handleClose(socket, event.code, event.reason)
    socket.onerror = () => {
      // The browser follows every error with a close event; reconnecting happens there.
    }
    // A socket stuck in CONNECTING (a black-holed network) would otherwise wait for the
    // operating system's TCP timeout, minutes later.
    this.openTimer = setTimeout(() => {
      this.openTimer = null
      this.giveUp(socket, new RealtimeError('timeout', 'The server did not accept the connection in time.'))
    }, this.requestTimeoutMs)
  }

  /** Sends hello with our cursors; on the reply applies the snapshot and releases the queue. */
  private hello(socket: WebSocketLike, isResync: boolean): void {
    const resume = this.streams.cursors()
    const data: HelloData = Object.keys(resume).length > 0 ? { resume } : {}
    const sentAt = Date.now()
    this.transmit(socket, 'hello', data, this.requestTimeoutMs).then(
      (reply) => {
        if (socket !== this.socket) return
        this.applySnapshot(reply as Snapshot, sentAt)
        if (isResync) return
        this.everConnected = true
        this.setStatus({ state: 'connected', lastError: null })
        this.stableTimer = setTimeout(() => {
          this.stableTimer = null
          this.attempt = 0
        }, this.stableAfterMs)
        this.scheduleHeartbeat(socket)
        this.flushQueue(socket)
      },
      (error: RealtimeError) => {
        if (socket !== this.socket) return
        // A refused ticket will be refused again; retrying would only hammer the server.
        if (isAuthError(error)) this.terminate(error)
        else this.giveUp(socket, error)
      },
    )
  }

  private applySnapshot(snapshot: Snapshot, sentAt: number): void {
    const receivedAt = Date.now()
    const serverTime = Date.parse(snapshot.server_time)
    // The server stamped the snapshot somewhere during the round trip; assume the middle.
    if (!Number.isNaN(serverTime)) this.serverClockOffsetMs = serverTime - (sentAt + receivedAt) / 2
    this.snapshot = snapshot
    for (const [name, update] of Object.entries(snapshot.streams ?? {})) {
      this.streams.apply(name, update)
    }
    for (const listener of this.snapshotListeners) listener(snapshot)
  }

  private flushQueue(socket: WebSocketLike): void {
    const queued = this.queue
    this.queue = []
    for (const request of queued) {
      if (request.notification) this.sendNotification(socket, request.type, request.data)
      else this.transmit(socket, request.type, request.data, request.timeoutMs).then(request.resolve, request.reject)
    }
  }

  private scheduleHeartbeat(socket: WebSocketLike): void {
    this.heartbeatTimer = setTimeout(() => {
      this.heartbeatTimer = null
      this.transmit(socket, 'ping', {}, this.heartbeatTimeoutMs).then(
        () => {
          if (socket === this.socket) this.scheduleHeartbeat(socket)
        },
        (error: RealtimeError) => {
          if (socket !== this.socket) return
          // A rate-limited ping still proves the socket is alive.
          if (error.code === 'timeout') this.giveUp(socket, error)
          else this.scheduleHeartbeat(socket)
        },
      )
    }, this.heartbeatIntervalMs)
  }

  /** Drops a socket we no longer trust without waiting for the browser to notice. */
  private giveUp(socket: WebSocketLike, error: RealtimeError): void {
    if (socket !== this.socket) return
    detach(socket)
    socket.close(CLOSE_CLIENT_GAVE_UP, error.code)
    this.handleClose(socket, CLOSE_CLIENT_GAVE_UP, error.message, error)
  }

  private handleClose(socket: WebSocketLike, code: number, reason: string, cause?: RealtimeError): void {
    if (socket !== this.socket) return
    detach(socket)
    this.socket = null
    this.clearTimers()
    // A request on the wire may or may not have run on the server; resending it could do a
    // thing twice (post a message twice), so the caller decides.
    this.rejectPending(new RealtimeError('connection_lost', 'The connection was lost before the reply arrived.'))

    if (code === CLOSE_NOT_AUTHENTICATED || code === CLOSE_FORBIDDEN) {
      this.terminate(
        this.serverError ??
          new RealtimeError(code === CLOSE_NOT_AUTHENTICATED ? 'not_authenticated' : 'forbidden', reason),
      )
      return
    }
    const error =
      cause ?? this.serverError ?? new RealtimeError('connection_lost', `The connection closed (code ${code}).`)
    this.setStatus({ state: this.everConnected ? 'reconnecting' : 'connecting', lastError: error })
    // A rate-limited hello says when the server will talk to us again; coming back sooner is useless.
    this.scheduleReconnect((error.retryAfter ?? 0) * 1000)
  }

  /** Stops for good because the server refused us; the UI tells the user what to do. */
  private terminate(error: RealtimeError): void {
    this.terminated = true
    this.terminalError = error
    this.clearTimers()
    const socket = this.socket
    this.socket = null
    if (socket) {
      detach(socket)
      socket.close(1000, error.code)
    }
    this.rejectPending(error)
    this.rejectQueue(error)
    this.setStatus({ state: 'closed', lastError: error })
  }

  private scheduleReconnect(minimumDelayMs = 0): void {
    if (this.terminated) return
    const delay = Math.max(minimumDelayMs, reconnectDelay(this.attempt, this.backoff, this.random))
    this.attempt += 1
    this.reconnectTimer = setTimeout(() => this.open(), delay)
  }

  // ---- frames ---------------------------------------------------------------------------

  private transmit(socket: WebSocketLike, type: string, data: unknown, timeoutMs: number): Promise<unknown> {
    const id = this.nextId++
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id)
        reject(new RealtimeError('timeout', `No reply to "${type}" within ${timeoutMs} ms.`))
      }, timeoutMs)
      this.pending.set(id, { resolve, reject, timer })
      try {
        if (socket.readyState !== SOCKET_OPEN) throw new Error('socket not open')
        socket.send(JSON.stringify({ id, type, data }))
      } catch {
        clearTimeout(timer)
        this.pending.delete(id)
        reject(new RealtimeError('connection_lost', 'The connection was lost before the request was sent.'))
      }
    })
  }

  private receive(text: unknown): void {
    const frame = parseServerFrame(text)
    if (!frame) return
    if (isReplyFrame(frame)) {
      const pending = this.pending.get(frame.id)
      // Unknown ids are replies that arrived after their request timed out.
      if (!pending) return
      this.pending.delete(frame.id)
      clearTimeout(pending.timer)
      if (frame.ok) pending.resolve(frame.data)
      else pending.reject(RealtimeError.fromBody(frame.error, frame.data))
      return
    }
    if (frame.type === 'error' && 'error' in frame) {
      this.serverError = RealtimeError.fromBody(frame.error)
      this.setStatus({ ...this.currentStatus, lastError: this.serverError })
      return
    }
    const data = 'data' in frame ? frame.data : undefined
    if (frame.type === 'gateway.resync' && this.socket && this.currentStatus.state === 'connected') {
      // The server lost its event feed and may have dropped pushes: ask for what we missed.
      this.hello(this.socket, true)
    }
    const followed = this.followed.get(frame.type)
    if (followed && isCursorData(data)) {
      this.streams.apply(followed.stream, { mode: followed.mode, cursor: data.cursor, data: data.data })
    }
    for (const handler of this.pushHandlers.get(frame.type) ?? []) {
      try {
        handler(data)
      } catch (error) {
        // One broken view must not stop the others from getting the push.
        console.error(`push handler for "${frame.type}" failed`, error)
      }
    }
  }

  // ---- bookkeeping ----------------------------------------------------------------------

  private setStatus(status: ConnectionStatus): void {
    const previous = this.currentStatus
    if (previous.state === status.state && previous.lastError === status.lastError) return
    this.currentStatus = status
    for (const listener of this.statusListeners) listener(status)
  }

  private rejectPending(error: RealtimeError): void {
    const pending = [...this.pending.values()]
    this.pending.clear()
    for (const request of pending) {
      clearTimeout(request.timer)
      request.reject(error)
    }
  }

  private rejectQueue(error: RealtimeError): void {
    const queued = this.queue
    this.queue = []
    for (const request of queued) request.reject(error)
  }

  private clearTimer(name: 'reconnectTimer' | 'heartbeatTimer' | 'stableTimer' | 'openTimer'): void {
    const timer = this[name]
    if (timer !== null) clearTimeout(timer)
    this[name] = null
  }

  private clearTimers(): void {
    this.clearTimer('reconnectTimer')
    this.clearTimer('heartbeatTimer')
    this.clearTimer('stableTimer')
    this.clearTimer('openTimer')
  }
}

const AUTH_ERROR_CODES = new Set(['not_authenticated', 'ticket_invalid', 'ticket_expired', 'forbidden'])

function isAuthError(error: RealtimeError): boolean {
  return AUTH_ERROR_CODES.has(error.code)
}

function detach(socket: WebSocketLike): void {
  socket.onopen = null
  socket.onmessage = null
  socket.onclose = null
  socket.onerror = null
}

function isCursorData(value: unknown): value is { cursor: number; data: unknown } {
  return typeof value === 'object' && value !== null && typeof (value as { cursor?: unknown }).cursor === 'number'
}

function defaultWebSocket(): WebSocketConstructor {
  // The DOM's WebSocket types its handlers with DOM event classes; ours are structural so
  // a test fake can stand in. The runtime object satisfies both.
  return globalThis.WebSocket as unknown as WebSocketConstructor
}

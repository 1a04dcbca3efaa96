import type { ErrorBody } from './protocol'

/** Codes the client produces itself; everything else comes from the server. */
export type ClientErrorCode =
  | 'timeout' // no reply within the request's timeout
  | 'connection_lost' // the socket closed while the request was on the wire: it may or may not have run
  | 'connection_closed' // the client was closed for good (close() or 4401/4403)
  | 'queue_full' // too many requests waiting for a connection

/** Server codes the UI reacts to; others are passed through as plain strings. */
export type ServerErrorCode =
  | 'not_authenticated'
  | 'ticket_invalid'
  | 'ticket_expired'
  | 'forbidden'
  | 'rate_limited'

export type RealtimeErrorCode = ClientErrorCode | ServerErrorCode | (string & {})

/** Rejection reason of every request, and the connection's last error. */
export class RealtimeError extends Error {
  readonly code: RealtimeErrorCode
  /** Seconds to wait before trying again, when the server said so (rate limits). */
  readonly retryAfter: number | undefined

  constructor(code: RealtimeErrorCode, message: string, retryAfter?: number) {
    super(message)
    this.name = 'RealtimeError'
    this.code = code
    this.retryAfter = retryAfter
  }

  /** `retry_after` is read from the error body or, failing that, from the reply's data. */
  static fromBody(body: ErrorBody, data?: unknown): RealtimeError {
    const fromData = typeof data === 'object' && data !== null ? (data as { retry_after?: unknown }).retry_after : undefined
    const retryAfter = [body.retry_after, fromData].find((value): value is number => typeof value === 'number')
    return new RealtimeError(String(body.code), String(body.message ?? ''), retryAfter)
  }
}

import { verifyAsync } from '@noble/ed25519'

/**
 * Offline check of a ticket code, the same rules as the server's `checkin/services.py scan()`
 * so a desk without network answers as the server would. Layout (see `checkin/codes.py`):
 *   version u8 · key id u32 · event id u32 · ticket id u32 · serial u16 · valid from u32 ·
 *   valid until u32 (big-endian; Unix seconds, 0 = open) ‖ Ed25519 signature (64 bytes),
 * all base64url without padding.
 */
export const PAYLOAD_BYTES = 23
export const CODE_BYTES = PAYLOAD_BYTES + 64

export interface TicketCode {
  kid: number
  eventId: number
  ticketId: number
  serial: number
  validFrom: number
  validUntil: number
  payload: Uint8Array
  signature: Uint8Array
}

export type ScanResult = 'admitted' | 'already_in' | 'refused'

export interface CheckinListRules {
  id: number
  name: string
  room_id: number | null
  attendance: 'any' | 'onsite' | 'online'
  opens_at: string | null
  closes_at: string | null
  allow_reentry: boolean
  allow_exit: boolean
}

/** [ticket id, serial, name, e-mail, 1 = on site / 0 = online] */
export type BundleTicket = [number, number, string, string, number]

export interface Bundle {
  version: number
  generated_at: string
  event: { id: number; slug: string; title: string; start: string; end: string }
  keys: Record<string, string>
  lists: CheckinListRules[]
  tickets: BundleTicket[]
  revoked: number[]
  inside: Record<string, number[]>
}

export interface PreviousScan {
  scanned_at: string
  list: string
  device: string
  direction: string
  offline: boolean
}

export interface Answer {
  result: ScanResult
  reason: string
  name: string
  ticketId: number | null
  previous: PreviousScan | null
}

export function base64UrlDecode(text: string): Uint8Array | null {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return null
  const base64 = text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4)
  try {
    const binary = atob(base64)
    const bytes = new Uint8Array(binary.length)
    for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
    return bytes
  } catch {
    return null
  }
}

export function parseCode(code: string): TicketCode | null {
  const raw = base64UrlDecode(code.trim())
  if (!raw || raw.length !== CODE_BYTES) return null
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength)
  if (view.getUint8(0) !== 1) return null
  return {
    kid: view.getUint32(1),
    eventId: view.getUint32(5),
    ticketId: view.getUint32(9),
    serial: view.getUint16(13),
    validFrom: view.getUint32(15),
    validUntil: view.getUint32(19),
    payload: raw.slice(0, PAYLOAD_BYTES),
    signature: raw.slice(PAYLOAD_BYTES),
  }
}

/** What this desk knows about who is inside: the bundle's snapshot plus its own scans since. */
export class LocalState {
  private last = new Map<string, { direction: 'entry' | 'exit'; previous: PreviousScan }>()

  constructor(bundle: Bundle | null) {
    if (!bundle) return
    const lists = new Map(bundle.lists.map((l) => [String(l.id), l.name]))
    for (const [listId, ids] of Object.entries(bundle.inside)) {
      for (const id of ids) {
        this.last.set(`${listId}:${id}`, {
          direction: 'entry',
          previous: { scanned_at: bundle.generated_at, list: lists.get(listId) ?? '', device: '', direction: 'entry', offline: false },
        })
      }
    }
  }

  get(listId: number, ticketId: number) {
    return this.last.get(`${listId}:${ticketId}`)
  }

  record(listId: number, ticketId: number, direction: 'entry' | 'exit', previous: PreviousScan): void {
    this.last.set(`${listId}:${ticketId}`, { direction, previous })
  }
}

const keyCache = new Map<string, Uint8Array>()

function publicKey(bundle: Bundle, kid: number): Uint8Array | null {
  const encoded = bundle.keys[String(kid)]
  if (!encoded) return null
  let key = keyCache.get(encoded)
  if (!key) {
    key = base64UrlDecode(encoded) ?? undefined
    if (!key || key.length !== 32) return null
    keyCache.set(encoded, key)
  }
  return key
}

function refused(reason: string, name = '', ticketId: number | null = null): Answer {
  return { result: 'refused', reason, name, ticketId, previous: null }
}

// The browser's own Ed25519 (WebCrypto; Chromium 137+, Firefox 129+, Safari 17+) is several
// times faster than JavaScript; @noble/ed25519 covers browsers without it.
const nativeKeys = new Map<Uint8Array, Promise<CryptoKey | null>>()

function nativeKey(raw: Uint8Array): Promise<CryptoKey | null> {
  let key = nativeKeys.get(raw)
  if (!key) {
    key = globalThis.crypto?.subtle
      ? crypto.subtle.importKey('raw', raw as BufferSource, { name: 'Ed25519' }, false, ['verify']).catch(() => null)
      : Promise.resolve(null)
    nativeKeys.set(raw, key)
  }
  return key
}

export async function verifySignature(raw: Uint8Array, signature: Uint8Array, payload: Uint8Array): Promise<boolean> {
  try {
    const key = await nativeKey(raw)
    if (key) return await crypto.subtle.verify({ name: 'Ed25519' }, key, signature as BufferSource, payload as BufferSource)
    return await verifyAsync(signature, payload, raw)
  } catch {
    return false
  }
}

export async function verifyCode(code: string, bundle: Bundle): Promise<TicketCode | Answer> {
  const parsed = parseCode(code)
  if (!parsed) return refused('malformed')
  const key = publicKey(bundle, parsed.kid)
  if (!key) return refused(parsed.eventId !== bundle.event.id ? 'wrong_event' : 'forged')
  const genuine = await verifySignature(key, parsed.signature, parsed.payload)
  if (!genuine) return refused('forged')
  if (parsed.eventId !== bundle.event.id) return refused('wrong_event')
  return parsed
}

export interface DecideOptions {
  list: CheckinListRules
  direction: 'entry' | 'exit'
  now: Date
  deviceName: string
}

/** The offline verdict for one code: signature, revocation, validity, list rules, state. */
export async function decideOffline(
  code: string,
  bundle: Bundle,
  state: LocalState,
  tickets: Map<number, BundleTicket>,
  revoked: Set<number>,
  options: DecideOptions,
): Promise<Answer> {
  const verified = await verifyCode(code, bundle)
  if ('result' in verified) return verified
  const ticket = tickets.get(verified.ticketId)
  return decideForTicket(verified.ticketId, verified.serial, [verified.validFrom, verified.validUntil], ticket, state, revoked, options)
}

export function decideForTicket(
  ticketId: number,
  serial: number | null,
  window: [number, number],
  ticket: BundleTicket | undefined,
  state: LocalState,
  revoked: Set<number>,
  { list, direction, now, deviceName }: DecideOptions,
): Answer {
  const name = ticket?.[2] ?? ''
  if (revoked.has(ticketId)) return refused('revoked', name, ticketId)
  if (ticket && serial !== null && ticket[1] !== serial) return refused('ticket_reissued', name, ticketId)
  const seconds = now.getTime() / 1000
  if (window[0] && seconds < window[0]) return refused('not_yet_valid', name, ticketId)
  if (window[1] && seconds > window[1]) return refused('expired', name, ticketId)
  // A genuine code for a ticket issued after the bundle was fetched: we signed it, so it is
  // ours; its attendance is unknown, so only lists that admit everyone take it.
  const onsite = ticket ? ticket[4] === 1 : null
  if (list.attendance !== 'any' && (onsite === null || onsite !== (list.attendance === 'onsite')))
    return refused('wrong_attendance', name, ticketId)
  if (list.opens_at && now < new Date(list.opens_at)) return refused('list_not_open', name, ticketId)
  if (list.closes_at && now > new Date(list.closes_at)) return refused('list_closed', name, ticketId)
  const last = state.get(list.id, ticketId)
  const here: PreviousScan = { scanned_at: now.toISOString(), list: list.name, device: deviceName, direction, offline: true }
  if (direction === 'exit') {
    if (!list.allow_exit) return refused('exit_not_allowed', name, ticketId)
    state.record(list.id, ticketId, 'exit', here)
    return { result: 'admitted', reason: '', name, ticketId, previous: null }
  }
  if (last?.direction === 'entry') return { result: 'already_in', reason: 'already_in', name, ticketId, previous: last.previous }
  if (last?.direction === 'exit' && !list.allow_reentry) return refused('no_reentry', name, ticketId)
  state.record(list.id, ticketId, 'entry', here)
  return { result: 'admitted', reason: '', name, ticketId, previous: null }
}

/** Offline search over the bundle: name or e-mail contains the query, case-insensitively. */
export function searchBundle(tickets: Iterable<BundleTicket>, query: string, limit = 20): BundleTicket[] {
  const needle = query.trim().toLocaleLowerCase()
  if (needle.length < 2) return []
  const found: BundleTicket[] = []
  for (const ticket of tickets) {
    if (ticket[2].toLocaleLowerCase().includes(needle) || ticket[3].toLocaleLowerCase().includes(needle)) {
      found.push(ticket)
      if (found.length >= limit) break
    }
  }
  return found
}

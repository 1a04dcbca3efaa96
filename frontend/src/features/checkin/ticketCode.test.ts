import { describe, expect, it } from 'vitest'
import vectors from './testVectors.json'
import { decideOffline, LocalState, parseCode, searchBundle, type Bundle, type BundleTicket, type CheckinListRules } from './ticketCode'

// Vectors written by `manage.py checkin_test_vectors` with the server's own layout; the server
// side checks the same file (tests/checkin/test_vectors.py).
const entrance: CheckinListRules = {
  id: 1, name: 'Main entrance', room_id: null, attendance: 'onsite', opens_at: null, closes_at: null,
  allow_reentry: true, allow_exit: true,
}
const tickets: BundleTicket[] = [
  [1001, 1, 'Gerda Gast', 'gerda@example.org', 1],
  [1002, 1, 'Otto Online', 'otto@example.org', 0],
  [1004, 2, 'Rita Reissued', 'rita@example.org', 1],
]
const bundle: Bundle = {
  version: 1, generated_at: '2026-11-23T10:00:00Z', event: vectors.event, keys: vectors.keys,
  lists: [entrance, { ...entrance, id: 2, name: 'Everyone', attendance: 'any' }], tickets, revoked: [1003], inside: {},
}

function setup() {
  const state = new LocalState(bundle)
  const byId = new Map(tickets.map((t) => [t[0], t]))
  const revoked = new Set(bundle.revoked)
  const decide = (code: string, list = entrance, direction: 'entry' | 'exit' = 'entry') =>
    decideOffline(code, bundle, state, byId, revoked, { list, direction, now: new Date(), deviceName: 'Desk 2' })
  return { decide, state }
}

describe('offline ticket check', () => {
  it('parses the server layout', () => {
    const parsed = parseCode(vectors.codes.good)!
    expect([parsed.kid, parsed.eventId, parsed.ticketId, parsed.serial]).toEqual([7, 42, 1001, 1])
  })

  it('admits a genuine code once, then says already in with where and when', async () => {
    const { decide } = setup()
    const first = await decide(vectors.codes.good)
    expect(first).toMatchObject({ result: 'admitted', name: 'Gerda Gast', ticketId: 1001 })
    const second = await decide(vectors.codes.good)
    expect(second.result).toBe('already_in')
    expect(second.previous).toMatchObject({ list: 'Main entrance', device: 'Desk 2', offline: true })
    expect((await decide(vectors.codes.good, entrance, 'exit')).result).toBe('admitted')
    expect((await decide(vectors.codes.good)).result).toBe('admitted')
  })

  it.each([
    ['changed_byte', 'forged'],
    ['forged_with_other_key', 'forged'],
    ['other_event', 'wrong_event'],
    ['other_event_same_kid', 'forged'],
    ['revoked', 'revoked'],
    ['reissued_old', 'ticket_reissued'],
    ['not_yet_valid', 'not_yet_valid'],
    ['expired', 'expired'],
  ] as const)('refuses %s as %s', async (name, reason) => {
    const { decide } = setup()
    const answer = await decide(vectors.codes[name], bundle.lists[1])
    expect(answer).toMatchObject({ result: 'refused', reason })
  })

  it('refuses garbage and wrong attendance without throwing', async () => {
    const { decide } = setup()
    for (const garbage of ['', 'hello', '!!!', 'A'.repeat(116), 'x'.repeat(5000)])
      expect((await decide(garbage)).reason).toBe('malformed')
    expect((await decide(vectors.codes.second)).reason).toBe('wrong_attendance')
  })

  it('knows who was inside when the bundle was made', async () => {
    const state = new LocalState({ ...bundle, inside: { '1': [1001] } })
    const answer = await decideOffline(vectors.codes.good, bundle, state, new Map(tickets.map((t) => [t[0], t])),
      new Set(), { list: entrance, direction: 'entry', now: new Date(), deviceName: 'Desk 2' })
    expect(answer.result).toBe('already_in')
  })

  it('searches names and e-mails', () => {
    expect(searchBundle(tickets, 'GERDA').map((t) => t[0])).toEqual([1001])
    expect(searchBundle(tickets, 'example.org').length).toBe(3)
    expect(searchBundle(tickets, 'g')).toEqual([])
  })
})

describe('both signature paths', () => {
  it('the JavaScript fallback and WebCrypto agree', async () => {
    const { verifyAsync } = await import('@noble/ed25519')
    const { verifySignature, base64UrlDecode } = await import('./ticketCode')
    const key = base64UrlDecode(vectors.keys['7'])!
    for (const [name, code] of Object.entries(vectors.codes)) {
      const parsed = parseCode(code)!
      const fallback = await verifyAsync(parsed.signature, parsed.payload, key)
      expect(await verifySignature(key, parsed.signature, parsed.payload), name).toBe(fallback)
      expect(fallback, name).toBe(['good', 'second', 'revoked', 'reissued_old', 'not_yet_valid', 'expired'].includes(name))
    }
  })
})

import { describe, expect, it } from 'vitest'
import { formatSeconds, remaining } from './store'

describe('round countdown', () => {
  it('counts down to the absolute end on the server clock', () => {
    const end = '2026-11-23T12:00:00Z'
    const local = Date.parse('2026-11-23T11:58:00Z')
    expect(remaining(end, local, 0)).toBe(120)
    // The local clock is 30 s behind the server: 30 s less remain.
    expect(remaining(end, local, 30_000)).toBe(90)
    expect(remaining(end, local + 10 * 60_000, 0)).toBe(0)
    expect(remaining(null, local, 0)).toBeNull()
  })
  it('formats minutes and seconds', () => {
    expect(formatSeconds(245)).toBe('4:05')
    expect(formatSeconds(0)).toBe('0:00')
  })
})

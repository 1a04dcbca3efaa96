import { describe, expect, it } from 'vitest'
import { linkify } from './linkify'

describe('linkify', () => {
  it('makes http(s) links and keeps the rest as text', () => {
    expect(linkify('Folien: https://example.org/a?b=1. Danke')).toEqual([
      { kind: 'text', text: 'Folien: ' },
      { kind: 'link', text: 'https://example.org/a?b=1', href: 'https://example.org/a?b=1' },
      { kind: 'text', text: '. Danke' },
    ])
  })

  it('never links javascript: or markup', () => {
    const parts = linkify('<a href="javascript:alert(1)">x</a> javascript:alert(1)')
    expect(parts.every((p) => p.kind === 'text')).toBe(true)
    expect(parts.map((p) => p.text).join('')).toBe('<a href="javascript:alert(1)">x</a> javascript:alert(1)')
  })
})

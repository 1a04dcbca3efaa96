import { describe, expect, it } from 'vitest'
import de from './de.json'
import en from './en.json'
import { detectLocale } from './index'
import { featureMessages } from '../features/messages'

function keyPaths(messages: unknown, prefix = ''): string[] {
  if (typeof messages !== 'object' || messages === null) return [prefix]
  return Object.entries(messages).flatMap(([key, value]) => keyPaths(value, prefix ? `${prefix}.${key}` : key))
}

describe('translations', () => {
  it('have the same keys in German and English', () => {
    expect(keyPaths(de).sort()).toEqual(keyPaths(en).sort())
  })

  it('have the same keys in German and English in every feature', () => {
    const features = featureMessages()
    expect(Object.keys(features.de).sort()).toEqual(Object.keys(features.en).sort())
    for (const name of Object.keys(features.de)) {
      expect(keyPaths(features.de[name]).sort(), name).toEqual(keyPaths(features.en[name]).sort())
    }
  })

  it('have no empty messages', () => {
    const empty = (messages: unknown) =>
      keyPaths(messages).filter((path) => {
        const value = path.split('.').reduce<unknown>((node, key) => (node as Record<string, unknown>)[key], messages)
        return typeof value !== 'string' || value.trim() === ''
      })
    expect(empty(de)).toEqual([])
    expect(empty(en)).toEqual([])
  })
})

describe('detectLocale', () => {
  it('prefers the saved choice', () => {
    expect(detectLocale('de', ['en-US'])).toBe('de')
  })

  it('takes the first browser language it supports', () => {
    expect(detectLocale(null, ['fr-FR', 'de-AT', 'en'])).toBe('de')
  })

  it('falls back to English', () => {
    expect(detectLocale('xx', ['fr', 'it'])).toBe('en')
  })
})

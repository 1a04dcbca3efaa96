import { describe, expect, it } from 'vitest'
import { StreamStore } from './streams'

describe('StreamStore', () => {
  it('forgets a stream it cannot fold a delta into, so the next hello asks for it in full', () => {
    const store = new StreamStore()
    store.apply('chat', { mode: 'full', cursor: 1, data: ['a'] })
    store.apply('chat', { mode: 'delta', cursor: 2, data: ['b'] })
    expect(store.get('chat')).toBeUndefined()
    expect(store.cursors()).toEqual({})
  })

  it('ignores a delta it has already applied', () => {
    const store = new StreamStore()
    store.registerReducer('chat', (state, delta) => [...(state as string[]), ...(delta as string[])])
    store.apply('chat', { mode: 'full', cursor: 1, data: ['a'] })
    store.apply('chat', { mode: 'delta', cursor: 2, data: ['b'] })
    store.apply('chat', { mode: 'delta', cursor: 2, data: ['b'] })
    expect(store.get('chat')).toEqual({ cursor: 2, state: ['a', 'b'] })
  })

  it('tells listeners about changes', () => {
    const store = new StreamStore()
    const seen: string[] = []
    store.onChange((name, entry) => seen.push(`${name}:${entry?.cursor ?? 'gone'}`))
    store.apply('agenda', { mode: 'full', cursor: 3, data: {} })
    store.apply('agenda', { mode: 'unchanged', cursor: 3 })
    store.forget('agenda')
    expect(seen).toEqual(['agenda:3', 'agenda:gone'])
  })
})

import { describe, expect, it } from 'vitest'
import { defineComponent } from 'vue'
import { panelsFor, setupFeatures, type Feature } from './registry'

const Dummy = defineComponent({ render: () => null })

const chat: Feature = {
  name: 'chat',
  panels: [
    { id: 'chat.qa', view: 'stage', area: 'side', order: 2, component: Dummy },
    { id: 'chat.chat', view: 'stage', area: 'side', order: 1, component: Dummy },
    { id: 'chat.queue', view: 'moderator', area: 'main', component: Dummy },
  ],
}
const stage: Feature = { name: 'stage', panels: [{ id: 'stage.player', view: 'stage', area: 'main', component: Dummy }] }

describe('feature registry', () => {
  it('collects the panels of a view and area, in order', () => {
    expect(panelsFor('stage', 'side', [chat, stage]).map((p) => p.id)).toEqual(['chat.chat', 'chat.qa'])
    expect(panelsFor('stage', 'main', [chat, stage]).map((p) => p.id)).toEqual(['stage.player'])
    expect(panelsFor('screen', 'main', [chat, stage])).toEqual([])
  })

  it('sets every feature up with the client', () => {
    const seen: string[] = []
    const client = {} as never
    setupFeatures(client, [
      { name: 'a', setup: (c) => seen.push(c === client ? 'a' : 'wrong') },
      { name: 'b' },
      { name: 'c', setup: () => seen.push('c') },
    ])
    expect(seen).toEqual(['a', 'c'])
  })
})

import { describe, expect, it } from 'vitest'
import { applyStage, displayFor, stages, type Stage } from './stageState'

const base: Stage = {
  room_id: 1,
  room_name: 'Stage',
  version: 1,
  kind: 'relay',
  url: '',
  fallback_url: '',
  session: { id: 5, title: 'Keynote', start: '2026-11-23T13:00:00Z', end: '2026-11-23T13:45:00Z' },
  next: { id: 6, title: 'Wrap-up', start: '2026-11-23T14:00:00Z', end: '2026-11-23T14:45:00Z' },
  live: true,
}

describe('stage display', () => {
  it('plays the relay while someone is live', () => {
    expect(displayFor(base)).toEqual({ mode: 'whep', url: '/api/streams/1/whep', fallback: '' })
  })
  it('shows the slate between sessions with what comes next', () => {
    expect(displayFor({ ...base, kind: 'slate', session: null })).toEqual({ mode: 'slate', next: base.next, waiting: null })
  })
  it('shows a waiting slate when the session is on but nothing is live and there is no fallback', () => {
    expect(displayFor({ ...base, live: false })).toEqual({ mode: 'slate', next: base.next, waiting: base.session })
  })
  it('falls back to HLS when the relay is full or nobody is live', () => {
    const withFallback = { ...base, fallback_url: 'https://cdn.example.org/s.m3u8' }
    expect(displayFor(withFallback, true)).toEqual({ mode: 'hls', url: 'https://cdn.example.org/s.m3u8' })
    expect(displayFor({ ...withFallback, live: false })).toEqual({ mode: 'hls', url: 'https://cdn.example.org/s.m3u8' })
  })
  it('uses external sources as they are', () => {
    expect(displayFor({ ...base, kind: 'youtube', url: 'https://www.youtube-nocookie.com/embed/x' }).mode).toBe('embed')
    expect(displayFor({ ...base, kind: 'hls', url: 'https://x/a.m3u8' })).toEqual({ mode: 'hls', url: 'https://x/a.m3u8' })
  })
  it('replaces a stage on push', () => {
    stages.value = [base]
    applyStage({ ...base, version: 2, kind: 'slate', session: null })
    expect(stages.value).toHaveLength(1)
    expect(stages.value[0]?.version).toBe(2)
  })
})

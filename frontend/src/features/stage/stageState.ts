import { shallowRef } from 'vue'
import type { RealtimeClient } from '../../realtime/client'

export interface SessionRef {
  id: number
  title: string
  start: string
  end: string
}

/** A stage as the server describes it (streams/selectors.py stage_view). */
export interface Stage {
  room_id: number
  room_name: string
  version: number
  kind: 'slate' | 'relay' | 'hls' | 'youtube' | 'vimeo' | 'whep'
  url: string
  fallback_url: string
  session: SessionRef | null
  next: SessionRef | null
  live: boolean
}

/** What the player shows for a stage right now. */
export type Display =
  | { mode: 'slate'; next: SessionRef | null; waiting: SessionRef | null }
  | { mode: 'whep'; url: string; fallback: string }
  | { mode: 'hls'; url: string }
  | { mode: 'embed'; url: string }

/**
 * The one rule of the player: between sessions the slate; a relay stage plays WHEP while
 * someone is live, otherwise its fallback (HLS) or the slate; external sources as they are.
 * `relayFailed`: the relay refused or dropped us (full, gone) — use the fallback if there is one.
 */
export function displayFor(stage: Stage, relayFailed = false): Display {
  if (stage.kind === 'slate' || !stage.session) return { mode: 'slate', next: stage.next, waiting: null }
  if (stage.kind === 'hls') return { mode: 'hls', url: stage.url }
  if (stage.kind === 'youtube' || stage.kind === 'vimeo') return { mode: 'embed', url: stage.url }
  if (stage.kind === 'whep') return { mode: 'whep', url: stage.url, fallback: stage.fallback_url }
  const relay = `/api/streams/${stage.room_id}/whep`
  if (stage.live && !relayFailed) return { mode: 'whep', url: relay, fallback: stage.fallback_url }
  if (stage.fallback_url) return { mode: 'hls', url: stage.fallback_url }
  // A session is on but nobody is live yet (or the broadcast ended): say so, not "break".
  return { mode: 'slate', next: stage.next, waiting: stage.session }
}

export const stages = shallowRef<Stage[]>([])
export const viewers = shallowRef<Record<number, number>>({})

export function applyStage(stage: Stage): void {
  const others = stages.value.filter((s) => s.room_id !== stage.room_id)
  stages.value = [...others, stage].sort((a, b) => a.room_id - b.room_id)
}

export async function loadStages(client: RealtimeClient): Promise<void> {
  const reply = await client.request<{ stages: Stage[] }>('stage.state')
  stages.value = reply.stages
}

export function setupStage(client: RealtimeClient): void {
  client.on<Stage>('stage.source', applyStage)
  client.on<{ room_id: number; viewers: number }>('stage.viewers', (data) => {
    viewers.value = { ...viewers.value, [data.room_id]: data.viewers }
  })
  client.onSnapshot(() => {
    loadStages(client).catch(() => undefined)
  })
}

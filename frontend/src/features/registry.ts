import type { Component } from 'vue'
import type { EventView } from '../event/eventViews'
import type { RealtimeClient } from '../realtime/client'

/**
 * Features (chat, rooms, stage, check-in, barcamp, …) plug into the app here, the way the
 * server's apps register with the gateway: each lives in `src/features/<name>/` with
 *   - `index.ts` exporting a default `Feature` (panels, stream followers),
 *   - `de.json` and `en.json` with its translations (merged into the app's catalogue under
 *     the feature's name: `t('<name>.some.key')`).
 * The app finds them by file name; nothing else needs editing to add one.
 */
export interface Panel {
  /** Unique across features, e.g. "chat.stage-chat". */
  id: string
  /** The view it appears in; "home" is the event overview. */
  view: EventView | 'home'
  /** "main": the wide column (stage, video grid, console); "side": beside it. */
  area: 'main' | 'side'
  /** Lower comes first within an area. */
  order?: number
  component: Component
}

export interface Feature {
  name: string
  panels?: Panel[]
  /** Called once per connection, before it connects: follow streams, register reducers. */
  setup?: (client: RealtimeClient) => void
}

const modules = import.meta.glob<{ default: Feature }>('./*/index.ts', { eager: true })

export const features: Feature[] = Object.values(modules).map((module) => module.default)

export function panelsFor(view: EventView | 'home', area: Panel['area'], all: Feature[] = features): Panel[] {
  return all
    .flatMap((feature) => feature.panels ?? [])
    .filter((panel) => panel.view === view && panel.area === area)
    .sort((a, b) => (a.order ?? 0) - (b.order ?? 0) || a.id.localeCompare(b.id))
}

export function setupFeatures(client: RealtimeClient, all: Feature[] = features): void {
  for (const feature of all) feature.setup?.(client)
}

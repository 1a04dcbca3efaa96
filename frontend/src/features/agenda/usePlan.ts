import { onBeforeUnmount, shallowRef, type ShallowRef } from 'vue'
import type { RealtimeClient } from '../../realtime/client'
import type { TransitionInfo } from './plan'

/**
 * The "transitions" stream (snapshot on hello, then `agenda.plan` pushes) as a reactive list.
 * Each `agenda.transition` push is folded in at once: plan pushes after transitions are
 * coalesced on the server, the transition itself is not.
 */
export function usePlan(client: RealtimeClient): ShallowRef<TransitionInfo[]> {
  const read = () => (client.streams.get('transitions')?.state as TransitionInfo[] | undefined) ?? []
  const plan = shallowRef<TransitionInfo[]>(read())
  const stops = [
    client.streams.onChange((name) => {
      if (name === 'transitions') plan.value = read()
    }),
    client.on<TransitionInfo>('agenda.transition', (changed) => {
      plan.value = foldTransition(plan.value, changed)
    }),
  ]
  onBeforeUnmount(() => stops.forEach((stop) => stop()))
  return plan
}

export function foldTransition(plan: TransitionInfo[], changed: TransitionInfo): TransitionInfo[] {
  return plan.some((t) => t.id === changed.id) ? plan.map((t) => (t.id === changed.id ? changed : t)) : [...plan, changed]
}

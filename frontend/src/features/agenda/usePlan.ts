import { onBeforeUnmount, shallowRef, type ShallowRef } from 'vue'
import type { RealtimeClient } from '../../realtime/client'
import type { TransitionInfo } from './plan'

/** The "transitions" stream (snapshot on hello, then `agenda.plan` pushes) as a reactive list. */
export function usePlan(client: RealtimeClient): ShallowRef<TransitionInfo[]> {
  const read = () => (client.streams.get('transitions')?.state as TransitionInfo[] | undefined) ?? []
  const plan = shallowRef<TransitionInfo[]>(read())
  const stop = client.streams.onChange((name) => {
    if (name === 'transitions') plan.value = read()
  })
  onBeforeUnmount(stop)
  return plan
}

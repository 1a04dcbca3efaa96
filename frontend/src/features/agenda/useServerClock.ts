import { onBeforeUnmount, onMounted, ref, type Ref } from 'vue'
import type { RealtimeClient } from '../../realtime/client'

/** "Now" on the server's clock, ticking every second while the component is mounted. */
export function useServerClock(client: RealtimeClient, intervalMs = 1000): Ref<number> {
  const now = ref(Date.now() + client.serverClockOffsetMs)
  let timer: ReturnType<typeof setInterval> | null = null
  onMounted(() => {
    timer = setInterval(() => {
      now.value = Date.now() + client.serverClockOffsetMs
    }, intervalMs)
  })
  onBeforeUnmount(() => {
    if (timer) clearInterval(timer)
  })
  return now
}

import { computed, ref } from 'vue'
import { useI18n } from 'vue-i18n'
import { useEventConnection } from '../../realtime/eventConnection'
import { RealtimeError } from '../../realtime/errors'
import { chatState, useCurrentSession } from './store'

/** What every chat panel needs: the connection, the chat state, the current Q&A session, errors. */
export function useChat() {
  const connection = useEventConnection()
  const state = chatState(connection.client)
  const { t, te } = useI18n()
  const error = ref('')
  const sessionId = useCurrentSession(state, () => connection.agenda.value?.sessions ?? [])
  const stageChannel = computed(() => state.channels.find((c) => c.kind === 'stage') ?? null)
  const myId = computed(() => connection.me.value?.participant_id ?? null)

  function explain(failure: unknown): string {
    if (failure instanceof RealtimeError) {
      const key = `chat.errors.${failure.code}`
      const text = te(key) ? t(key) : failure.message
      return failure.retryAfter ? `${text} (${t('chat.errors.retryAfter', { s: Math.ceil(failure.retryAfter) })})` : text
    }
    return t('chat.errors.internal')
  }

  /** Runs a command; a refusal becomes the panel's error message (aria-live). */
  async function run<T>(type: string, data: unknown): Promise<T | null> {
    error.value = ''
    try {
      return await connection.client.request<T>(type, data)
    } catch (failure) {
      error.value = explain(failure)
      return null
    }
  }

  return { connection, state, t, error, run, sessionId, stageChannel, myId }
}

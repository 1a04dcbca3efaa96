import { useI18n } from 'vue-i18n'
import { useEventConnection } from '../../realtime/eventConnection'
import { barcampStore } from './store'

const KNOWN_ERRORS = new Set([
  'forbidden', 'invalid', 'invalid_title', 'invalid_length', 'invalid_mode', 'invalid_format', 'invalid_needs',
  'unknown_participant', 'unknown_proposal', 'grid_fixed', 'voting_closed', 'invalid_choice', 'invalid_hands',
  'grid_conflict', 'grid_conflicts', 'slot_blocked', 'unknown_cell', 'rate_limited', 'connection_lost',
])

/** The connection, this connection's barcamp store, and a translated message per error code. */
export function useBarcamp() {
  const connection = useEventConnection()
  const { t } = useI18n()
  const store = barcampStore(connection.client)
  function errorText(error: unknown): string {
    const code = (error as { code?: string } | null)?.code ?? ''
    return KNOWN_ERRORS.has(code) ? t(`barcamp.errors.${code}`) : t('barcamp.errors.other')
  }
  return { ...connection, store, errorText }
}

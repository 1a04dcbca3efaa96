// @vitest-environment happy-dom
import { afterEach, describe, expect, it } from 'vitest'
import { createApp, nextTick, ref, h, type App } from 'vue'
import ConnectionIndicator from './ConnectionIndicator.vue'
import { i18n, setLocale } from '../i18n'
import type { ConnectionState } from '../realtime/client'

let app: App | null = null

function mountIndicator(state: ConnectionState) {
  const current = ref<ConnectionState>(state)
  const host = document.createElement('div')
  document.body.append(host)
  app = createApp({ render: () => h(ConnectionIndicator, { state: current.value }) })
  app.use(i18n).mount(host)
  const indicator = () => host.querySelector('[data-testid="connection-state"]')!
  return { current, indicator, host }
}

afterEach(() => {
  app?.unmount()
  app = null
  document.body.innerHTML = ''
  setLocale('en')
})

describe('ConnectionIndicator', () => {
  it('shows exactly the state word and the state attribute', async () => {
    setLocale('en')
    const { current, indicator } = mountIndicator('connecting')
    expect(indicator().textContent).toBe('connecting…')
    expect(indicator().getAttribute('data-state')).toBe('connecting')

    current.value = 'connected'
    await nextTick()
    expect(indicator().textContent).toBe('connected')
    expect(indicator().getAttribute('data-state')).toBe('connected')
  })

  it('speaks German and sits in a polite live region', async () => {
    setLocale('de')
    const { current, indicator, host } = mountIndicator('reconnecting')
    expect(indicator().textContent).toBe('verbinde neu…')
    current.value = 'closed'
    await nextTick()
    expect(indicator().textContent).toBe('getrennt')
    expect(host.querySelector('[aria-live="polite"]')?.contains(indicator())).toBe(true)
    expect(document.documentElement.lang).toBe('de')
  })
})

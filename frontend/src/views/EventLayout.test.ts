// @vitest-environment happy-dom
// The whole app on a fake socket: routes, the shared connection, and the test ids the
// end-to-end tests rely on.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createApp, nextTick, type App as VueApp } from 'vue'
import App from '../App.vue'
import { i18n, setLocale } from '../i18n'
import { createAppRouter } from '../router'
import { eventViews } from '../event/eventViews'
import { panelsFor } from '../features/registry'
import { FakeSocket, settle, snapshot } from '../testing/fakeSocket'

let app: VueApp | null = null
let host: HTMLElement

async function openApp(path: string) {
  const router = createAppRouter()
  await router.push(path)
  host = document.createElement('div')
  document.body.append(host)
  app = createApp(App).use(i18n).use(router)
  app.mount(host)
  await router.isReady()
  await nextTick()
  return router
}

async function render(): Promise<void> {
  await settle()
  await nextTick()
}

function byTestId(id: string): HTMLElement | null {
  return host.querySelector(`[data-testid="${id}"]`)
}

const agendaSnapshot = snapshot({
  me: { participant_id: 5, name: 'Alex', roles: ['attendee', 'moderator'], attendance: 'online' },
  streams: {
    agenda: {
      mode: 'full',
      cursor: 3,
      data: {
        rooms: [{ id: 1, name: 'Main stage', kind: 'stage', capacity: null }],
        sessions: [
          {
            id: 10,
            title: 'Opening',
            abstract: '',
            kind: 'talk',
            start: '2026-11-23T09:00:00Z',
            end: '2026-11-23T09:30:00Z',
            room_id: 1,
            speakers: [{ id: 2, name: 'Kim' }],
          },
          {
            id: 11,
            title: 'Day two',
            abstract: '',
            kind: 'barcamp',
            start: '2026-11-24T09:00:00Z',
            end: '2026-11-24T10:00:00Z',
            room_id: null,
            speakers: [],
          },
        ],
      },
    },
  },
  presence: {
    count: 2,
    participants: [
      { id: 5, name: 'Alex', roles: ['attendee'], attendance: 'online', room_id: null },
      { id: 6, name: 'Bo', roles: ['speaker'], attendance: 'onsite', room_id: null },
    ],
    truncated: false,
  },
})

beforeEach(() => {
  FakeSocket.reset()
  vi.stubGlobal('WebSocket', FakeSocket)
  setLocale('en')
})

afterEach(() => {
  app?.unmount()
  app = null
  document.body.innerHTML = ''
  vi.unstubAllGlobals()
})

describe('event home', () => {
  it('connects to the event socket and shows agenda, presence and the connection state', async () => {
    await openApp('/e/digital-day/')
    const socket = FakeSocket.latest()
    expect(socket.url).toMatch(/^ws:\/\/[^/]+\/ws\/events\/digital-day\/$/)
    expect(byTestId('connection-state')?.textContent).toBe('connecting…')

    socket.accept()
    socket.reply(socket.lastSent('hello').id, agendaSnapshot)
    await render()

    expect(byTestId('connection-state')?.dataset.state).toBe('connected')
    expect(host.querySelector('h1')?.textContent).toBe('Digital Day')
    expect(byTestId('agenda')?.querySelectorAll('[data-testid="agenda-session"]')).toHaveLength(2)
    expect(byTestId('agenda')?.textContent).toContain('Main stage')
    expect(byTestId('agenda')?.textContent).toContain('With Kim')
    expect(byTestId('presence-count')?.textContent).toBe('2')
    expect(byTestId('presence-list')?.textContent).toContain('Bo')
    // attendee + moderator: stage, moderator and screen, not speaker or staff
    const links = [...host.querySelectorAll('.view-links a')].map((a) => a.getAttribute('href'))
    expect(links).toEqual(['/e/digital-day/stage', '/e/digital-day/moderator', '/e/digital-day/screen'])

    socket.push('presence.update', { count: 7, participants: [], truncated: true })
    socket.push('agenda.update', { cursor: 4, data: { rooms: [], sessions: [] } })
    await render()
    expect(byTestId('presence-count')?.textContent).toBe('7')
    expect(byTestId('agenda')?.querySelectorAll('[data-testid="agenda-session"]')).toHaveLength(0)
  })

  it('tells the user to open the ticket link again after 4401', async () => {
    await openApp('/e/digital-day/')
    const socket = FakeSocket.latest()
    socket.accept()
    socket.deliver({ type: 'error', error: { code: 'not_authenticated', message: 'Log in first.' } })
    socket.drop(4401)
    await render()

    expect(byTestId('connection-state')?.textContent).toBe('offline')
    expect(host.querySelector('[role="alert"]')?.textContent).toContain('Open the link from your ticket again')
  })
})

describe('language switch', () => {
  it('switches the UI language, remembers it and updates <html lang>', async () => {
    await openApp('/e/digital-day/')
    const socket = FakeSocket.latest()
    socket.accept()
    socket.reply(socket.lastSent('hello').id, agendaSnapshot)
    await render()

    const select = host.querySelector('select')!
    expect(host.querySelector(`label[for="${select.id}"]`)?.textContent).toBe('Language')
    select.value = 'de'
    select.dispatchEvent(new Event('change'))
    await render()

    expect(byTestId('connection-state')?.textContent).toBe('verbunden')
    expect(host.querySelector('#agenda-heading')?.textContent).toBe('Programm')
    expect(document.documentElement.lang).toBe('de')
    expect(localStorage.getItem('eventplatform.locale')).toBe('de')
  })
})

describe('reserved views', () => {
  it('show the event title, the indicator and a way back', async () => {
    // Features fill views one by one; test with the views none of them fills yet.
    const reserved = eventViews.filter((view) => !panelsFor(view, 'main').length && !panelsFor(view, 'side').length)
    if (reserved.length === 0) return
    const router = await openApp(`/e/digital-day/${reserved[0]}`)
    const socket = FakeSocket.latest()
    socket.accept()
    socket.reply(socket.lastSent('hello').id, agendaSnapshot)
    await render()

    expect(host.querySelector('h1')?.textContent).toBe(i18n.global.t(`views.${reserved[0]}.title`))
    expect(host.querySelector('.eyebrow')?.textContent).toBe('Digital Day')
    expect(byTestId('connection-state')?.dataset.state).toBe('connected')
    const back = [...host.querySelectorAll('main a')].find((a) => a.textContent === 'Back to the event overview')
    expect(back?.getAttribute('href')).toBe('/e/digital-day/')

    // Moving between views of the same event keeps the one socket.
    await router.push('/e/digital-day/')
    await render()
    if (reserved[1]) {
      await router.push(`/e/digital-day/${reserved[1]}`)
      await render()
      expect(host.querySelector('h1')?.textContent).toBe(i18n.global.t(`views.${reserved[1]}.title`))
    }
    expect(FakeSocket.instances).toHaveLength(1)
  })
})

// @vitest-environment happy-dom
// The room chat beside the video grid, on a fake socket: found by the room, history, live
// messages of this room only, sending with the keyboard, following a move, German.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createApp, defineComponent, h, nextTick, ref, type App } from 'vue'
import { i18n, setLocale } from '../../i18n'
import { createEventConnection, provideEventConnection, type EventConnection } from '../../realtime/eventConnection'
import { FakeSocket, settle, snapshot } from '../../testing/fakeSocket'
import RoomChat from './RoomChat.vue'

let app: App | null = null
let connection: EventConnection | null = null
let host: HTMLElement

function message(id: number, channel: number, text: string, author = 'Bo') {
  return { id, seq: id, channel_id: channel, author: { id: 6, name: author, roles: [] }, text,
    reply_to: null, mentions: [], created: '2026-11-23T10:00:00Z', edited_at: null, deleted: false }
}

async function render() {
  await settle()
  await nextTick()
}

async function mountChat(roomId: number | null) {
  const room = ref<number | null>(roomId)
  connection = createEventConnection('digital-day')
  const socket = FakeSocket.latest()
  socket.accept()
  socket.reply(socket.lastSent('hello').id, snapshot())
  await settle()
  const shared = connection
  const Wrapper = defineComponent({
    setup() {
      provideEventConnection(shared)
      return () => h(RoomChat, { roomId: room.value })
    },
  })
  host = document.createElement('div')
  document.body.append(host)
  app = createApp(Wrapper).use(i18n)
  app.mount(host)
  await render()
  return { room, socket }
}

const q = (selector: string) => host.querySelector(selector)

beforeEach(() => {
  FakeSocket.reset()
  vi.stubGlobal('WebSocket', FakeSocket)
  setLocale('en')
})

afterEach(() => {
  app?.unmount()
  app = null
  connection?.dispose()
  connection = null
  document.body.innerHTML = ''
  vi.unstubAllGlobals()
})

describe('room chat', () => {
  it('finds the chat by the room, shows its history and only this room’s new messages', async () => {
    const { socket } = await mountChat(31)
    const watch = socket.lastSent('chat.watch_room')
    expect(watch.data).toEqual({ room_id: 31 })
    socket.reply(watch.id, { channel: { id: 77, kind: 'breakout', room_id: 31, name: 'Room A', slow_mode_seconds: 0 } })
    await render()
    const history = socket.lastSent('chat.history')
    expect(history.data).toEqual({ channel_id: 77 })
    socket.reply(history.id, { channel_id: 77, messages: [message(1, 77, 'Hallo zusammen')] })
    await render()

    const log = q('[data-testid="room-chat-messages"]')!
    expect(log.getAttribute('role')).toBe('log')
    expect(log.textContent).toContain('Hallo zusammen')
    socket.push('chat.message', message(2, 77, 'Wer teilt den Bildschirm?'))
    socket.push('chat.message', message(3, 12, 'stage chatter'))
    await render()
    expect(log.querySelectorAll('li')).toHaveLength(2)
    expect(log.textContent).toContain('Wer teilt den Bildschirm?')
    expect(log.textContent).not.toContain('stage chatter')
    // The heading names the region for screen readers; the field has a label.
    expect(q('[data-testid="room-chat"]')!.getAttribute('aria-labelledby')).toBe('room-chat-heading')
    expect(q('label[for="room-chat-input"]')!.textContent).toBe('Message to everyone in this room')
  })

  it('sends with Enter, keeps a new line with Shift+Enter, and shows a refusal', async () => {
    const { socket } = await mountChat(31)
    socket.reply(socket.lastSent('chat.watch_room').id, { channel: { id: 77, kind: 'breakout', room_id: 31, name: 'A', slow_mode_seconds: 0 } })
    await render()
    socket.reply(socket.lastSent('chat.history').id, { channel_id: 77, messages: [] })
    await render()
    expect(q('[data-testid="room-chat"]')!.textContent).toContain('No messages in this room yet.')

    const input = q('[data-testid="room-chat-input"]') as HTMLTextAreaElement
    input.value = 'line one'
    input.dispatchEvent(new Event('input'))
    input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter', shiftKey: true }))
    await render()
    expect(socket.sentOfType('chat.send')).toHaveLength(0)
    input.dispatchEvent(new KeyboardEvent('keydown', { key: 'Enter' }))
    await render()
    const sent = socket.lastSent('chat.send')
    expect(sent.data).toMatchObject({ channel_id: 77, text: 'line one' })
    socket.reply(sent.id, { message: message(5, 77, 'line one', 'Alex'), duplicate: false })
    await render()
    expect(input.value).toBe('')
    expect(q('[data-testid="room-chat-messages"]')!.textContent).toContain('line one')

    input.value = 'too fast'
    input.dispatchEvent(new Event('input'))
    q('form')!.dispatchEvent(new Event('submit', { cancelable: true }))
    await render()
    expect(socket.sentOfType('chat.send')).toHaveLength(2)
    socket.fail(socket.lastSent('chat.send').id, 'rate_limited', 'slow down', { retry_after: 2 })
    await render()
    expect(q('[role="alert"]')!.textContent).toBe('You are sending too fast; wait a moment.')
    expect(input.value).toBe('too fast') // nothing the person wrote is lost
  })

  it('follows a move: leaves the old room’s chat and opens the new one; none before the call', async () => {
    const { room, socket } = await mountChat(null)
    expect(socket.sentOfType('chat.watch_room')).toHaveLength(0)
    expect(q('[data-testid="room-chat"]')!.textContent).toContain('once you are in the room')
    room.value = 31
    await render()
    socket.reply(socket.lastSent('chat.watch_room').id, { channel: { id: 77, kind: 'breakout', room_id: 31, name: 'A', slow_mode_seconds: 0 } })
    await render()
    socket.reply(socket.lastSent('chat.history').id, { channel_id: 77, messages: [message(1, 77, 'old room')] })
    await render()

    room.value = 32
    await render()
    expect(socket.lastSent('chat.unwatch').data).toEqual({ channel_id: 77 })
    expect(socket.lastSent('chat.watch_room').data).toEqual({ room_id: 32 })
    expect(q('[data-testid="room-chat-messages"]')!.textContent).not.toContain('old room')
    socket.fail(socket.lastSent('chat.watch_room').id, 'not_member')
    await render()
    expect(q('[role="alert"]')!.textContent).toBe('Only people in this room can read and write here.')
  })

  it('speaks German', async () => {
    setLocale('de')
    await mountChat(31)
    expect(q('h3')!.textContent).toBe('Raum-Chat')
    expect((q('[data-testid="room-chat-send"]') as HTMLElement).textContent!.trim()).toBe('Senden')
  })
})

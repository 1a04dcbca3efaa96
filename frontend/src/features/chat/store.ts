import { computed, reactive } from 'vue'
import type { RealtimeClient } from '../../realtime/client'
import type { ChatMessage, ChatStream, Channel, Poll, QA, QAStream, Question } from './types'

/**
 * Everything the chat panels show, per connection. Messages are kept by id, so a message
 * that arrives both as a push and in a resume delta is shown once; the chat stream's
 * cursor stays the one from hello (pushes from several processes may arrive out of order).
 */
export interface ChatState {
  channels: Channel[]
  messages: Map<number, ChatMessage>
  questions: Map<number, Question>
  qas: Map<number, QA>
  polls: Map<number, Poll>
  myVotes: Set<number>
  myQuestions: Set<number>
  myBallots: Map<number, number[]>
  reactions: { channelId: number; counts: Record<string, number>; at: number } | null
  mutedUntil: string | null
  queue: Map<number, Question>
}

const states = new WeakMap<RealtimeClient, ChatState>()

export function chatState(client: RealtimeClient): ChatState {
  let state = states.get(client)
  if (!state) {
    state = reactive({
      channels: [],
      messages: new Map(),
      questions: new Map(),
      qas: new Map(),
      polls: new Map(),
      myVotes: new Set(),
      myQuestions: new Set(),
      myBallots: new Map(),
      reactions: null,
      mutedUntil: null,
      queue: new Map(),
    }) as ChatState
    states.set(client, state)
  }
  return state
}

function mergeMessages(state: ChatState, messages: ChatMessage[]): void {
  for (const message of messages) {
    const known = state.messages.get(message.id)
    if (!known || known.seq <= message.seq) state.messages.set(message.id, message)
  }
}

function putQuestion(state: ChatState, question: Question): void {
  if (question.state === 'visible' || question.state === 'answered') state.questions.set(question.id, question)
  else state.questions.delete(question.id)
}

export function setupChat(client: RealtimeClient): void {
  const state = chatState(client)
  // The chat stream is a delta stream: the reducer folds missed messages into what we hold.
  client.streams.registerReducer('chat', (current, delta) => {
    const held = (current ?? { channels: [], messages: [] }) as ChatStream
    const next = delta as ChatStream
    const byId = new Map(held.messages.map((m) => [m.id, m]))
    for (const m of next.messages) byId.set(m.id, m)
    return { channels: next.channels, messages: [...byId.values()].sort((a, b) => a.id - b.id) }
  })
  client.streams.onChange((name, entry) => {
    if (name === 'chat' && entry) {
      const data = entry.state as ChatStream
      state.channels = data.channels
      mergeMessages(state, data.messages)
    }
    if (name === 'qa' && entry) {
      const data = entry.state as QAStream
      state.qas = new Map(data.qas.map((qa) => [qa.session_id, qa]))
      state.questions = new Map()
      state.queue = new Map()
      for (const q of data.questions) {
        putQuestion(state, q)
        state.queue.set(q.id, q)
      }
      state.polls = new Map(data.polls.map((p) => [p.id, p]))
      state.myVotes = new Set(data.my_votes)
      state.myQuestions = new Set(data.my_questions)
      state.myBallots = new Map(Object.entries(data.my_ballots).map(([k, v]) => [Number(k), v]))
    }
  })
  client.on<ChatMessage>('chat.message', (m) => mergeMessages(state, [m]))
  client.on<ChatMessage>('chat.message_update', (m) => mergeMessages(state, [m]))
  client.on<Channel>('chat.channel', (c) => {
    state.channels = state.channels.map((known) => (known.id === c.id ? c : known))
  })
  client.on<{ channel_id: number; counts: Record<string, number> }>('chat.reactions', (r) => {
    state.reactions = { channelId: r.channel_id, counts: r.counts, at: Date.now() }
  })
  client.on<{ until: string | null }>('chat.muted', (m) => {
    state.mutedUntil = m.until
  })
  client.on<Question>('qa.question', (q) => putQuestion(state, q))
  client.on<{ id: number }>('qa.question_removed', (q) => state.questions.delete(q.id))
  client.on<Question>('qa.question_mod', (q) => {
    state.queue.set(q.id, q)
  })
  client.on<{ counts: Record<string, number> }>('qa.votes', ({ counts }) => {
    for (const [id, votes] of Object.entries(counts)) {
      for (const map of [state.questions, state.queue]) {
        const q = map.get(Number(id))
        if (q) map.set(q.id, { ...q, votes })
      }
    }
  })
  client.on<QA>('qa.session', (qa) => state.qas.set(qa.session_id, qa))
  client.on<Poll>('poll.update', (p) => state.polls.set(p.id, p))
  client.on<{ poll_id: number; counts: Record<string, number>; ballots: number }>('poll.counts', (c) => {
    const poll = state.polls.get(c.poll_id)
    if (!poll) return
    state.polls.set(poll.id, {
      ...poll,
      ballots: c.ballots,
      options: poll.options.map((o) => ({ ...o, votes: c.counts[String(o.id)] ?? o.votes })),
    })
  })
}

/** Visible questions, by votes (then older first) or by time (newest first). */
export function sortQuestions(questions: Iterable<Question>, order: 'votes' | 'time'): Question[] {
  const list = [...questions]
  if (order === 'votes') return list.sort((a, b) => b.votes - a.votes || a.id - b.id)
  return list.sort((a, b) => b.id - a.id)
}

/** The session whose Q&A the stage shows: an open Q&A running now, else any open one. */
export function useCurrentSession(state: ChatState, sessions: () => { id: number; start: string; end: string }[]) {
  return computed(() => {
    const open = [...state.qas.values()].filter((qa) => qa.is_open).map((qa) => qa.session_id)
    const now = Date.now()
    const all = sessions()
    const running = all.find(
      (s) => open.includes(s.id) && Date.parse(s.start) <= now && now < Date.parse(s.end),
    )
    return running?.id ?? open[0] ?? null
  })
}

/** A new idempotency key per message; a retry of the same message reuses it. */
export function newClientKey(): string {
  if (typeof crypto !== 'undefined' && 'randomUUID' in crypto) return crypto.randomUUID()
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`
}

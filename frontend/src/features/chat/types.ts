/** Shapes of the chat app's socket messages (see docs/protocol/asyncapi.json). */
export interface Author {
  id: number
  name: string
  roles: string[]
}

export interface ChatMessage {
  id: number
  seq: number
  channel_id: number
  author: Author
  text: string
  reply_to: number | null
  mentions: number[]
  created: string
  edited_at: string | null
  deleted: boolean
}

export interface Channel {
  id: number
  kind: 'stage' | 'breakout' | 'onsite' | 'announcements'
  room_id: number | null
  name: string
  slow_mode_seconds: number
}

export type QuestionState = 'pending' | 'visible' | 'answered' | 'hidden'

export interface Question {
  id: number
  session_id: number
  text: string
  author: Author | null
  is_anonymous: boolean
  state: QuestionState
  on_screen: boolean
  votes: number
  created: string
}

export interface QA {
  session_id: number
  is_open: boolean
  mode: 'open' | 'premoderated'
}

export interface PollOption {
  id: number
  text: string
  votes: number | null
}

export interface Poll {
  id: number
  channel_id: number
  question: string
  kind: 'single' | 'multiple'
  state: 'draft' | 'open' | 'closed'
  results: 'live' | 'after_close'
  options: PollOption[]
  ballots: number | null
}

export interface QAStream {
  qas: QA[]
  questions: Question[]
  my_votes: number[]
  my_questions: number[]
  polls: Poll[]
  my_ballots: Record<string, number[]>
}

export interface ChatStream {
  channels: Channel[]
  messages: ChatMessage[]
}

export interface ModerationEntry {
  id: number
  action: string
  actor_id: number | null
  target_id: number | null
  details: Record<string, unknown>
  created: string
}

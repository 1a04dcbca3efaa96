import type { StreamUpdate } from './protocol'

/** Folds one delta into a stream's state; `state` is undefined only if the server misbehaves. */
export type DeltaReducer = (state: unknown, delta: unknown) => unknown

export interface StreamEntry {
  cursor: number
  state: unknown
}

export type StreamListener = (name: string, entry: StreamEntry | undefined) => void

/**
 * What the client holds of every stream (agenda, later chat, questions, …): its state and
 * the cursor the server gave with it. The cursors go back to the server in hello so that a
 * reconnect costs only what was missed.
 */
export class StreamStore {
  private readonly entries = new Map<string, StreamEntry>()
  private readonly reducers = new Map<string, DeltaReducer>()
  private readonly listeners = new Set<StreamListener>()

  /** Apps whose streams arrive as deltas register how to fold them in. */
  registerReducer(name: string, reducer: DeltaReducer): void {
    this.reducers.set(name, reducer)
  }

  get(name: string): StreamEntry | undefined {
    return this.entries.get(name)
  }

  /** The resume map for hello: one cursor per stream we hold. */
  cursors(): Record<string, number> {
    const resume: Record<string, number> = {}
    for (const [name, entry] of this.entries) resume[name] = entry.cursor
    return resume
  }

  onChange(listener: StreamListener): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  apply(name: string, update: StreamUpdate): void {
    const current = this.entries.get(name)
    // Pushes can overtake the hello reply (the server subscribes before it builds the
    // snapshot), so an older cursor must never overwrite a newer state.
    if (current && update.cursor < current.cursor) return

    switch (update.mode) {
      case 'unchanged':
        // We sent this cursor, so what we hold is current. Holding nothing means the server
        // answered a cursor we never sent; there is nothing sensible to keep then.
        return
      case 'full':
        this.set(name, { cursor: update.cursor, state: update.data })
        return
      case 'delta': {
        if (current && update.cursor === current.cursor) return // already applied
        const reducer = this.reducers.get(name)
        if (!reducer || !current) {
          // Without a reducer (or a base to fold into) the stream cannot be kept current:
          // forget it, so the next hello asks for a full snapshot instead of a resume.
          this.forget(name)
          return
        }
        this.set(name, { cursor: update.cursor, state: reducer(current.state, update.data) })
        return
      }
    }
  }

  forget(name: string): void {
    if (!this.entries.delete(name)) return
    for (const listener of this.listeners) listener(name, undefined)
  }

  private set(name: string, entry: StreamEntry): void {
    this.entries.set(name, entry)
    for (const listener of this.listeners) listener(name, entry)
  }
}

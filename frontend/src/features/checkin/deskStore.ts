import type { Bundle } from './ticketCode'

/**
 * What a desk keeps on the device, in IndexedDB:
 *  - its token (revocable from the server; a 401 wipes everything here),
 *  - the offline bundle, encrypted with AES-GCM under a key that is generated on the device as
 *    non-extractable: script can use it but never read it, and the stored file holds no
 *    plaintext names or e-mail addresses,
 *  - the queue of scans made offline, until the server has them (codes only, no names).
 */
const DB = 'checkin-desk'
const VERSION = 1

export interface QueuedScan {
  retry_id: string
  list_id: number
  code: string
  ticket_id: number | null
  direction: 'entry' | 'exit'
  scanned_at: string
  admitted: boolean
}

export interface DeskIdentity {
  slug: string
  token: string
  name: string
}

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result)
    req.onerror = () => reject(req.error)
  })
}

function open(): Promise<IDBDatabase> {
  const req = indexedDB.open(DB, VERSION)
  req.onupgradeneeded = () => {
    const db = req.result
    if (!db.objectStoreNames.contains('kv')) db.createObjectStore('kv')
    if (!db.objectStoreNames.contains('queue')) db.createObjectStore('queue', { keyPath: 'retry_id' })
  }
  return request(req)
}

async function tx<T>(store: string, mode: IDBTransactionMode, fn: (s: IDBObjectStore) => IDBRequest<T>): Promise<T> {
  const db = await open()
  try {
    return await request(fn(db.transaction(store, mode).objectStore(store)))
  } finally {
    db.close()
  }
}

const kvKey = (slug: string, what: string) => `${slug}:${what}`

export async function loadIdentity(slug: string): Promise<DeskIdentity | null> {
  if (typeof indexedDB === 'undefined') return null // no storage (old browser, tests): online only
  return ((await tx('kv', 'readonly', (s) => s.get(kvKey(slug, 'identity')))) as DeskIdentity | undefined) ?? null
}

export async function saveIdentity(identity: DeskIdentity): Promise<void> {
  await tx('kv', 'readwrite', (s) => s.put(identity, kvKey(identity.slug, 'identity')))
}

async function sealingKey(slug: string): Promise<CryptoKey> {
  const known = (await tx('kv', 'readonly', (s) => s.get(kvKey(slug, 'key')))) as CryptoKey | undefined
  if (known) return known
  const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, false, ['encrypt', 'decrypt'])
  await tx('kv', 'readwrite', (s) => s.put(key, kvKey(slug, 'key')))
  return key
}

export async function saveBundle(slug: string, bundle: Bundle): Promise<void> {
  const key = await sealingKey(slug)
  const iv = crypto.getRandomValues(new Uint8Array(12))
  const sealed = await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, key, new TextEncoder().encode(JSON.stringify(bundle)))
  await tx('kv', 'readwrite', (s) => s.put({ iv, sealed }, kvKey(slug, 'bundle')))
}

export async function loadBundle(slug: string): Promise<Bundle | null> {
  const stored = (await tx('kv', 'readonly', (s) => s.get(kvKey(slug, 'bundle')))) as
    | { iv: Uint8Array; sealed: ArrayBuffer }
    | undefined
  if (!stored) return null
  try {
    const key = await sealingKey(slug)
    const plain = await crypto.subtle.decrypt({ name: 'AES-GCM', iv: stored.iv as BufferSource }, key, stored.sealed)
    return JSON.parse(new TextDecoder().decode(plain)) as Bundle
  } catch {
    return null
  }
}

export async function enqueue(scan: QueuedScan): Promise<void> {
  await tx('queue', 'readwrite', (s) => s.put(scan))
}

export async function queued(): Promise<QueuedScan[]> {
  const all = (await tx('queue', 'readonly', (s) => s.getAll())) as QueuedScan[]
  return all.sort((a, b) => a.scanned_at.localeCompare(b.scanned_at))
}

export async function dequeue(retryIds: string[]): Promise<void> {
  const db = await open()
  try {
    const store = db.transaction('queue', 'readwrite').objectStore('queue')
    await Promise.all(retryIds.map((id) => request(store.delete(id))))
  } finally {
    db.close()
  }
}

/** Signed out (here or remotely): nothing of the event stays on the device. */
export async function wipe(slug: string): Promise<void> {
  for (const what of ['identity', 'bundle', 'key']) await tx('kv', 'readwrite', (s) => s.delete(kvKey(slug, what)))
  await tx('queue', 'readwrite', (s) => s.clear())
}

/** The desk's calls to /api/checkin/e/<slug>/…, with a short timeout: a door cannot wait. */
export class Offline extends Error {}
export class SignedOut extends Error {}
export class Forbidden extends Error {}

export interface ApiOptions {
  slug: string
  token: string | null
  timeoutMs?: number
}

function csrfToken(): string {
  const match = /(?:^|;\s*)csrftoken=([^;]+)/.exec(document.cookie)
  return match?.[1] ? decodeURIComponent(match[1]) : ''
}

export async function call<T>(opts: ApiOptions, method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json' }
  if (opts.token) headers.Authorization = `Bearer ${opts.token}`
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  if (method !== 'GET') headers['X-CSRFToken'] = csrfToken()
  const controller = new AbortController()
  const timer = setTimeout(() => controller.abort(), opts.timeoutMs ?? 3000)
  let response: Response
  try {
    response = await fetch(`/api/checkin/e/${encodeURIComponent(opts.slug)}${path}`, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'same-origin', signal: controller.signal, cache: 'no-store',
    })
  } catch {
    throw new Offline()
  } finally {
    clearTimeout(timer)
  }
  if (response.status === 401) throw new SignedOut()
  if (response.status === 403) throw new Forbidden()
  if (response.status >= 500) throw new Offline()  // a proxy without its backend counts as away
  const data = await response.json().catch(() => ({}))
  if (!response.ok) throw Object.assign(new Error(data.code ?? `http_${response.status}`), { code: data.code, status: response.status })
  return data as T
}

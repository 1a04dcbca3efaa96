// The check-in desk's service worker: keeps the app shell so the desk opens and answers with
// no network. It never stores API answers: the offline bundle (names!) lives encrypted in
// IndexedDB, written by the desk itself, not in this cache.
const CACHE = 'checkin-desk-v1'
const STATIC = '{{ static_url|escapejs }}'

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE)
    const shellUrl = new URL(self.registration.scope).pathname
    const shell = await fetch(shellUrl, { credentials: 'same-origin' })
    if (shell.ok) {
      const html = await shell.clone().text()
      await cache.put(shellUrl, shell)
      // The shell names its hashed assets; fetch them now, since the page loaded them before
      // this worker existed.
      const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]).filter((u) => u.startsWith(STATIC))
      await Promise.all(assets.map(async (url) => {
        const response = await fetch(url)
        if (response.ok) await cache.put(url, response)
      }))
    }
    await self.skipWaiting()
  })())
})

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) if (name !== CACHE) await caches.delete(name)
    await self.clients.claim()
  })())
})

self.addEventListener('fetch', (event) => {
  const request = event.request
  if (request.method !== 'GET') return
  const url = new URL(request.url)
  if (url.origin !== self.location.origin || url.pathname.startsWith('/api/') || url.pathname.startsWith('/ws/')) return
  if (request.mode === 'navigate') {
    // Network first (a new release shows up), the cached shell when the network is gone.
    const shellUrl = new URL(self.registration.scope).pathname
    event.respondWith(fetch(request).then(async (response) => {
      if (response.ok) (await caches.open(CACHE)).put(shellUrl, response.clone())
      return response
    }).catch(async () => (await caches.match(shellUrl)) || Response.error()))
    return
  }
  if (url.pathname.startsWith(STATIC)) {
    // Hashed names never change: cache first.
    event.respondWith(caches.match(request).then((hit) => hit || fetch(request).then(async (response) => {
      if (response.ok) (await caches.open(CACHE)).put(request, response.clone())
      return response
    })))
  }
})

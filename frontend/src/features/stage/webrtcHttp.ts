/** WHIP and WHEP from the browser (RFC 9725): one offer with all candidates, one answer. */

export class StageHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    readonly body: Record<string, unknown>,
  ) {
    super(code)
  }
}

function iceGatheringDone(pc: RTCPeerConnection, timeoutMs = 2000): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve()
  return new Promise((resolve) => {
    const done = () => {
      if (pc.iceGatheringState === 'complete') {
        pc.removeEventListener('icegatheringstatechange', done)
        resolve()
      }
    }
    pc.addEventListener('icegatheringstatechange', done)
    // Candidates that arrive later are not sent (no trickle): start with what there is.
    setTimeout(resolve, timeoutMs)
  })
}

/** POSTs the offer; returns the resource URL. The answer is applied to `pc`. */
export async function negotiate(
  pc: RTCPeerConnection,
  url: string,
  headers: Record<string, string> = {},
  fetcher: typeof fetch = fetch,
): Promise<string> {
  await pc.setLocalDescription(await pc.createOffer())
  await iceGatheringDone(pc)
  const response = await fetcher(url, {
    method: 'POST',
    headers: { 'Content-Type': 'application/sdp', ...headers },
    body: pc.localDescription?.sdp ?? '',
    credentials: 'same-origin',
  })
  if (response.status !== 201) {
    let body: Record<string, unknown> = {}
    try {
      body = await response.json()
    } catch {
      body = {}
    }
    throw new StageHttpError(response.status, String(body.error ?? `http_${response.status}`), body)
  }
  const answer = await response.text()
  await pc.setRemoteDescription({ type: 'answer', sdp: answer })
  return new URL(response.headers.get('Location') ?? url, window.location.href).toString()
}

export async function endResource(
  url: string | null,
  headers: Record<string, string> = {},
  fetcher: typeof fetch = fetch,
): Promise<void> {
  if (!url) return
  try {
    await fetcher(url, { method: 'DELETE', headers, credentials: 'same-origin', keepalive: true })
  } catch {
    // The relay ends it anyway when the connection drops.
  }
}

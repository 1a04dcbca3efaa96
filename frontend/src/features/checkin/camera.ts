import jsQR from 'jsqr'

interface Detector {
  detect(source: CanvasImageSource): Promise<Array<{ rawValue: string }>>
}

/** Reads QR codes from the camera: the browser's BarcodeDetector where it has one (Chromium on
 * Android, macOS), else jsQR on a downscaled frame. Returns a function that stops the camera. */
export async function startCamera(video: HTMLVideoElement, onCode: (code: string) => void): Promise<() => void> {
  const stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' }, audio: false })
  video.srcObject = stream
  video.setAttribute('playsinline', '')
  await video.play()
  let detector: Detector | null = null
  const Native = (globalThis as unknown as { BarcodeDetector?: { new (o: object): Detector; getSupportedFormats(): Promise<string[]> } }).BarcodeDetector
  if (Native) {
    try {
      if ((await Native.getSupportedFormats()).includes('qr_code')) detector = new Native({ formats: ['qr_code'] })
    } catch {
      detector = null
    }
  }
  const canvas = document.createElement('canvas')
  const context = canvas.getContext('2d', { willReadFrequently: true })
  let stopped = false
  let last = ''
  let lastAt = 0
  const found = (code: string) => {
    // The same code stays in view for a while: report it once per 3 s, not once per frame.
    const now = Date.now()
    if (code === last && now - lastAt < 3000) return
    last = code
    lastAt = now
    onCode(code)
  }
  const tick = async () => {
    if (stopped) return
    try {
      if (video.readyState >= 2) {
        if (detector) {
          const codes = await detector.detect(video)
          if (codes[0]?.rawValue) found(codes[0].rawValue)
        } else if (context) {
          const scale = Math.min(1, 640 / (video.videoWidth || 640))
          canvas.width = Math.round(video.videoWidth * scale)
          canvas.height = Math.round(video.videoHeight * scale)
          context.drawImage(video, 0, 0, canvas.width, canvas.height)
          const image = context.getImageData(0, 0, canvas.width, canvas.height)
          const code = jsQR(image.data, image.width, image.height, { inversionAttempts: 'dontInvert' })
          if (code?.data) found(code.data)
        }
      }
    } catch {
      // a frame that could not be read; the next one will do
    }
    setTimeout(tick, 150)
  }
  void tick()
  return () => {
    stopped = true
    for (const track of stream.getTracks()) track.stop()
    video.srcObject = null
  }
}

/** The answer's sound: two high beeps for welcome, one middle for "already in", a low buzz for no. */
let context: AudioContext | null = null

export function beep(result: 'admitted' | 'already_in' | 'refused'): void {
  try {
    context ??= new AudioContext()
    const tones: Array<[number, number, number]> =
      result === 'admitted' ? [[1320, 0, 0.09], [1760, 0.12, 0.09]] : result === 'already_in' ? [[880, 0, 0.25]] : [[220, 0, 0.6]]
    for (const [frequency, start, length] of tones) {
      const oscillator = context.createOscillator()
      const gain = context.createGain()
      oscillator.type = result === 'refused' ? 'square' : 'sine'
      oscillator.frequency.value = frequency
      gain.gain.value = 0.2
      oscillator.connect(gain).connect(context.destination)
      const at = context.currentTime + start
      oscillator.start(at)
      oscillator.stop(at + length)
    }
  } catch {
    // No audio (autoplay policy before the first key press, or none at all): the screen answers.
  }
}

/**
 * Splits plain message text into text and link parts. Only http(s) URLs become links;
 * the view renders every part with text interpolation (never v-html), so markup in a
 * message stays text.
 */
export type TextPart = { kind: 'text'; text: string } | { kind: 'link'; text: string; href: string }

const URL_PATTERN = /\bhttps?:\/\/[^\s<>"']+/gi
// Punctuation that ends a sentence rather than the URL.
const TRAILING = /[.,;:!?)\]]+$/

export function linkify(text: string): TextPart[] {
  const parts: TextPart[] = []
  let last = 0
  for (const match of text.matchAll(URL_PATTERN)) {
    let url = match[0]
    const trailing = TRAILING.exec(url)?.[0] ?? ''
    url = url.slice(0, url.length - trailing.length)
    const start = match.index ?? 0
    if (start > last) parts.push({ kind: 'text', text: text.slice(last, start) })
    let href: string | null = null
    try {
      const parsed = new URL(url)
      if (parsed.protocol === 'http:' || parsed.protocol === 'https:') href = parsed.href
    } catch {
      href = null
    }
    parts.push(href ? { kind: 'link', text: url, href } : { kind: 'text', text: url })
    last = start + url.length
  }
  if (last < text.length) parts.push({ kind: 'text', text: text.slice(last) })
  return mergeText(parts)
}

function mergeText(parts: TextPart[]): TextPart[] {
  const merged: TextPart[] = []
  for (const part of parts) {
    const previous = merged[merged.length - 1]
    if (part.kind === 'text' && previous?.kind === 'text') previous.text += part.text
    else merged.push({ ...part })
  }
  return merged
}

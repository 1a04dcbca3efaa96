// Times are shown in the event's time zone, not the viewer's: an online attendee abroad
// and the venue's printed programme must agree on "the keynote is at 10:00".

export function formatEventRange(startIso: string, endIso: string, timeZone: string, locale: string): string {
  const format = new Intl.DateTimeFormat(locale, { timeZone, dateStyle: 'medium', timeStyle: 'short' })
  return format.formatRange(new Date(startIso), new Date(endIso))
}

export function formatTimeRange(startIso: string, endIso: string, timeZone: string, locale: string): string {
  const format = new Intl.DateTimeFormat(locale, { timeZone, timeStyle: 'short' })
  return format.formatRange(new Date(startIso), new Date(endIso))
}

export function formatDay(iso: string, timeZone: string, locale: string): string {
  return new Intl.DateTimeFormat(locale, { timeZone, dateStyle: 'full' }).format(new Date(iso))
}

const dayKeyFormats = new Map<string, Intl.DateTimeFormat>()

/** "2026-11-23": the calendar day in the event's time zone, for grouping and sorting. */
export function dayKey(iso: string, timeZone: string): string {
  let format = dayKeyFormats.get(timeZone)
  if (!format) {
    format = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' })
    dayKeyFormats.set(timeZone, format)
  }
  const parts = Object.fromEntries(format.formatToParts(new Date(iso)).map((part) => [part.type, part.value]))
  return `${parts.year}-${parts.month}-${parts.day}`
}

/** <time datetime> wants a machine-readable value; the ISO string from the server is one. */
export function machineTime(iso: string): string {
  return new Date(iso).toISOString()
}

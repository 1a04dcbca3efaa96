import { createI18n } from 'vue-i18n'
import de from './de.json'
import en from './en.json'
import { featureMessages } from '../features/messages'

export const supportedLocales = ['de', 'en'] as const
export type Locale = (typeof supportedLocales)[number]

const fallbackLocale: Locale = 'en'
const storageKey = 'eventplatform.locale'

function isLocale(value: unknown): value is Locale {
  return supportedLocales.includes(value as Locale)
}

/** The saved choice wins; otherwise the browser's first language we speak; otherwise English. */
export function detectLocale(saved: string | null, browserLanguages: readonly string[]): Locale {
  if (isLocale(saved)) return saved
  for (const tag of browserLanguages) {
    const language = tag.toLowerCase().split('-')[0]
    if (isLocale(language)) return language
  }
  return fallbackLocale
}

function readSavedLocale(): string | null {
  try {
    return globalThis.localStorage?.getItem(storageKey) ?? null
  } catch {
    // Storage can be blocked (privacy settings); the browser language is good enough then.
    return null
  }
}

function browserLanguages(): readonly string[] {
  const nav = globalThis.navigator
  if (!nav) return []
  return nav.languages?.length ? nav.languages : [nav.language]
}

export const i18n = createI18n({
  legacy: false,
  locale: detectLocale(readSavedLocale(), browserLanguages()),
  fallbackLocale,
  messages: (() => {
    const features = featureMessages()
    return { de: { ...de, ...features.de }, en: { ...en, ...features.en } }
  })(),
})

/** Switches the UI language, remembers it, and tells assistive technology via <html lang>. */
export function setLocale(locale: Locale): void {
  i18n.global.locale.value = locale
  try {
    globalThis.localStorage?.setItem(storageKey, locale)
  } catch {
    // Not remembered across visits then; the switch itself still works.
  }
  syncDocumentLanguage()
}

export function currentLocale(): Locale {
  const locale = i18n.global.locale.value
  return isLocale(locale) ? locale : fallbackLocale
}

export function syncDocumentLanguage(): void {
  if (typeof document !== 'undefined') document.documentElement.lang = currentLocale()
}

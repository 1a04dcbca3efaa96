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

type Catalogue = Record<string, unknown>

function isCatalogue(value: unknown): value is Catalogue {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

// A feature may share a name with a core section (the "agenda" feature adds to "agenda.*"):
// merge section by section, so neither replaces the other's keys.
export function mergeCatalogues<T extends Catalogue>(base: T, extra: Catalogue): T {
  const merged: Catalogue = { ...base }
  for (const [key, value] of Object.entries(extra)) {
    const existing = merged[key]
    merged[key] = isCatalogue(existing) && isCatalogue(value) ? mergeCatalogues(existing, value) : value
  }
  return merged as T
}

export const i18n = createI18n({
  legacy: false,
  locale: detectLocale(readSavedLocale(), browserLanguages()),
  fallbackLocale,
  messages: (() => {
    const features = featureMessages()
    return { de: mergeCatalogues(de, features.de), en: mergeCatalogues(en, features.en) }
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

/** Each feature's translations, keyed by feature name: `{ de: { chat: {...} }, en: {...} }`. */
type Catalogue = Record<string, unknown>

const files = import.meta.glob<{ default: Catalogue }>('./*/{de,en}.json', { eager: true })

export function featureMessages(): { de: Catalogue; en: Catalogue } {
  const result: { de: Catalogue; en: Catalogue } = { de: {}, en: {} }
  for (const [path, module] of Object.entries(files)) {
    const match = /^\.\/([^/]+)\/(de|en)\.json$/.exec(path)
    const [, feature, language] = match ?? []
    if (feature && (language === 'de' || language === 'en')) result[language][feature] = module.default
  }
  return result
}

"""Local validation time of one scan in Chromium: the desk's offline path (signature check,
revocation, list rules, local state) against a 10,000-ticket bundle, as the browser runs it.

    uv run python bench/checkin_validate.py

Builds `frontend/src/features/checkin/ticketCode.ts` with Vite into a temporary script, loads it
into Debian's Chromium (Playwright, headless) on a loopback page, and times `decideOffline`."""

import argparse
import http.server
import json
import subprocess
import tempfile
import threading
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "frontend"

BUILD = """
import { build } from 'vite'
await build({
  configFile: false, logLevel: 'warn',
  build: { outDir: process.argv[1], emptyOutDir: true, minify: true,
           lib: { entry: 'src/features/checkin/ticketCode.ts', name: 'TicketCode', formats: ['iife'], fileName: () => 'ticketCode.js' } },
})
"""

PAGE = """<!doctype html><meta charset="utf-8"><script src="ticketCode.js"></script>"""

MEASURE = """async ({ vectors, tickets, scans }) => {
  const T = window.TicketCode
  const rows = []
  for (let i = 0; i < tickets; i++) rows.push([1000 + i, 1, `Gast ${i} Mustermann`, `gast${i}@example.org`, 1])
  rows[1] = [1001, 1, 'Gerda Gast', 'gerda@example.org', 1]
  const bundle = { version: 1, generated_at: new Date().toISOString(), event: vectors.event, keys: vectors.keys,
    lists: [{ id: 1, name: 'Main entrance', room_id: null, attendance: 'any', opens_at: null, closes_at: null, allow_reentry: true, allow_exit: true }],
    tickets: rows, revoked: [1003], inside: {} }
  const t0 = performance.now()
  const byId = new Map(bundle.tickets.map((t) => [t[0], t]))
  const revoked = new Set(bundle.revoked)
  const prepare = performance.now() - t0
  const codes = [vectors.codes.good, vectors.codes.second, vectors.codes.changed_byte, vectors.codes.revoked]
  const times = []
  const results = {}
  for (let i = 0; i < scans; i++) {
    const state = new T.LocalState(null)
    const code = codes[i % codes.length]
    const started = performance.now()
    const answer = await T.decideOffline(code, bundle, state, byId, revoked,
      { list: bundle.lists[0], direction: 'entry', now: new Date(), deviceName: 'bench' })
    times.push(performance.now() - started)
    results[answer.result + ':' + answer.reason] = (results[answer.result + ':' + answer.reason] || 0) + 1
  }
  const search0 = performance.now()
  const hits = T.searchBundle(bundle.tickets, 'mustermann 9999')
  const search = performance.now() - search0
  return { times, prepare, results, search, hits: hits.length }
}"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scans", type=int, default=2000)
    parser.add_argument("--tickets", type=int, default=10_000)
    parser.add_argument("--fallback", action="store_true", help="hide WebCrypto Ed25519: time @noble/ed25519")
    args = parser.parse_args()
    vectors = json.loads((FRONTEND / "src/features/checkin/testVectors.json").read_text())
    with tempfile.TemporaryDirectory() as out:
        subprocess.run(["node", "--input-type=module", "-e", BUILD, out], cwd=FRONTEND, check=True)
        (Path(out) / "index.html").write_text(PAGE)
        handler = partial(http.server.SimpleHTTPRequestHandler, directory=out)
        http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None  # quiet
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        from playwright.sync_api import sync_playwright

        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                                     args=["--no-sandbox", "--disable-gpu"])
                page = browser.new_page()
                if args.fallback:
                    page.add_init_script("""{ const importKey = crypto.subtle.importKey.bind(crypto.subtle);
                      crypto.subtle.importKey = (f, k, alg, ...rest) => (alg && alg.name === 'Ed25519')
                        ? Promise.reject(new Error('hidden')) : importKey(f, k, alg, ...rest) }""")
                page.goto(f"http://127.0.0.1:{server.server_port}/index.html")
                figures = page.evaluate(MEASURE, {"vectors": vectors, "tickets": args.tickets, "scans": args.scans})
                version = browser.version
                browser.close()
        finally:
            server.shutdown()
    times = sorted(figures["times"])
    warm = times  # the first (key import) is included; it is one of `scans`

    def pct(q: float) -> float:
        return warm[min(len(warm) - 1, int(q / 100 * len(warm)))]

    path = "@noble/ed25519 (JavaScript)" if args.fallback else "WebCrypto Ed25519"
    print(f"Chromium {version}, {path}: {args.scans} offline checks against a {args.tickets}-ticket bundle")
    print(f"per scan ms: median {pct(50):.2f}  p95 {pct(95):.2f}  p99 {pct(99):.2f}  max {warm[-1]:.2f}")
    print(f"bundle indexing once: {figures['prepare']:.1f} ms; search over all names: {figures['search']:.1f} ms")
    print("answers:", figures["results"])


if __name__ == "__main__":
    main()

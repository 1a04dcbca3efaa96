/// <reference types="vitest/config" />
import { defineConfig } from 'vite'
import vue from '@vitejs/plugin-vue'

const backend = 'http://127.0.0.1:8000'

export default defineConfig(({ command }) => ({
  // Django serves frontend/dist under /static/app/ and answers every /e/<slug>/... route
  // with dist/index.html. The dev server has no Django in front of it, so it serves from
  // the root; otherwise Vite would refuse the /e/<slug>/ URLs outside its base.
  base: command === 'build' ? '/static/app/' : '/',
  plugins: [vue()],
  define: {
    // Composition API only: drop vue-i18n's legacy API and devtools hooks from the bundle.
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  build: {
    outDir: 'dist',
    emptyOutDir: true,
  },
  server: {
    // The Host header is kept (no changeOrigin): Django then sees the same host as the
    // Origin header, so its CSRF and the Channels origin check accept the dev server.
    proxy: {
      '/ws/': { target: backend, ws: true },
      '/api/': { target: backend },
      '/t/': { target: backend },
    },
  },
  test: {
    environment: 'node',
    include: ['src/**/*.test.ts'],
  },
}))

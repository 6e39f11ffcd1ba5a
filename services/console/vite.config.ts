import { fileURLToPath, URL } from 'node:url'
import { defineConfig } from 'vitest/config'
import vue from '@vitejs/plugin-vue'
import VueI18nPlugin from '@intlify/unplugin-vue-i18n/vite'
import Components from 'unplugin-vue-components/vite'
import AutoImport from 'unplugin-auto-import/vite'
import { ElementPlusResolver } from 'unplugin-vue-components/resolvers'

// The api serves dist/ at `/`; in development `npm run dev` proxies the api (LOOPDESK_API, default :8080).
const api = process.env.LOOPDESK_API ?? 'http://127.0.0.1:8080'

export default defineConfig({
  plugins: [
    vue(),
    // Locale files are compiled at build time, so the runtime-only vue-i18n (no message compiler) ships.
    VueI18nPlugin({
      runtimeOnly: true,
      compositionOnly: true,
      fullInstall: false,
      include: [fileURLToPath(new URL('./src/**/locales/*.json', import.meta.url))],
    }),
    // Element Plus components and their styles are imported where used, not the whole library.
    AutoImport({ resolvers: [ElementPlusResolver()], dts: false }),
    Components({ resolvers: [ElementPlusResolver()], dts: false }),
  ],
  resolve: { alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) } },
  server: {
    proxy: { '/v1': { target: api, changeOrigin: false }, '/openapi.json': api },
  },
  build: { target: 'es2022', chunkSizeWarningLimit: 400 },
  test: { include: ['src/**/*.spec.ts'], environment: 'node' },
})

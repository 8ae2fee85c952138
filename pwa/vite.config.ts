// The PWA's build: Preact's JSX through Vite's own transform (no Babel), and a service worker
// (Workbox, by vite-plugin-pwa) that precaches the whole app, WASM included, so that it
// starts with no network at all.
import { defineConfig } from 'vite';
import { VitePWA } from 'vite-plugin-pwa';

export default defineConfig({
  oxc: {
    jsx: { runtime: 'automatic', importSource: 'preact' },
  },
  build: {
    target: 'es2022',
    // The WASM is one file of a few megabytes; it is precached, not split.
    chunkSizeWarningLimit: 4096,
  },
  plugins: [
    VitePWA({
      registerType: 'autoUpdate',
      injectRegister: false,
      manifest: {
        name: '田间 · 党员活动记录',
        short_name: '田间',
        description: '离线记录微党课、志愿服务、走访，联网后自动同步。',
        lang: 'zh-CN',
        start_url: '/',
        scope: '/',
        display: 'standalone',
        background_color: '#ffffff',
        theme_color: '#c8102e',
        icons: [
          { src: '/icons/icon-192.png', sizes: '192x192', type: 'image/png' },
          { src: '/icons/icon-512.png', sizes: '512x512', type: 'image/png' },
          { src: '/icons/maskable-512.png', sizes: '512x512', type: 'image/png', purpose: 'maskable' },
        ],
      },
      workbox: {
        globPatterns: ['**/*.{js,css,html,wasm,png,svg,webmanifest}'],
        // The QR decoder is for signing in, which needs the network anyway: phones fetch it
        // only if they open the scanner, never with the offline copy of the app.
        globIgnores: ['**/jsQR-*.js'],
        maximumFileSizeToCacheInBytes: 16 * 1024 * 1024,
        navigateFallback: '/index.html',
        // The server's own paths are never answered from the app shell.
        navigateFallbackDenylist: [/^\/api\//, /^\/sync/, /^\/files\//, /^\/blobs\//, /^\/healthz/],
        cleanupOutdatedCaches: true,
        // A new version takes over at once; nothing of the person's lives in the caches.
        clientsClaim: true,
        skipWaiting: true,
      },
    }),
  ],
});

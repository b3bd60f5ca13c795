import { defineConfig } from 'vite';

// In development the dashboard runs on Vite and calls the API through this proxy; in production
// the API serves the built files (apps/dashboard/dist) itself, on the same origin.
export default defineConfig({
  oxc: { jsx: { runtime: 'automatic' } },
  server: {
    proxy: { '/v1': process.env.LRSWEEP_API_URL ?? 'http://127.0.0.1:3000' },
  },
  build: { outDir: 'dist', sourcemap: false, chunkSizeWarningLimit: 1000 },
});

/**
 * The UI build: static files in dist/ that `tally serve --static-dir` serves at `/`. The server's CSP allows
 * scripts and styles from 'self' only, so the build must emit no inline <script> or style attribute: Vite puts
 * the entry (and its module-preload helper) in a hashed file and the CSS in a <link>ed file.
 */
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

export default defineConfig({
  plugins: [react()],
  base: '/',
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    // Assets under 4 KiB would become data: URLs inside CSS/JS; files keep the policy simple (img-src allows data: anyway).
    assetsInlineLimit: 0,
    sourcemap: false,
    target: 'es2022',
  },
  server: {
    // `npm run dev -w @tally/web` against a running `tally serve` on the default port.
    proxy: { '/api': 'http://127.0.0.1:8080' },
  },
});

#!/usr/bin/env node
// Bundles the CLI into one ESM file (packages/cli/dist/tally.mjs). Loading hundreds of small ES modules cost
// ~0.5 s of start-up per command (measured: `tally --version` 0.73 s unbundled, 0.3 s bundled), which is most of
// a warm-cache scan. Kept external: native modules, the server (imported only by `serve` and friends), and the
// CycloneDX library (it locates its bundled resources through __dirname; loaded only when writing CycloneDX).
import { build } from 'esbuild';

await build({
  entryPoints: [new URL('../packages/cli/src/main.ts', import.meta.url).pathname],
  // Code splitting: what is imported dynamically (SBOM/SARIF/JUnit writers, the server commands) becomes a chunk
  // loaded on first use, so its dependencies (the CycloneDX library…) are not loaded by every command.
  outdir: new URL('../packages/cli/dist', import.meta.url).pathname,
  entryNames: 'tally',
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  splitting: true,
  minifyWhitespace: true,
  minifySyntax: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  external: ['better-sqlite3', 'pg', '@tally/server', '@cyclonedx/cyclonedx-library'],
  // CommonJS dependencies inside an ES module bundle need their own require, __filename and __dirname
  // (@yarnpkg/lockfile reads __filename/__dirname when it loads).
  banner: {
    js: [
      "import { createRequire as __tallyCreateRequire } from 'node:module';",
      "import { fileURLToPath as __tallyFileURLToPath } from 'node:url';",
      "import { dirname as __tallyDirname } from 'node:path';",
      'const require = __tallyCreateRequire(import.meta.url);',
      'const __filename = __tallyFileURLToPath(import.meta.url);',
      'const __dirname = __tallyDirname(__filename);',
    ].join(' '),
  },
});

#!/usr/bin/env node
// Bundles the CLI into one file, packages/cli/dist/tally-bundle.cjs, run by the launcher dist/tally.mjs (from
// packages/cli/launcher/tally.mjs) through a V8 code cache. Loading hundreds of small ES modules cost ~0.5 s of
// start-up per command (measured: `tally --version` 0.73 s unbundled, 0.3 s bundled); then parsing the bundle was
// the largest part left, which the code cache removes (Node 20 has no module.enableCompileCache, and vm.Script,
// which takes a code cache, runs scripts, not ES modules: hence CommonJS, and no top-level await in the sources).
// Kept external: native modules, the server (imported only by `serve` and friends), and the CycloneDX library (it
// locates its bundled resources through __dirname; loaded only when writing CycloneDX). @tally/server/protocol (a
// few constants, no imports) is bundled: an ES module cannot be required by CommonJS on Node 20.
import { createHash } from 'node:crypto';
import { chmodSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { build } from 'esbuild';

const dist = new URL('../packages/cli/dist/', import.meta.url).pathname;
const launcher = new URL('../packages/cli/launcher/tally.mjs', import.meta.url).pathname;

// what the previous ESM build left (dist/chunks/, dist/tally.mjs.map)
rmSync(`${dist}chunks`, { recursive: true, force: true });
rmSync(`${dist}tally.mjs.map`, { force: true });

/** External: '@tally/server' and its subpaths, except the protocol constants. */
const externals = {
  name: 'tally-externals',
  setup(b) {
    b.onResolve({ filter: /^(better-sqlite3|pg|@tally\/server|@cyclonedx\/cyclonedx-library)(\/.*)?$/ }, (args) =>
      args.path === '@tally/server/protocol' ? undefined : { path: args.path, external: true },
    );
  },
};

/**
 * Work a dependency does when loaded, deferred to first use or avoided (same results). commander loads
 * node:child_process (and with it net, stream…) for git-style subcommands, which Tally does not have. packageurl-js
 * builds an Intl.Collator (~9 ms of ICU set-up on every command that writes a purl) to sort its eight component names
 * by their sort-order numbers 0–7, which compare the same as numbers. A patch must match exactly, or the build stops.
 */
const PATCHES = [
  {
    file: /node_modules\/commander\/lib\/command\.js$/,
    from: "const childProcess = require('node:child_process');",
    to: "const childProcess = { spawn: (...args) => require('node:child_process').spawn(...args) };",
    // nothing but childProcess.spawn( may use it
    check: (text) => (text.match(/childProcess\./g) ?? []).length === (text.match(/childProcess\.spawn\(/g) ?? []).length,
  },
  {
    file: /node_modules\/packageurl-js\/src\/strings\.js$/,
    from: 'const { compare: localeCompare } = new Intl.Collator()',
    to: "let collator; const localeCompare = (a, b) => typeof a === 'number' && typeof b === 'number' ? a - b : (collator ??= new Intl.Collator()).compare(a, b)",
  },
];
const patches = {
  name: 'tally-patches',
  setup(b) {
    b.onLoad({ filter: new RegExp(PATCHES.map((p) => p.file.source).join('|')) }, (args) => {
      const patch = PATCHES.find((p) => p.file.test(args.path));
      if (!patch) return undefined;
      const text = readFileSync(args.path, 'utf8');
      if (text.split(patch.from).length !== 2 || (patch.check && !patch.check(text))) {
        throw new Error(`bundle-cli: ${args.path} changed: update its patch in scripts/bundle-cli.mjs`);
      }
      return { contents: text.replace(patch.from, patch.to), loader: 'js' };
    });
  },
};

/**
 * CommonJS dependencies loaded on first use instead of when the modules importing them load: `import { PackageURL }
 * from 'packageurl-js'` gets an object of getters that require the real module when one is first read. Bundled all
 * the same. For plain CommonJS packages only (no __esModule, no default key: an ES module importing one gets the
 * exports object as its default import either way), whose functions do not use `this`.
 */
const LAZY = ['packageurl-js', 'semver'];
const requireFromRoot = createRequire(new URL('../package.json', import.meta.url));
const lazyCjs = {
  name: 'tally-lazy-cjs',
  setup(b) {
    const filter = new RegExp(`^(${LAZY.map((m) => m.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')).join('|')})$`);
    // Tally's own imports only: a dependency may need another version of the package (from its own node_modules)
    b.onResolve({ filter }, (args) =>
      args.namespace === 'tally-lazy' || args.importer.includes('/node_modules/') ? undefined : { path: args.path, namespace: 'tally-lazy' },
    );
    b.onLoad({ filter: /.*/, namespace: 'tally-lazy' }, (args) => {
      const keys = Object.keys(requireFromRoot(args.path));
      if (keys.includes('default') || keys.includes('__esModule')) throw new Error(`bundle-cli: ${args.path} is not plain CommonJS: take it off LAZY`);
      const getters = keys.map((k) => `${JSON.stringify(k)}: { enumerable: true, get: () => load()[${JSON.stringify(k)}] }`);
      return {
        contents: `let m; const load = () => (m ??= require(${JSON.stringify(args.path)}));\nmodule.exports = Object.defineProperties({}, {\n${getters.join(',\n')}\n});\n`,
        loader: 'js',
        resolveDir: requireFromRoot.resolve('./package.json').replace(/\/package\.json$/, ''),
      };
    });
  },
};

await build({
  entryPoints: { 'tally-bundle': new URL('../packages/cli/src/main.ts', import.meta.url).pathname },
  outdir: dist,
  outExtension: { '.js': '.cjs' },
  minifyWhitespace: true,
  minifySyntax: true,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: true,
  logLevel: 'warning',
  plugins: [externals, patches, lazyCjs],
  // The launcher calls the bundle as a CommonJS module wrapper, plus the URL import.meta.url stood for in ESM.
  define: { 'import.meta.url': '__tallyImportMetaUrl' },
  banner: { js: '(function (exports, require, module, __filename, __dirname, __tallyImportMetaUrl, __tImp) {' },
  footer: { js: '})' },
});

// import() inside a vm.Script needs --experimental-vm-modules on Node 20 (or an experimental loader that warns),
// so each import("specifier") becomes __tImp("specifier"): the launcher's import(), which resolves from the same
// directory. The same length keeps the source map right. Any other import( (in a string, a template) stops the build.
const bundlePath = `${dist}tally-bundle.cjs`;
const code = readFileSync(bundlePath, 'utf8');
const imports = code.match(/\bimport\(/g)?.length ?? 0;
const rewritten = code.replace(/\bimport\((?="[^"\\]+"\))/g, '__tImp(');
const left = rewritten.match(/\bimport\(/g)?.length ?? 0;
// The launcher reads the bundle as latin1, 4× faster than utf8 for 1.6 MB: that needs it to be ASCII (esbuild
// escapes non-ASCII in code; a comment with some would stop the build here).
if (/[^\x00-\x7f]/.test(rewritten)) throw new Error('bundle-cli: the bundle is not ASCII (the launcher reads it as latin1)');
if (left !== 0) throw new Error(`bundle-cli: ${left} of ${imports} import( in the bundle are not import("literal"): see scripts/bundle-cli.mjs`);
writeFileSync(bundlePath, rewritten);
const bundle = Buffer.from(rewritten);
const hash = createHash('sha256').update(bundle).digest('hex').slice(0, 16);
const commands = readdirSync(new URL('../packages/cli/src/commands/', import.meta.url))
  .filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts'))
  .map((f) => f.slice(0, -'.ts'.length));
const text = readFileSync(launcher, 'utf8').replace('%BUNDLE_HASH%', hash).replace('%COMMANDS%', JSON.stringify(commands));
writeFileSync(`${dist}tally.mjs`, text);
chmodSync(`${dist}tally.mjs`, 0o755);

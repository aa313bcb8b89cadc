#!/usr/bin/env node
// The CLI's entry point (copied to dist/tally.mjs by scripts/bundle-cli.mjs). It runs the CommonJS bundle
// dist/tally-bundle.cjs through vm.Script with a V8 code cache: parsing and compiling the 1.5 MB bundle was most of
// every command's start-up. The cache (the bundle compiled, with every function the runs of a command compiled) is
// kept in the user's cache directory, one file per bundle build, Node (V8) and command; it is written atomically
// after each of a command's first GENERATIONS runs, and ignored when it cannot be read or written or when V8
// rejects it.
// Built-in modules through process.getBuiltinModule, not `import`: an ES module facade of node:fs reads every
// export, which loads the fs streams (~6 ms).
const { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } = process.getBuiltinModule('node:fs');
const { createRequire } = process.getBuiltinModule('node:module');
const { homedir } = process.getBuiltinModule('node:os');
const { dirname, join } = process.getBuiltinModule('node:path');
const { fileURLToPath, pathToFileURL } = process.getBuiltinModule('node:url');
const { Script } = process.getBuiltinModule('node:vm');

/** Hash of the bundle's contents, filled in by scripts/bundle-cli.mjs. */
const BUNDLE_HASH = '%BUNDLE_HASH%';
/** The first arguments that are commands; any other run shares one cache. */
const COMMANDS = new Set(%COMMANDS%);
/**
 * Runs of a command that add what they compiled to its cache (a file starts with one byte: how many runs made it).
 * The first run's path is not every run's (a warm scan uses the layer cache, a cold one the extractors, SCA more):
 * a function left out is compiled again on every run, ~40 ms of a warm scan. After these runs the file stays as it
 * is, so the steady state pays nothing (making the cache costs 5–10 ms).
 */
const GENERATIONS = 4;

const file = fileURLToPath(new URL('./tally-bundle.cjs', import.meta.url));
// ASCII (checked by the build), so latin1 reads it the same, several times faster than utf8
const source = readFileSync(file, 'latin1');
const cachePath = codeCachePath();
let cachedData;
let generation = 0;
if (cachePath !== null) {
  try {
    const saved = readFileSync(cachePath);
    if (saved.length > 1) {
      generation = saved[0];
      cachedData = saved.subarray(1);
    }
  } catch {
    // no cache yet, or unreadable: compile from source
  }
}
const script = new Script(source, {
  filename: file,
  ...(cachedData ? { cachedData } : {}),
});
/** V8 took the saved cache (else this run compiles from source and starts the count again). */
const loaded = cachedData !== undefined && !script.cachedDataRejected;
if (!loaded) generation = 0;
if (cachePath !== null && generation < GENERATIONS) process.once('exit', () => writeCodeCache(cachePath, generation + 1));
// The bundle is one function expression (esbuild's banner and footer): a CommonJS module wrapper, plus the URL
// import.meta.url stands for and the import() of the ES modules left out of the bundle (the server), resolved from
// this directory, the bundle's (vm code cannot call import() itself on Node 20 without an experimental flag).
const main = script.runInThisContext();
const module = { exports: {} };
main.call(module.exports, module.exports, createRequire(file), module, file, dirname(file), pathToFileURL(file).href, (specifier) => import(specifier));

/** Where this bundle's code cache for this command lives: the cache directory as `tally scan` defaults it. */
function codeCachePath() {
  try {
    const env = process.env['TALLY_CACHE_DIR'];
    const xdg = process.env['XDG_CACHE_HOME'];
    const dir = env ? env : join(xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.cache'), 'tally');
    const { size, mtimeMs } = statSync(file);
    const command = COMMANDS.has(process.argv[2]) ? process.argv[2] : 'other';
    const key = [BUNDLE_HASH, size, Math.trunc(mtimeMs), process.version, process.versions.v8, process.arch, command].join('-');
    return join(dir, 'code-cache', `tally-${key.replace(/[^\w.-]/g, '_')}.bin`);
  } catch {
    return null;
  }
}

/** After the run, so the functions it compiled lazily are in the cache too; never fails the command. */
function writeCodeCache(path, runs) {
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    // A long run can end with less than it loaded (V8 drops the bytecode of functions idle across many GCs): the
    // larger cache is kept, the run still counted.
    const made = script.createCachedData();
    const data = loaded && cachedData.length > made.length ? cachedData : made;
    makeDir(dirname(path), 3);
    writeFileSync(tmp, Buffer.concat([Buffer.from([runs]), data]), { mode: 0o644 });
    renameSync(tmp, path);
    removeStaleCaches(dirname(path), path);
  } catch {
    try {
      rmSync(tmp, { force: true });
    } catch {
      // nothing to clean up
    }
  }
}

/** mkdir -p of at most `depth` levels (~/.cache/tally/code-cache); not recursive mkdirSync, which spins forever under /proc. */
function makeDir(dir, depth) {
  try {
    mkdirSync(dir);
  } catch (err) {
    if (err.code === 'EEXIST') return;
    if (err.code !== 'ENOENT' || depth <= 1 || dirname(dir) === dir) throw err;
    makeDir(dirname(dir), depth - 1);
    mkdirSync(dir);
  }
}

/**
 * Other builds' caches (another bundle or Node) left for a week: deleted, so rebuilds do not pile them up. A cache
 * still in use by another installation is written again on its next run; within the week, never (no ping-pong).
 */
function removeStaleCaches(dir, keep) {
  const weekAgo = Date.now() - 7 * 24 * 3600 * 1000;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (path === keep || !name.startsWith('tally-') || !name.endsWith('.bin')) continue;
    try {
      if (statSync(path).mtimeMs < weekAgo) rmSync(path, { force: true });
    } catch {
      // gone already, or not ours to delete
    }
  }
}

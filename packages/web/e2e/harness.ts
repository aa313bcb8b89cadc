/**
 * Test support for the UI's end-to-end run: the real CLI (scans, tokens, `tally serve` in a process of its own),
 * the UI built by Vite, and uploads spoken the way a sensor speaks them. Everything lives in one temp directory
 * that is removed at the end; the server is stopped by its PID.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const repoRoot = new URL('../../../', import.meta.url).pathname;
export const webRoot = join(repoRoot, 'packages/web');
const tallyBin = process.env['TALLY_E2E_CLI'] ?? join(repoRoot, 'packages/cli/bin/tally.js');

export function makeScratch(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'tally-web-e2e-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export function tally(args: readonly string[]): string {
  const r = spawnSync(process.execPath, [tallyBin, ...args], { encoding: 'utf8', maxBuffer: 1 << 28 });
  // `scan` exits 1 when it found vulnerabilities it was told to fail on; anything else non-zero is a failure.
  if (r.status !== 0 && !(args[0] === 'scan' && r.status === 1)) {
    throw new Error(`tally ${args.join(' ')} exited ${r.status ?? r.signal}: ${r.stderr}`);
  }
  return r.stdout;
}

/** The test images (tools/build-test-images.sh prints their root on its last line; cached after the first build). */
export function testImagesRoot(): string {
  const r = spawnSync('bash', [join(repoRoot, 'tools/build-test-images.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error('tools/build-test-images.sh failed');
  const last = r.stdout.trim().split('\n').pop();
  if (last === undefined || last === '') throw new Error('tools/build-test-images.sh printed no path');
  return last;
}

/** `vite build` of packages/web into dist/ (what `tally serve --static-dir` serves). */
export function buildUi(): string {
  const vite = join(repoRoot, 'node_modules/vite/bin/vite.js');
  const r = spawnSync(process.execPath, [vite, 'build', '--logLevel', 'warn'], { cwd: webRoot, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`vite build failed: ${r.stdout}${r.stderr}`);
  return join(webRoot, 'dist');
}

/**
 * The server's vulnerability database: the shared advisory data and the Debian tracker fixture imported by the
 * CLI into a cache directory, copied to where `tally serve` reads it (<data-dir>/vulndb/tally.db).
 */
export function installVulnDb(scratch: string, dataDir: string): string {
  const cache = join(scratch, 'cli-cache');
  tally(['db', 'import', join(repoRoot, '..', 'shared', 'vulndb'), '--cache-dir', cache]);
  tally(['db', 'import', join(repoRoot, 'packages/server/src/testdata/debian12-tracker.json'), '--cache-dir', cache]);
  mkdirSync(join(dataDir, 'vulndb'), { recursive: true });
  copyFileSync(join(cache, 'db', 'tally.db'), join(dataDir, 'vulndb', 'tally.db'));
  return cache;
}

export interface Served {
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/** `tally serve` on 127.0.0.1 and a free port, with the built UI; resolves once it prints its URL. */
export async function serve(dataDir: string, staticDir: string): Promise<Served> {
  const child: ChildProcess = spawn(
    process.execPath,
    [tallyBin, 'serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', '0', '--static-dir', staticDir, '--log-level', 'warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const stderr = child.stderr;
  if (stderr === null || child.pid === undefined) throw new Error('tally serve did not start');
  const pid = child.pid;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const log: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`tally serve printed no URL in 30 s:\n${log.join('\n')}`)), 30_000);
    child.once('exit', (code) => reject(new Error(`tally serve exited ${code}:\n${log.join('\n')}`)));
    createInterface({ input: stderr }).on('line', (line) => {
      log.push(line);
      const m = /serving (http:\/\/\S+)/.exec(line);
      if (m?.[1] !== undefined) {
        clearTimeout(timer);
        resolve(m[1]);
      }
    });
  });
  return {
    url,
    pid,
    stop: async () => {
      if (child.exitCode !== null) return;
      process.kill(pid, 'SIGTERM');
      const killer = setTimeout(() => process.kill(pid, 'SIGKILL'), 15_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

const SENSOR_HEADERS = { 'x-tally-protocol': '1', 'x-tally-sensor-version': 'e2e' };

/** POST a report as `tally scan --upload` does. */
export async function uploadReport(base: string, token: string, report: unknown, host: string): Promise<{ imageId: string; evaluated: boolean }> {
  const body = JSON.stringify(report);
  const sensor = (report as { sensor?: { type?: string; performScaScan?: boolean } }).sensor;
  const res = await fetch(`${base}/api/v1/scans`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/json',
      ...SENSOR_HEADERS,
      'x-tally-sensor-host': host,
      'x-tally-sensor-type': sensor?.type ?? 'cicd',
      'x-tally-perform-sca': String(sensor?.performScaScan ?? false),
    },
    body,
  });
  const text = await res.text();
  if (res.status !== 200 && res.status !== 201) throw new Error(`upload answered ${res.status}: ${text}`);
  return JSON.parse(text) as { imageId: string; evaluated: boolean };
}

/** A General sensor's container list for its host (PUT /api/v1/containers). */
export async function putContainers(base: string, token: string, host: string, containers: readonly object[]): Promise<void> {
  const res = await fetch(`${base}/api/v1/containers`, {
    method: 'PUT',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...SENSOR_HEADERS, 'x-tally-sensor-host': host, 'x-tally-sensor-type': 'general' },
    body: JSON.stringify({ type: 'general', performScaScan: false, containers }),
  });
  if (res.status !== 200) throw new Error(`PUT /api/v1/containers answered ${res.status}: ${await res.text()}`);
}

export async function apiGet<T>(base: string, token: string, path: string): Promise<T> {
  const res = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${token}` } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${text}`);
  return JSON.parse(text) as T;
}

/** End-to-end test support: the real `tally` binary as a user runs it, and the cached real test images. */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const repoRoot = new URL('../../../../', import.meta.url).pathname;
const bin = join(repoRoot, 'packages/cli/bin/tally.js');

export interface Run {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

export function tally(args: readonly string[], env: Record<string, string> = {}): Run {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', maxBuffer: 1 << 28, env: { ...process.env, ...env } });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** The CLI without blocking this process (in-process servers of the test must keep answering while it runs). */
export function tallyAsync(args: readonly string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

/** Scan and parse the JSON report; fails the test with stderr when the scan fails. */
export function scanJson(target: string, extra: readonly string[] = []): ScanJson {
  const r = tally(['scan', target, '--format', 'json', '--quiet', '--no-cache', ...extra]);
  if (r.code !== 0) throw new Error(`tally scan ${target} exited ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as ScanJson;
}

export interface ScanJson {
  scanTypes: string[];
  image: {
    imageId: string | null;
    manifestDigest: string | null;
    repoTags: string[];
    platform: { os: string; architecture: string; variant: string | null } | null;
    os: { family: string; version: string } | null;
    layers: { index: number; digest: string | null; diffId: string | null; size: number | null; createdBy: string | null; mediaType: string; packages: { os: number; lang: number } }[];
  };
  packages: { name: string; version: string; arch?: string; type: string; purl: string; class: string; scanType: string; layer: { index: number }; locations: string[]; source?: { name: string; version: string } }[];
  issues: { layer: number | null; path: string | null; message: string }[];
}

let imagesRoot: string | null = null;

/** Builds (first time, a few minutes) or reuses the real test images of tools/build-test-images.sh. */
export function testImages(): string {
  imagesRoot ??= execFileSync('bash', [join(repoRoot, 'tools/build-test-images.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 })
    .trim()
    .split('\n')
    .pop()!;
  return imagesRoot;
}

export function readJson<T>(path: string): T {
  return JSON.parse(readFileSync(path, 'utf8')) as T;
}

export function lines(path: string): string[] {
  return readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '').sort();
}

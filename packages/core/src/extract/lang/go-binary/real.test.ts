/**
 * Real Go binaries, read through the same stream types the scanner meets (tar-stream entries). They are too big to
 * commit, so each is fetched once into the cache (~/.cache/tally, or $TALLY_DEB_CACHE for .deb files) from the
 * npm registry or Debian's archive, checked against a pinned hash, and reused. Offline and not cached: skipped.
 * Set TALLY_OFFLINE=1 to never download. Expected values are what `go version -m` (go1.19.8) prints for them.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';
import { createGunzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { goBinaryExtractor } from './index.js';

const CACHE = join(homedir(), '.cache', 'tally');
const DEB_CACHE = process.env['TALLY_DEB_CACHE'] ?? join(CACHE, 'debs');
const NPM_CACHE = join(CACHE, 'go-binaries');

interface Artifact {
  readonly file: string;
  readonly dir: string;
  readonly url: string;
  /** `sha256-<hex>` or `sha512-<base64>` (npm integrity). */
  readonly hash: string;
}

function hashOk(data: Buffer, hash: string): boolean {
  const [alg, want] = hash.split(/-(.*)/s) as [string, string];
  const h = createHash(alg).update(data);
  return alg === 'sha256' ? h.digest('hex') === want : h.digest('base64') === want;
}

/** The artifact's path in the cache, downloading it if needed; null (with the reason) when it cannot be had. */
async function obtain(a: Artifact): Promise<{ path: string } | { skip: string }> {
  const path = join(a.dir, a.file);
  if (existsSync(path)) {
    if (hashOk(readFileSync(path), a.hash)) return { path };
    return { skip: `${path} is cached but its hash is not ${a.hash}` };
  }
  if (process.env['TALLY_OFFLINE'] === '1') return { skip: `${a.file} is not cached and TALLY_OFFLINE=1` };
  try {
    const res = await fetch(a.url, { signal: AbortSignal.timeout(60_000) });
    if (!res.ok) return { skip: `${a.file} is not cached and ${a.url} answered ${res.status}` };
    const data = Buffer.from(await res.arrayBuffer());
    if (!hashOk(data, a.hash)) return { skip: `${a.url} did not match ${a.hash}` };
    mkdirSync(a.dir, { recursive: true });
    const tmp = `${path}.part-${process.pid}`;
    writeFileSync(tmp, data);
    renameSync(tmp, path);
    return { path };
  } catch (err) {
    return { skip: `${a.file} is not cached and could not be downloaded (offline?): ${String(err)}` };
  }
}

interface Found {
  readonly path: string;
  readonly packages: string[];
  readonly issues: string[];
}

/** Run the extractor on every executable the tar stream holds, as the layer runner does (entry streams, drained). */
async function scanTar(tarStream: Readable): Promise<Found[]> {
  const found: Found[] = [];
  const extract = tar.extract();
  tarStream.pipe(extract as unknown as NodeJS.WritableStream);
  for await (const entry of extract) {
    const path = '/' + entry.header.name.replace(/^\.?\//, '');
    const mode = 0o100000 | (entry.header.mode ?? 0);
    if (entry.header.type !== 'file' || !goBinaryExtractor.required(path, mode)) {
      entry.resume();
      continue;
    }
    const issues: string[] = [];
    const stream = entry as unknown as Readable;
    const out = await goBinaryExtractor.extractStream(stream, { path, size: entry.header.size ?? 0, mode }, {
      tempDir: '/nonexistent',
      signal: new AbortController().signal,
      isLanguageArtifact: null,
      issue: (m) => issues.push(m),
    });
    entry.resume(); // drain what the extractor left, as run-layer does
    found.push({ path, packages: out.packages.map((p) => `${p.name}@${p.version}`), issues });
  }
  return found;
}

function debContents(deb: string): Readable {
  const child = spawn('dpkg-deb', ['--fsys-tarfile', deb], { stdio: ['ignore', 'pipe', 'inherit'] });
  return child.stdout;
}

async function check(t: TestContext, a: Artifact, open: (path: string) => Readable, want: Record<string, string[]>): Promise<void> {
  const got = await obtain(a);
  if ('skip' in got) {
    t.skip(got.skip);
    return;
  }
  const found = await scanTar(open(got.path));
  const withPackages = Object.fromEntries(found.filter((f) => f.packages.length > 0 || f.issues.length > 0).map((f) => [f.path, f.packages]));
  assert.deepEqual(withPackages, want);
  assert.deepEqual(found.flatMap((f) => f.issues), []);
}

const npm = (name: string, version: string, integrity: string): Artifact => ({
  file: `${name}-${version}.tgz`,
  dir: NPM_CACHE,
  url: `https://registry.npmjs.org/${name}/-/${name}-${version}.tgz`,
  hash: integrity,
});

const deb = (pool: string, sha256: string): Artifact => ({
  file: pool.slice(pool.lastIndexOf('/') + 1),
  dir: DEB_CACHE,
  url: `http://deb.debian.org/debian/${pool}`,
  hash: `sha256-${sha256}`,
});

const tgz = (path: string): Readable => createReadStream(path).pipe(createGunzip());

const ESBUILD_OLD = ['github.com/evanw/esbuild@(devel)', 'golang.org/x/sys@v0.0.0-20210908233432-aa78b53d3365', 'stdlib@v1.17.5'];
const ESBUILD_NEW = ['github.com/evanw/esbuild@v0.0.0-20220808141930-04ef75fd7ff5', 'golang.org/x/sys@v0.0.0-20220715151400-c0bba94af5f8', 'stdlib@v1.19.0'];

describe('real Go binaries from npm (esbuild platform packages)', () => {
  it('go1.16 pointer format, ELF64 LE', async (t) => {
    await check(t, npm('esbuild-linux-64', '0.8.57', 'sha512-+6Cng2L8ed6/DWOS+t2Dj8/54uIvWqpNg25UFC3CPAmAYkZR/tCKEsIHyKeUzvLCXtZ++jIsylr7UMwMuveTLA=='), tgz, {
      '/package/bin/esbuild': ['github.com/evanw/esbuild@(devel)', 'golang.org/x/sys@v0.0.0-20200501145240-bc7a7d42d5c3', 'stdlib@v1.16.0'],
    });
  });
  it('go1.17.5 pointer format, ELF64 LE', async (t) => {
    await check(t, npm('esbuild-linux-64', '0.14.10', 'sha512-K+gCQz2oLIIBI8ZM77e9sYD5/DwEpeYCrOQ2SYXx+R4OU2CT9QjJDi4/OpE7ko4AcYMlMW7qrOCuLSgAlEj4Wg=='), tgz, { '/package/bin/esbuild': ESBUILD_OLD });
  });
  it('go1.17.5 pointer format, ELF32 LE (386)', async (t) => {
    await check(t, npm('esbuild-linux-32', '0.14.10', 'sha512-lktF09JgJLZ63ANYHIPdYe339PDuVn19Q/FcGKkXWf+jSPkn5xkYzAabboNGZNUgNqSJ/vY7VrOn6UrBbJjgYA=='), tgz, { '/package/bin/esbuild': ESBUILD_OLD });
  });
  it('go1.17.5 pointer format, ELF64 big-endian (s390x)', async (t) => {
    await check(t, npm('esbuild-linux-s390x', '0.14.10', 'sha512-knArKKZm0ypIYWOWyOT7+accVwbVV1LZnl2FWWy05u9Tyv5oqJ2F5+X2Vqe/gqd61enJXQWqoufXopvG3zULOg=='), tgz, { '/package/bin/esbuild': ESBUILD_OLD });
  });
  it('go1.19 inline format with VCS stamps, ELF64 LE', async (t) => {
    await check(t, npm('esbuild-linux-64', '0.14.54', 'sha512-EgjAgH5HwTbtNsTqQOXWApBaPVdDn7XcK+/PtJwZLT1UmpLoznPd8c5CxqsH2dQK3j05YsB3L17T8vE7cp4cCg=='), tgz, { '/package/bin/esbuild': ESBUILD_NEW });
  });
  it('go1.19 inline format, ELF64 big-endian (s390x)', async (t) => {
    await check(t, npm('esbuild-linux-s390x', '0.14.54', 'sha512-zaHpW9dziAsi7lRcyV4r8dhfG1qBidQWUXweUjnw+lliChJqQr+6XD71K41oEIC3Mx1KStovEmlzm+MkGZHnHA=='), tgz, { '/package/bin/esbuild': ESBUILD_NEW });
  });
});

describe('real Go binaries from Debian packages', () => {
  it('bullseye runc: go1.15 pointer format, external linking (string header before the magic)', async (t) => {
    await check(t, deb('pool/main/r/runc/runc_1.0.0~rc93+ds1-5+deb11u5_amd64.deb', '24bffd5d8b1c4b846112b668b4bf6e5959a25594c6484d0323d9748ce4465f60'), debContents, {
      '/usr/sbin/runc': ['stdlib@v1.15.15'],
    });
  });
  it('bullseye fzf: go1.15 pointer format, GOPATH build (module info in .bss)', async (t) => {
    await check(t, deb('pool/main/f/fzf/fzf_0.24.3-1+b6_amd64.deb', '15912ab0d9d2963c116573a5b438395f3153d4a1682b0ff7b47cc764c0cf578c'), debContents, {
      '/usr/bin/fzf': ['stdlib@v1.15.9'],
    });
  });
  it('bookworm age: go1.19 inline format, GOPATH builds', async (t) => {
    await check(t, deb('pool/main/a/age/age_1.1.1-1+b3_amd64.deb', '574664c44f1c69ec9cb8f6f25ae3eaba647c923f62b65cca5086c899c1c26e09'), debContents, {
      '/usr/bin/age': ['stdlib@v1.19.8'],
      '/usr/bin/age-keygen': ['stdlib@v1.19.8'],
    });
  });
});

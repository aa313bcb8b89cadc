/**
 * Entries shared through a backend: the codec keeps real layer results intact and refuses hostile ones; the HTTP
 * client turns every backend failure into a miss with one warning; the tiered cache copies backend hits locally.
 * The happy path against the real backend is in packages/server (routes) and packages/cli/src/e2e/layer-cache.test.ts;
 * here a fake backend shows what no honest one does (hangs, oversized or invalid entries).
 */
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { serializeLayerResult, type LayerResult } from '../extract/layer-result.js';
import { DEFAULT_PLATFORM } from '../image/sources/oci-manifest.js';
import { sourceForTarget } from '../image/sources/target.js';
import { scanImage } from '../scan.js';
import { startHttpServer } from '../testing/registry-server.js';
import { writeOciLayout, type ImageSpec } from '../testing/image-builder.js';
import { BackendLayerCache } from './backend-layer-cache.js';
import { decodeLayerEntry, encodeLayerEntry, LayerCacheEntryError, MAX_ENTRY_INFLATED_BYTES } from './entry.js';
import { DirectoryLayerCache, type LayerCache } from './layer-cache.js';
import { TieredLayerCache } from './tiered-layer-cache.js';

class MemoryCache implements LayerCache {
  readonly entries = new Map<string, LayerResult>();
  async get(key: string): Promise<LayerResult | null> {
    return this.entries.get(key) ?? null;
  }
  async put(key: string, result: LayerResult): Promise<void> {
    this.entries.set(key, result);
  }
}

/** What survives JSON: the comparison a round trip must pass. */
const plain = (r: LayerResult): unknown => JSON.parse(JSON.stringify(serializeLayerResult(r)));

const SPEC: ImageSpec = {
  layers: [
    {
      entries: [
        { name: 'usr/lib/os-release', content: 'ID=debian\nVERSION_ID="12"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' },
        { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
        {
          name: 'var/lib/dpkg/status',
          content: 'Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\nArchitecture: amd64\nMaintainer: GNU Libc Maintainers <x@y>\nSource: glibc\n\n',
        },
        { name: 'var/lib/dpkg/info/nodejs.list', content: '/usr/lib/node_modules/npm/package.json\n' },
        { name: 'usr/lib/node_modules/npm/package.json', content: JSON.stringify({ name: 'npm', version: '9.2.0', license: 'Artistic-2.0' }) },
        { name: 'opt/old/file', content: 'x' },
      ],
    },
    {
      entries: [
        { name: 'opt/.wh.old', content: '' },
        { name: 'srv/.wh..wh..opq', content: '' },
        { name: 'app/node_modules/left-pad/package.json', content: JSON.stringify({ name: 'left-pad', version: '1.3.0', license: 'WTFPL' }) },
      ],
    },
  ],
};

let dir: string;
let results: [string, LayerResult][];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-shared-cache-'));
  await writeOciLayout(join(dir, 'oci'), SPEC);
  const cache = new MemoryCache();
  await scanImage(await sourceForTarget(`oci:${join(dir, 'oci')}`, { platform: DEFAULT_PLATFORM, platformExplicit: false }), { cache, performScaScan: true, tempRoot: dir });
  results = [...cache.entries];
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('layer cache entries', () => {
  it('a real layer result survives encode → decode unchanged', async () => {
    assert.equal(results.length, 2);
    const all = results.map(([, r]) => r);
    assert.ok(all.some((r) => [...r.files.values()].some((recs) => recs.some((f) => f.packages.some((p) => p.metadata !== undefined && p.source !== undefined)))), 'packages with source and metadata');
    assert.ok(all.some((r) => [...r.files.values()].some((recs) => recs.some((f) => (f.ownership?.length ?? 0) > 0))), 'ownership');
    assert.ok(all.some((r) => r.symlinks.size > 0 && r.osFiles.size > 0));
    assert.ok(all.some((r) => r.whiteouts.length > 0 && r.opaqueDirs.length > 0));
    for (const r of all) assert.deepEqual(plain(await decodeLayerEntry(await encodeLayerEntry(r))), plain(r));
  });

  it('hostile entries are refused with the field that is wrong, never half-read', async () => {
    const base = serializeLayerResult(results[0]![1]);
    const mutations: [string, (j: Record<string, unknown> & { files: [string, Record<string, unknown>[]][] }) => unknown, RegExp][] = [
      ['version', (j) => ({ ...j, v: 2 }), /entry\.v: unsupported/],
      ['not an object', () => [1, 2], /entry: expected an object/],
      ['files not an array', (j) => ({ ...j, files: {} }), /files: expected an array/],
      ['relative path', (j) => ({ ...j, files: [['etc/passwd', []]] }), /files\[0\]\[0\]: "etc\/passwd" is not an absolute normalised path/],
      ['climbing path', (j) => ({ ...j, files: [['/a/../../etc', []]] }), /is not an absolute normalised path/],
      ['duplicate path', (j) => ({ ...j, files: [j.files[0], j.files[0]] }), /appears twice/],
      ['unknown package type', (j) => withPackage(j, { type: 'evil' }), /\.type: unknown package type "evil"/],
      ['name not a string', (j) => withPackage(j, { name: 42 }), /\.name: expected a string/],
      ['bad evidence', (j) => withPackage(j, { evidence: 'rumour' }), /\.evidence: unknown evidence/],
      ['metadata value not a string', (j) => withPackage(j, { metadata: { k: { nested: true } } }), /\.metadata\.k: expected a string/],
      ['__proto__ in metadata', (j) => withPackage(j, { qualifiers: JSON.parse('{"__proto__": "x"}') as unknown }), /a __proto__ key/],
      ['source not an object', (j) => withPackage(j, { source: 'glibc' }), /\.source: expected an object/],
      ['symlink not a pair', (j) => ({ ...j, symlinks: [['/a']] }), /symlinks\[0\]: expected a \[key, value\] pair/],
      ['issue message missing', (j) => ({ ...j, issues: [{ path: null, extractor: null }] }), /issues\[0\]\.message: expected a string/],
      ['negative entries', (j) => ({ ...j, entries: -1 }), /entries: expected a non-negative integer/],
      ['bad digest', (j) => ({ ...j, diffId: 'md5:abc' }), /diffId: expected a sha256 digest/],
    ];
    for (const [what, mutate, message] of mutations) {
      const json = mutate(JSON.parse(JSON.stringify(base)) as never);
      await assert.rejects(decodeLayerEntry(gzipSync(JSON.stringify(json))), (err: unknown) => err instanceof LayerCacheEntryError && message.test(err.message), what);
    }
    await assert.rejects(decodeLayerEntry(Buffer.from('not gzip')), /entry is not gzip/);
    await assert.rejects(decodeLayerEntry(gzipSync('{"v":1,')), /entry is not JSON/);
    const bomb = gzipSync(Buffer.alloc(MAX_ENTRY_INFLATED_BYTES + 1024, 0x20), { level: 9 });
    assert.ok(bomb.length < 200_000);
    await assert.rejects(decodeLayerEntry(bomb), /inflates past/);
  });

  it('a damaged local entry is a miss, and the entry written after it is good again', async () => {
    const [key, result] = results[0]!;
    const cache = new DirectoryLayerCache(join(dir, 'local'));
    await mkdir(join(dir, 'local', 'layers', key.slice(0, 2)), { recursive: true });
    await writeFile(join(dir, 'local', 'layers', key.slice(0, 2), `${key}.json.gz`), gzipSync('{"v":1,"files":"nope"}'));
    assert.equal(await cache.get(key), null);
    await cache.put(key, result);
    assert.deepEqual(plain((await cache.get(key))!), plain(result));
  });
});

function withPackage(j: { files: [string, Record<string, unknown>[]][] }, patch: Record<string, unknown>): unknown {
  const at = j.files.findIndex(([, recs]) => recs.some((r) => (r['packages'] as unknown[]).length > 0));
  assert.ok(at >= 0, 'the base entry has a package');
  const [path, recs] = j.files[at]!;
  const rec = recs.find((r) => (r['packages'] as unknown[]).length > 0)!;
  const pkgs = rec['packages'] as Record<string, unknown>[];
  const files = [...j.files];
  files[at] = [path, recs.map((r) => (r === rec ? { ...r, packages: [{ ...pkgs[0], ...patch }, ...pkgs.slice(1)] } : r))];
  return { ...j, files };
}

/** A backend that answers as told, counting requests. */
async function fakeBackend(answer: (req: IncomingMessage, body: Buffer, key: string) => { status: number; body?: Buffer | string; hang?: boolean }) {
  const requests: string[] = [];
  const server = await startHttpServer((req, res, url) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      requests.push(`${req.method} ${url.pathname}`);
      const a = answer(req, Buffer.concat(chunks), url.pathname.split('/').pop() ?? '');
      if (a.hang) return; // never answers
      res.writeHead(a.status, { 'content-type': 'application/gzip' }).end(a.body ?? '');
    });
  });
  return { ...server, requests };
}

describe('the backend layer cache client', () => {
  it('404 is a miss, a put is stored, a hit decodes; the tiered cache copies backend hits to the local directory', async () => {
    const stored = new Map<string, Buffer>();
    const backend = await fakeBackend((req, body, key) => {
      assert.equal(req.headers.authorization, 'Bearer tly_test');
      if (req.method === 'PUT') {
        stored.set(key, body);
        return { status: 201, body: '{}' };
      }
      const hit = stored.get(key);
      return hit ? { status: 200, body: hit } : { status: 404, body: '{"message":"not cached"}' };
    });
    try {
      const warnings: string[] = [];
      const remote = new BackendLayerCache({ url: `${backend.origin}/`, token: 'tly_test', onWarning: (m) => warnings.push(m) });
      const [key, result] = results[1]!;
      assert.equal(await remote.get(key), null);
      await remote.put(key, result);
      assert.deepEqual(plain((await remote.get(key))!), plain(result));

      const local = new DirectoryLayerCache(join(dir, 'tiered'));
      const tiered = new TieredLayerCache([local, remote]);
      assert.deepEqual(plain((await tiered.get(key))!), plain(result));
      assert.deepEqual(plain((await local.get(key))!), plain(result), 'the backend hit is now local');
      const before = backend.requests.length;
      await tiered.get(key);
      assert.equal(backend.requests.length, before, 'a local hit does not ask the backend');
      const [otherKey, other] = results[0]!;
      await tiered.put(otherKey, other);
      assert.ok(stored.has(otherKey), 'a put reaches the backend');
      assert.ok(await local.get(otherKey), 'and the local directory');
      assert.deepEqual(warnings, []);
      assert.deepEqual(backend.requests.slice(0, 3), [`GET /api/v1/layer-cache/${key}`, `PUT /api/v1/layer-cache/${key}`, `GET /api/v1/layer-cache/${key}`]);
    } finally {
      await backend.close();
    }
  });

  it('an unreachable backend: one warning, then it is left alone until the retry time', async () => {
    const gone = await startHttpServer(() => undefined);
    const url = gone.origin;
    await gone.close();
    const warnings: string[] = [];
    const remote = new BackendLayerCache({ url, token: 't', onWarning: (m) => warnings.push(m), retryAfterMs: 300 });
    const [key, result] = results[0]!;
    assert.equal(await remote.get(key), null);
    await remote.put(key, result);
    assert.equal(await remote.get(key), null);
    assert.equal(warnings.length, 1);
    assert.match(warnings[0]!, /the backend layer cache \(http:\/\/127\.0\.0\.1:\d+\) is unavailable \(GET [0-9a-f]{64}: fetch failed: .*ECONNREFUSED.*\); layers are analysed here/);
    await new Promise((r) => setTimeout(r, 350));
    assert.equal(await remote.get(key), null);
    assert.equal(warnings.length, 1, 'still down: no second warning');
  });

  it('a hanging backend costs one timeout; oversized, invalid and failing answers are misses', async () => {
    const [key, result] = results[0]!;
    let mode: 'hang' | 'huge' | 'invalid' | '500' | '413' = 'hang';
    const backend = await fakeBackend(() => {
      if (mode === 'hang') return { status: 200, hang: true };
      if (mode === 'huge') return { status: 200, body: Buffer.alloc(17 * 1024 * 1024) };
      if (mode === 'invalid') return { status: 200, body: gzipSync('{"v":1,"files":[["relative",[]]]}') };
      if (mode === '413') return { status: 413, body: '{"message":"too large"}' };
      return { status: 500, body: '{"message":"internal server error"}' };
    });
    try {
      const warnings: string[] = [];
      const remote = () => new BackendLayerCache({ url: backend.origin, token: 't', onWarning: (m) => warnings.push(m), timeoutMs: 300 });
      const started = Date.now();
      const hanging = remote();
      assert.equal(await hanging.get(key), null);
      assert.ok(Date.now() - started < 3000);
      assert.equal(await hanging.get(key), null);
      assert.equal(backend.requests.length, 1, 'the second get skipped the dead backend');
      assert.match(warnings.pop()!, /is unavailable \(GET [0-9a-f]{64}: .*(timeout|aborted)/i);

      mode = 'huge';
      assert.equal(await remote().get(key), null);
      assert.match(warnings.pop()!, /over the 16777216-byte limit|passes the 16777216-byte limit/);
      mode = 'invalid';
      assert.equal(await remote().get(key), null);
      assert.match(warnings.pop()!, /holds an invalid entry [0-9a-f]{64}, ignored: files\[0\]\[0\]: "relative" is not an absolute normalised path/);
      mode = '500';
      await remote().put(key, result);
      assert.match(warnings.pop()!, /is unavailable \(PUT [0-9a-f]{64}: HTTP 500: internal server error\)/);
      mode = '413';
      await remote().put(key, result);
      assert.deepEqual(warnings, [], 'an entry over the backend bound is simply not shared');
    } finally {
      await backend.close();
    }
  });
});

it('scan results are the same through a backend-only cache (no blob of a cached layer is opened)', async () => {
  const stored = new Map<string, Buffer>();
  const backend = await fakeBackend((req, body, key) => {
    if (req.method === 'PUT') return stored.set(key, body) && { status: 201 };
    const hit = stored.get(key);
    return hit ? { status: 200, body: hit } : { status: 404 };
  });
  try {
    const cache = new BackendLayerCache({ url: backend.origin, token: 't', onWarning: assert.fail });
    const target = `oci:${join(dir, 'oci')}`;
    const source = () => sourceForTarget(target, { platform: DEFAULT_PLATFORM, platformExplicit: false });
    const cold = await scanImage(await source(), { cache, performScaScan: true, tempRoot: dir });
    // the layer blobs go away: a warm scan must not need them
    const blobs = (await readdir(join(dir, 'oci', 'blobs', 'sha256'))).filter((f) => results.some(([, r]) => r.digest === `sha256:${f}`));
    assert.equal(blobs.length, 2);
    for (const f of blobs) await rm(join(dir, 'oci', 'blobs', 'sha256', f));
    const events: boolean[] = [];
    const warm = await scanImage(await source(), { cache, performScaScan: true, tempRoot: dir, onProgress: (e) => void (e.kind === 'layer-done' && events.push(e.cached)) });
    assert.deepEqual(events, [true, true]);
    assert.deepEqual({ ...warm, scannedAt: '' }, { ...cold, scannedAt: '' });
  } finally {
    await backend.close();
  }
});

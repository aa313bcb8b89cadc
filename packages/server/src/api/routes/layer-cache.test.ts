/**
 * The shared layer cache on both stores (SQLite and a real PostgreSQL): real layer results of a real test image,
 * roles, hostile bodies refused with nothing stored, the size bound kept by least-recently-used eviction (also
 * under concurrent PUTs), and core's HTTP client and the store-backed cache against the real routes.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import {
  BackendLayerCache,
  decodeLayerEntry,
  DEFAULT_PLATFORM,
  encodeLayerEntry,
  MAX_ENTRY_BYTES,
  MAX_ENTRY_INFLATED_BYTES,
  scanImage,
  sourceForTarget,
  type LayerCache,
  type LayerResult,
} from '@tally/core';
import { scratchDir, startTestBackend, testImages, type StoreKind, type TestBackend } from '../../testing/backend.js';
import { StoreLayerCache } from '../../store/layer-cache.js';

type Role = 'admin' | 'viewer' | 'sensor';

class MemoryCache implements LayerCache {
  readonly entries = new Map<string, LayerResult>();
  async get(key: string): Promise<LayerResult | null> {
    return this.entries.get(key) ?? null;
  }
  async put(key: string, result: LayerResult): Promise<void> {
    this.entries.set(key, result);
  }
}

/** The real layer results of the sca-node test image (Static + SCA), with their cache keys. */
async function realEntries(): Promise<{ key: string; result: LayerResult; gz: Buffer }[]> {
  const cache = new MemoryCache();
  const source = await sourceForTarget(join(testImages(), 'sca-node', 'docker-archive.tar'), { platform: DEFAULT_PLATFORM, platformExplicit: false });
  await scanImage(source, { cache, performScaScan: true, tempRoot: scratchDir() });
  return Promise.all([...cache.entries].map(async ([key, result]) => ({ key, result, gz: await encodeLayerEntry(result) })));
}

/** A valid entry of about `bytes` compressed bytes (incompressible os-release text), under a fresh key. */
async function paddedEntry(bytes: number): Promise<{ key: string; gz: Buffer }> {
  const result: LayerResult = {
    files: new Map(),
    osFiles: new Map([['/etc/os-release', randomBytes(bytes).toString('base64')]]), // gzip gets base64 of random bytes back to about `bytes`
    symlinks: new Map(),
    whiteouts: [],
    opaqueDirs: [],
    issues: [],
    complete: true,
    entries: 1,
    digest: null,
    diffId: null,
    uncompressedBytes: bytes,
  };
  const gz = await encodeLayerEntry(result);
  assert.ok(Math.abs(gz.length - bytes) < bytes * 0.1, `${gz.length} bytes, about ${bytes}`);
  return { key: randomBytes(32).toString('hex'), gz };
}

/** A result as JSON data (key order aside, what deepEqual compares). */
const plain = (r: LayerResult): unknown => JSON.parse(JSON.stringify([[...r.files], [...r.osFiles], [...r.symlinks], r.whiteouts, r.opaqueDirs, r.issues, r.entries, r.diffId]));

const storeKinds = (process.env['TALLY_TEST_STORES'] ?? 'sqlite,postgres').split(',').filter((k): k is StoreKind => k === 'sqlite' || k === 'postgres');

let entries: { key: string; result: LayerResult; gz: Buffer }[];
before(async () => {
  entries = await realEntries();
});

for (const kind of storeKinds) {
  describe(`layer cache on ${kind}`, { timeout: 300_000 }, () => {
    let tb: TestBackend;
    const ENTRY = 40_000;
    const BOUND = Math.round(ENTRY * 3.5);

    const req = (method: 'GET' | 'PUT' | 'POST', url: string, role: Role | null, payload?: Buffer | object, headers: Record<string, string> = {}) =>
      tb.backend.app.inject({
        method,
        url,
        headers: { ...(role === null ? {} : { authorization: `Bearer ${tb.tokens[role]}` }), ...(Buffer.isBuffer(payload) ? { 'content-type': 'application/gzip' } : {}), ...headers },
        ...(payload !== undefined ? { payload: payload as Buffer } : {}),
      });
    const usage = async () => (await req('GET', '/api/v1/layer-cache', 'viewer')).json() as { entries: number; bytes: number; maxBytes: number };
    const stored = async () => (await tb.backend.store.db.selectFrom('layer_cache').select('key').execute()).map((r) => r.key).sort();

    before(async () => {
      tb = await startTestBackend(kind, { vulndb: 'none', serve: { layerCacheMaxBytes: BOUND } });
    });
    after(async () => {
      await tb?.close();
    });

    it('stores real layer results once and serves them byte for byte; roles; 404 on a miss', async () => {
      assert.ok(entries.length >= 2);
      const { key, gz, result } = entries[0]!;
      assert.equal((await req('GET', `/api/v1/layer-cache/${key}`, null)).statusCode, 401);
      assert.equal((await req('GET', `/api/v1/layer-cache/${key}`, 'viewer')).statusCode, 403);
      assert.equal((await req('PUT', `/api/v1/layer-cache/${key}`, 'viewer', gz)).statusCode, 403);
      const miss = await req('GET', `/api/v1/layer-cache/${key}`, 'sensor');
      assert.equal(miss.statusCode, 404);
      assert.equal(miss.json<{ code: string }>().code, 'NOT_FOUND');
      assert.equal((await req('GET', '/api/v1/layer-cache/NOT-A-KEY', 'sensor')).statusCode, 400);

      const put = await req('PUT', `/api/v1/layer-cache/${key}`, 'sensor', gz);
      assert.equal(put.statusCode, 201, put.body);
      assert.deepEqual(put.json(), { stored: true, evicted: 0, size: gz.length });
      const again = await req('PUT', `/api/v1/layer-cache/${key}`, 'admin', gz);
      assert.equal(again.statusCode, 200);
      assert.equal(again.json<{ stored: boolean }>().stored, false);

      const hit = await req('GET', `/api/v1/layer-cache/${key}`, 'sensor');
      assert.equal(hit.statusCode, 200);
      assert.equal(hit.headers['content-type'], 'application/gzip');
      assert.ok(hit.rawPayload.equals(gz));
      assert.deepEqual(plain(await decodeLayerEntry(hit.rawPayload)), plain(result));

      const absent = randomBytes(32).toString('hex');
      const lookup = await req('POST', '/api/v1/layer-cache/lookup', 'sensor', { keys: [key, absent, key] });
      assert.deepEqual(lookup.json(), { found: [key] });
      assert.deepEqual(await usage(), { entries: 1, bytes: gz.length, maxBytes: BOUND });
    });

    it('refuses hostile bodies and stores nothing of them', async () => {
      const before = await stored();
      const key = randomBytes(32).toString('hex');
      const bad = async (body: Buffer, status: number, message: RegExp, headers: Record<string, string> = {}) => {
        const res = await req('PUT', `/api/v1/layer-cache/${key}`, 'sensor', body, headers);
        assert.equal(res.statusCode, status, res.body);
        assert.match(res.json<{ message: string }>().message, message);
      };
      await bad(Buffer.alloc(0), 400, /invalid layer cache entry: entry is not gzip/);
      await bad(Buffer.from('{"v":1}'), 400, /entry is not gzip/);
      await bad(gzipSync('not json'), 400, /entry is not JSON/);
      await bad(gzipSync(JSON.stringify({ v: 1, files: [['../../etc/passwd', []]] })), 400, /files\[0\]\[0\]: "..\/..\/etc\/passwd" is not an absolute normalised path/);
      const evil = JSON.parse(JSON.stringify({ v: 1, files: [['/x', [{ extractor: 'e', packages: [{ type: 'npm', name: 'a', version: '1', evidence: 'declared', metadata: {} }] }]]], osFiles: [], symlinks: [], whiteouts: [], opaqueDirs: [], issues: [], entries: 1, digest: null, diffId: null, uncompressedBytes: 1 })) as { files: [string, { packages: { metadata: unknown }[] }[]][] };
      evil.files[0]![1][0]!.packages[0]!.metadata = JSON.parse('{"__proto__":"polluted"}');
      await bad(gzipSync(JSON.stringify(evil)), 400, /a __proto__ key/);
      await bad(gzipSync(Buffer.alloc(MAX_ENTRY_INFLATED_BYTES + 1, 0x20)), 400, /inflates past/);
      await bad(entries[0]!.gz, 415, /without Content-Encoding/, { 'content-encoding': 'gzip' });
      // over the per-entry cap (here the cache's own bound): refused from Content-Length, before the body is read
      await bad(randomBytes(BOUND + 1), 413, /body/i);
      assert.deepEqual(await stored(), before);
      assert.ok(MAX_ENTRY_BYTES > BOUND);
    });

    it('keeps the bound by evicting the least recently used entries; a read refreshes an entry', async () => {
      await tb.backend.store.db.deleteFrom('layer_cache').execute();
      const [a, b, c, d] = await Promise.all([0, 1, 2, 3].map(() => paddedEntry(ENTRY)));
      for (const [i, e] of [a!, b!, c!].entries()) {
        assert.equal((await req('PUT', `/api/v1/layer-cache/${e.key}`, 'sensor', e.gz)).statusCode, 201);
        // an order by age that does not depend on the clock's resolution: a oldest
        await tb.backend.store.db.updateTable('layer_cache').set({ last_used: new Date(Date.now() - (10 - i) * 60_000).toISOString() }).where('key', '=', e.key).execute();
      }
      // reading a (older than a minute) refreshes it: b is now the least recently used
      assert.equal((await req('GET', `/api/v1/layer-cache/${a!.key}`, 'sensor')).statusCode, 200);
      const refreshed = async () => (await tb.backend.store.db.selectFrom('layer_cache').select('last_used').where('key', '=', a!.key).executeTakeFirstOrThrow()).last_used;
      for (let i = 0; i < 50 && (await refreshed()) < new Date(Date.now() - 60_000).toISOString(); i++) await new Promise((r) => setTimeout(r, 20));
      assert.ok((await refreshed()) > new Date(Date.now() - 60_000).toISOString(), 'last_used refreshed');
      const put = await req('PUT', `/api/v1/layer-cache/${d!.key}`, 'sensor', d!.gz);
      assert.equal(put.statusCode, 201);
      assert.equal(put.json<{ evicted: number }>().evicted, 1);
      assert.deepEqual(await stored(), [a!.key, c!.key, d!.key].sort(), 'b, the least recently used, went');
      const u = await usage();
      assert.ok(u.bytes <= BOUND, `${u.bytes} <= ${BOUND}`);
      // a read within the minute does not write
      const before = await refreshed();
      await req('GET', `/api/v1/layer-cache/${a!.key}`, 'sensor');
      assert.equal(await refreshed(), before);
    });

    it('holds the bound under concurrent PUTs', async () => {
      const batch = await Promise.all(Array.from({ length: 40 }, () => paddedEntry(ENTRY)));
      const results = await Promise.all(batch.map((e) => req('PUT', `/api/v1/layer-cache/${e.key}`, 'sensor', e.gz)));
      assert.deepEqual(results.map((r) => r.statusCode), batch.map(() => 201));
      const u = await usage();
      assert.ok(u.bytes <= BOUND && u.bytes > BOUND - 2 * ENTRY, `${u.bytes} bytes within ${BOUND}, and not emptier than needed`);
      assert.equal(u.entries, 3, 'three entries of about 40 kB fit 140 kB');
      assert.ok((await stored()).every((k) => batch.some((e) => e.key === k)), 'the older entries went first');
    });

    it("core's HTTP client and the store-backed cache work against it; a refused token is one warning", async () => {
      await tb.backend.store.db.deleteFrom('layer_cache').execute();
      const url = await tb.backend.app.listen({ host: '127.0.0.1', port: 0 });
      const warnings: string[] = [];
      const client = new BackendLayerCache({ url, token: tb.tokens.sensor, onWarning: (m) => warnings.push(m) });
      const { key, result } = entries[1]!;
      assert.equal(await client.get(key), null);
      await client.put(key, result);
      assert.deepEqual(plain((await client.get(key))!), plain(result));
      const inStore = new StoreLayerCache(tb.backend.store, BOUND);
      assert.deepEqual(plain((await inStore.get(key))!), plain(result), 'the store-backed cache reads what the client wrote');
      const { key: k0, result: r0 } = entries[0]!;
      await inStore.put(k0, r0);
      assert.deepEqual(plain((await client.get(k0))!), plain(r0), 'and the client reads what it wrote');
      assert.equal(warnings.length, 0);

      const viewer = new BackendLayerCache({ url, token: tb.tokens.viewer, onWarning: (m) => warnings.push(m) });
      assert.equal(await viewer.get(key), null);
      await viewer.put(key, result);
      assert.equal(warnings.length, 1);
      assert.match(warnings[0]!, /unavailable \(GET [0-9a-f]{64}: HTTP 403: a sensor or admin token is required/);
    });
  });
}

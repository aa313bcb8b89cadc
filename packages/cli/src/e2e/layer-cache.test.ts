/**
 * The fleet's shared layer cache, end to end: two "machines" (two cache directories) run the real `tally scan
 * --upload` against one backend (`tally serve`'s app on SQLite, in this process) and a REAL docker-registry. Counting
 * proxies in front of both show what crossed the wire: the second machine pulls no layer blob and analyses no layer
 * (it stores nothing new on the backend; in-process, every layer's progress event says "cached").
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  DEFAULT_PLATFORM,
  decodeLayerEntry,
  encodeLayerEntry,
  scanImage,
  sourceForTarget,
  type LayerCache,
  type LayerResult,
  type ProgressEvent,
} from '../../../core/src/index.js';
import { cachedRegistryStorage, startRegistry, type RegistryServer } from '../../../core/src/testing/registry-server.js';
import { startTestBackend, type TestBackend } from '../../../server/src/testing/backend.js';
import { layerCacheFor } from '../layer-cache.js';
import { repoRoot, testImages, type ScanJson } from './support.js';

interface Proxy {
  readonly origin: string;
  readonly host: string;
  /** `METHOD path status`, in order. */
  readonly log: string[];
  close(): Promise<void>;
}

/** An HTTP proxy to 127.0.0.1:`port` that records every request: what a machine fetched, and what it stored. */
async function countingProxy(port: number): Promise<Proxy> {
  const log: string[] = [];
  const server: Server = createServer((req, res) => {
    const upstream = request({ host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers }, (up) => {
      log.push(`${req.method} ${req.url} ${up.statusCode}`);
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port: own } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${own}`,
    host: `127.0.0.1:${own}`,
    log,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** The CLI without blocking this process: the backend answers from here while it runs. */
function tallyAsync(args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'packages/cli/bin/tally.js'), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr, ms: performance.now() - started }));
  });
}

async function cachedEntries(cacheDir: string): Promise<number> {
  const root = join(cacheDir, 'layers');
  let n = 0;
  for (const d of await readdir(root).catch(() => [])) n += (await readdir(join(root, d))).filter((f) => f.endsWith('.json.gz')).length;
  return n;
}

/** The report minus the scan time and the names of where the image came from. */
function comparable(report: ScanJson): unknown {
  const r = JSON.parse(JSON.stringify(report)) as { scannedAt?: string; image: Record<string, unknown> & { layers: Record<string, unknown>[] } };
  delete r.scannedAt;
  for (const k of ['ref', 'source', 'manifestDigest', 'repoTags', 'repoDigests']) delete r.image[k];
  r.image.layers = r.image.layers.map(({ digest: _d, mediaType: _m, size: _s, ...rest }) => rest);
  return r;
}

let images: string;
let work: string;
let registry: RegistryServer;
let tb: TestBackend;
let regProxy: Proxy;
let apiProxy: Proxy;

before(async () => {
  images = testImages();
  work = await mkdtemp(join(tmpdir(), 'tally-e2e-layer-cache-'));
  const data = await cachedRegistryStorage(join(dirname(images), 'registry'), `layer-cache ${basename(images)}`, [
    { source: `oci:${images}/sca-node/oci:latest`, repoTag: 'team/node:1' },
    { source: `oci:${images}/debian12-layers/oci:latest`, repoTag: 'team/layers:1' },
  ]);
  registry = await startRegistry({ mode: 'anonymous', dataDir: data, readOnly: true });
  tb = await startTestBackend('sqlite', { vulndb: 'none' });
  const url = new URL(await tb.backend.app.listen({ host: '127.0.0.1', port: 0 }));
  [regProxy, apiProxy] = await Promise.all([countingProxy(registry.port), countingProxy(Number(url.port))]);
});

after(async () => {
  await Promise.all([regProxy?.close(), apiProxy?.close()]);
  await Promise.all([registry?.stop(), tb?.close()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('two machines, one backend', { timeout: 600_000 }, () => {
  const scanOn = (machine: string, target: string, token = tb.tokens.sensor) =>
    tallyAsync(['scan', target, '--perform-sca-scan', '--format', 'json', '--quiet', '--cache-dir', join(work, machine), '--upload', apiProxy.origin, '--token', token]);
  const since = (log: string[], from: number, re: RegExp) => log.slice(from).filter((l) => re.test(l));

  it('the second machine scans a registry image without pulling a layer blob or analysing a layer', async (t) => {
    const target = `registry:${regProxy.host}/team/node:1`;
    let reg = regProxy.log.length;
    let api = apiProxy.log.length;
    const cold = await scanOn('machine-a', target);
    assert.equal(cold.code, 0, cold.stderr);
    const a = JSON.parse(cold.stdout) as ScanJson;
    const layers = a.image.layers.map((l) => l.digest!);
    assert.ok(layers.length >= 2);
    const layerBlob = new RegExp(`^GET /v2/team/node/blobs/(${layers.join('|')}) 200$`);
    assert.equal(since(regProxy.log, reg, layerBlob).length, layers.length, 'machine A pulls every layer once');
    assert.equal(since(apiProxy.log, api, /^PUT \/api\/v1\/layer-cache\/[0-9a-f]{64} 201$/).length, layers.length, 'and shares every layer it analysed');

    reg = regProxy.log.length;
    api = apiProxy.log.length;
    const warm = await scanOn('machine-b', target);
    assert.equal(warm.code, 0, warm.stderr);
    assert.deepEqual(since(regProxy.log, reg, /\/blobs\//).filter((l) => layerBlob.test(l)), [], 'machine B pulls no layer blob');
    assert.equal(since(apiProxy.log, api, /^GET \/api\/v1\/layer-cache\/[0-9a-f]{64} 200$/).length, layers.length, 'every layer comes from the backend');
    assert.deepEqual(since(apiProxy.log, api, /^PUT \/api\/v1\/layer-cache\//), [], 'and none was analysed (an analysed layer is always shared)');
    assert.equal(await cachedEntries(join(work, 'machine-b')), layers.length, "the backend's entries are now in B's own cache");
    assert.deepEqual(comparable(JSON.parse(warm.stdout) as ScanJson), comparable(a));

    // the same layers from a docker-archive on a third machine: found by diffId, whatever the source
    api = apiProxy.log.length;
    const archive = await scanOn('machine-c', join(images, 'sca-node', 'docker-archive.tar'));
    assert.equal(archive.code, 0, archive.stderr);
    assert.deepEqual(since(apiProxy.log, api, /^PUT \/api\/v1\/layer-cache\//), []);
    assert.deepEqual(comparable(JSON.parse(archive.stdout) as ScanJson), comparable(a));

    const ratio = warm.ms / cold.ms;
    t.diagnostic(`registry sca-node (${layers.length} layers): cold ${cold.ms.toFixed(0)} ms, second machine ${warm.ms.toFixed(0)} ms (${ratio.toFixed(2)}x), docker-archive on a third ${archive.ms.toFixed(0)} ms`);
    assert.ok(warm.ms < cold.ms, 'the second machine is faster');
  });

  it('in-process, every layer of a fresh machine reports "cached" in its progress', async (t) => {
    const target = `registry:${regProxy.host}/team/layers:1`;
    const cacheFor = (machine: string) => layerCacheFor({ cacheDir: join(work, machine), useCache: true, server: { url: apiProxy.origin, token: tb.tokens.sensor }, onWarning: assert.fail });
    const scan = async (machine: string) => {
      const events: boolean[] = [];
      const started = performance.now();
      const source = await sourceForTarget(target, { platform: DEFAULT_PLATFORM, platformExplicit: false, registry: { dockerConfigDir: null } });
      await scanImage(source, { cache: cacheFor(machine), tempRoot: work, onProgress: (e: ProgressEvent) => void (e.kind === 'layer-done' && events.push(e.cached)) });
      return { events, ms: performance.now() - started };
    };
    const cold = await scan('inproc-a');
    assert.deepEqual(cold.events, [false, false, false, false, false]);
    const reg = regProxy.log.length;
    const warm = await scan('inproc-b');
    assert.deepEqual(warm.events, [true, true, true, true, true]);
    t.diagnostic(`registry debian12-layers (5 layers), in-process: cold ${cold.ms.toFixed(0)} ms, second machine ${warm.ms.toFixed(0)} ms (${(warm.ms / cold.ms).toFixed(2)}x)`);
    assert.deepEqual(since(regProxy.log, reg, /\/blobs\//).length, 1, 'machine B fetched the config blob only');
  });

  it('a backend that refuses the token costs one warning; the scan and its outputs go on', async () => {
    const out = join(work, 'refused.json');
    const r = await tallyAsync([
      'scan', join(images, 'debian12-layers', 'docker-archive.tar'), '--format', 'json', '--output', out, '--quiet',
      '--cache-dir', join(work, 'machine-refused'), '--upload', apiProxy.origin, '--token', tb.tokens.viewer,
    ]);
    assert.equal(r.code, 2, 'the upload itself fails (exit 2)');
    const warnings = r.stderr.split('\n').filter((l) => l.includes('layer cache'));
    assert.equal(warnings.length, 1, r.stderr);
    assert.match(warnings[0]!, /^tally: warning: the backend layer cache \(http:\/\/127\.0\.0\.1:\d+\) is unavailable \(GET [0-9a-f]{64}: HTTP 403: a sensor or admin token is required/);
    const report = JSON.parse(await readFile(out, 'utf8')) as ScanJson;
    assert.equal(report.image.layers.length, 5);
    assert.ok(report.packages.length > 50);
    assert.equal(await cachedEntries(join(work, 'machine-refused')), 5, 'the local cache still works');
  });
});

it('real layer results of every test image survive the entry codec unchanged', { timeout: 600_000 }, async () => {
  const captured: [string, LayerResult][] = [];
  const capture: LayerCache = { get: async () => null, put: async (_key, result) => void captured.push([_key, result]) };
  const dirs = (await readdir(images, { withFileTypes: true })).filter((d) => d.isDirectory()).map((d) => d.name);
  for (const name of dirs) {
    const archive = join(images, name, 'docker-archive.tar');
    if (!existsSync(archive)) continue;
    await scanImage(await sourceForTarget(archive, { platform: DEFAULT_PLATFORM, platformExplicit: false }), { cache: capture, performScaScan: true, tempRoot: work });
  }
  assert.ok(captured.length >= 15, `${captured.length} layers`);
  const asJson = (r: LayerResult): unknown => JSON.parse(JSON.stringify([[...r.files], [...r.osFiles], [...r.symlinks], r.whiteouts, r.opaqueDirs, r.issues, r.entries, r.diffId, r.uncompressedBytes]));
  for (const [key, result] of captured) assert.deepEqual(asJson(await decodeLayerEntry(await encodeLayerEntry(result))), asJson(result), key);
});

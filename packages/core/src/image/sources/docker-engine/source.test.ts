import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LayerResult } from '../../../extract/layer-result.js';
import type { LayerCache } from '../../../cache/layer-cache.js';
import { isTallyError } from '../../../model/errors.js';
import type { ScanReport } from '../../../model/report.js';
import { scanImage, type ProgressEvent } from '../../../scan.js';
import { buildLayer, configFor, makeTar, sha256, type BuiltLayer, type EntrySpec, type ImageSpec } from '../../../testing/image-builder.js';
import { validateReport } from '../../../testing/report-schema.js';
import { dockerArchiveSource } from '../docker-archive.js';
import { DockerEngineClient } from './client.js';
import { scanDockerImage } from './source.js';

/**
 * The streaming export against a fake engine serving hand-built `docker save` tars in the three layouts. The real
 * engines (dockerd 20.10, podman 4.3) are in packages/cli/src/e2e/docker-engine.test.ts.
 */

const STATUS = (pkgs: [string, string][]): string => pkgs.map(([n, v]) => `Package: ${n}\nStatus: install ok installed\nVersion: ${v}\nArchitecture: amd64\n`).join('\n');

const SPEC: ImageSpec = {
  emptyHistoryBetween: true,
  layers: [
    {
      entries: [
        { name: 'usr/lib/os-release', content: 'ID=debian\nVERSION_ID="12"\nNAME="Debian GNU/Linux"\n' },
        { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
        { name: 'var/lib/dpkg/status', content: STATUS([['base-files', '12.4'], ['libc6', '2.36-9']]) },
      ],
      createdBy: 'debootstrap',
    },
    { entries: [{ name: 'var/lib/dpkg/status', content: STATUS([['base-files', '12.4'], ['libc6', '2.36-9'], ['jq', '1.6-2.1']]) }], createdBy: 'apt-get install jq' },
    {
      entries: [{ name: 'usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA', content: 'Metadata-Version: 2.1\nName: six\nVersion: 1.16.0\n' }],
      createdBy: 'pip install six',
    },
  ],
};

type Layout = 'legacy' | 'skopeo' | 'docker25' | 'docker25-gzip';

interface Archive {
  readonly bytes: Buffer;
  readonly imageId: string;
  readonly layers: readonly BuiltLayer[];
}

/** `docker save` as each engine writes it, members in the order that engine writes them. */
async function buildArchive(
  layout: Layout,
  spec: ImageSpec = SPEC,
  tamper?: (entries: EntrySpec[]) => EntrySpec[],
  makeConfig: (layers: readonly BuiltLayer[]) => Buffer = (layers) => configFor(spec, layers),
): Promise<Archive> {
  const compression = layout === 'docker25-gzip' ? 'gzip' : 'none';
  const layers = await Promise.all(spec.layers.map((l, i) => buildLayer({ compression, ...l }, i)));
  const config = makeConfig(layers);
  const imageId = sha256(config);
  const hex = (d: string): string => d.slice(7);
  const v1 = (i: number): string => createHashHex(`v1-${i}`);
  let entries: EntrySpec[] = [];
  switch (layout) {
    case 'legacy': {
      // Engine 20: lexical order, so manifest.json and repositories come last
      const names = layers.map((_, i) => v1(i));
      entries.push({ name: `${hex(imageId)}.json`, content: config });
      [...names.entries()]
        .sort((a, b) => (a[1] < b[1] ? -1 : 1))
        .forEach(([i, n]) => {
          entries.push({ name: `${n}/`, type: 'directory' });
          entries.push({ name: `${n}/VERSION`, content: '1.0' });
          entries.push({ name: `${n}/json`, content: JSON.stringify({ id: n }) });
          entries.push({ name: `${n}/layer.tar`, content: layers[i]!.blob });
        });
      entries.push({ name: 'manifest.json', content: JSON.stringify([{ Config: `${hex(imageId)}.json`, RepoTags: ['test/app:1'], Layers: names.map((n) => `${n}/layer.tar`) }]) });
      entries.push({ name: 'repositories', content: JSON.stringify({ 'test/app': { '1': names.at(-1) } }) });
      break;
    }
    case 'skopeo': {
      // podman/skopeo: layers first under their digest, legacy paths as symlinks; manifest.json names the symlinks
      for (const l of layers) entries.push({ name: `${hex(l.digest)}.tar`, content: l.blob });
      entries.push({ name: `${hex(imageId)}.json`, content: config });
      layers.forEach((l, i) => entries.push({ name: `${v1(i)}/layer.tar`, type: 'symlink', linkname: `../${hex(l.digest)}.tar` }));
      entries.push({ name: 'manifest.json', content: JSON.stringify([{ Config: `${hex(imageId)}.json`, RepoTags: [], Layers: layers.map((_, i) => `${v1(i)}/layer.tar`) }]) });
      break;
    }
    case 'docker25':
    case 'docker25-gzip': {
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: imageId, size: config.length },
          layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.blob.length })),
        }),
      );
      const blobs = [...layers.map((l) => [hex(l.digest), l.blob] as const), [hex(imageId), config] as const, [hex(sha256(manifest)), manifest] as const].sort((a, b) => (a[0] < b[0] ? -1 : 1));
      for (const [h, data] of blobs) entries.push({ name: `blobs/sha256/${h}`, content: data });
      entries.push({
        name: 'index.json',
        content: JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sha256(manifest), size: manifest.length }] }),
      });
      entries.push({ name: 'manifest.json', content: JSON.stringify([{ Config: `blobs/sha256/${hex(imageId)}`, RepoTags: ['test/app:1'], Layers: layers.map((l) => `blobs/sha256/${hex(l.digest)}`) }]) });
      entries.push({ name: 'oci-layout', content: '{"imageLayoutVersion":"1.0.0"}' });
      break;
    }
  }
  if (tamper) entries = tamper(entries);
  return { bytes: await makeTar(entries), imageId, layers };
}

function createHashHex(seed: string): string {
  return sha256(seed).slice(7);
}

interface FakeEngine {
  readonly host: string;
  exports: number;
  /** Serve this archive as image `test/app:1`; `cut` stops the export after that many bytes. */
  serve(archive: Archive, opts?: { cut?: number; diffIds?: readonly string[] }): void;
  close(): Promise<void>;
}

async function fakeEngine(dir: string): Promise<FakeEngine> {
  const socket = join(dir, `engine-${Math.random().toString(16).slice(2)}.sock`);
  let current: { archive: Archive; cut?: number; diffIds?: readonly string[] } | null = null;
  const engine: FakeEngine = {
    host: `unix://${socket}`,
    exports: 0,
    serve(archive, opts = {}) {
      current = { archive, ...opts };
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://x');
    res.setHeader('Api-Version', '1.41');
    if (url.pathname === '/_ping') return res.end('OK');
    const m = /^\/v1\.41\/images\/(.+)\/(json|get)$/.exec(url.pathname);
    const name = m ? decodeURIComponent(m[1]!) : '';
    if (!m || !current || (name !== 'test/app:1' && name !== current.archive.imageId)) {
      res.statusCode = 404;
      return res.end(JSON.stringify({ message: `No such image: ${name}` }));
    }
    const { archive } = current;
    if (m[2] === 'json') {
      return res.end(
        JSON.stringify({
          Id: archive.imageId,
          RepoTags: ['test/app:1'],
          RepoDigests: [],
          Size: archive.bytes.length,
          Os: 'linux',
          Architecture: 'amd64',
          RootFS: { Type: 'layers', Layers: current.diffIds ?? archive.layers.map((l) => l.diffId) },
          Config: { Cmd: ['bash'] },
        }),
      );
    }
    engine.exports++;
    res.setHeader('Content-Type', 'application/x-tar');
    // odd-sized chunks, so tar headers and members straddle them
    const bytes = current.cut !== undefined ? archive.bytes.subarray(0, current.cut) : archive.bytes;
    let pos = 0;
    const pump = (): void => {
      while (pos < bytes.length) {
        const chunk = bytes.subarray(pos, pos + 7001);
        pos += chunk.length;
        if (!res.write(chunk)) return void res.once('drain', pump);
      }
      // a cut export: what was written reaches the client, then the connection drops
      if (current?.cut !== undefined) res.write(Buffer.alloc(0), () => setTimeout(() => res.destroy(), 20));
      else res.end();
    };
    pump();
  });
  await new Promise<void>((resolve) => server.listen(socket, resolve));
  return engine;
}

let dir: string;
let engine: FakeEngine;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-docker-engine-test-'));
  engine = await fakeEngine(dir);
});
after(async () => {
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

async function scanFile(archive: Archive, performScaScan = true): Promise<ScanReport> {
  const file = join(dir, `${Math.random().toString(16).slice(2)}.tar`);
  await writeFile(file, archive.bytes);
  return scanImage(dockerArchiveSource('file', file, { kind: 'any' }), { performScaScan, tempRoot: dir });
}

const packageView = (r: ScanReport): string[] => r.packages.map((p) => `${p.purl} ${p.scanType} layer=${p.layer.index} ${p.layer.diffId} ${p.locations.join(',')}`).sort();
const layerView = (r: ScanReport): unknown => r.image.layers.map((l) => ({ ...l }));

async function rejectsWith(p: Promise<unknown>, code: string, pattern?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(isTallyError(err), `expected a TallyError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

describe('docker: images through the streamed export', () => {
  for (const layout of ['legacy', 'skopeo', 'docker25', 'docker25-gzip'] as const) {
    it(`reads the ${layout} layout in one pass, with the same report as the archive read from a file`, async () => {
      const archive = await buildArchive(layout);
      engine.serve(archive);
      const before = engine.exports;
      const streamed = await scanDockerImage('test/app:1', { host: engine.host, performScaScan: true, tempRoot: dir });
      validateReport(streamed);
      assert.equal(engine.exports - before, 1, 'one export request: no layer was read twice');
      const fromFile = await scanFile(archive);
      assert.deepEqual(packageView(streamed), packageView(fromFile));
      assert.deepEqual(layerView(streamed), layerView(fromFile));
      assert.equal(streamed.image.imageId, archive.imageId);
      assert.equal(streamed.image.source, 'docker-engine');
      assert.equal(streamed.image.ref, 'docker:test/app:1');
      assert.deepEqual(streamed.image.repoTags, ['test/app:1']);
      assert.deepEqual(streamed.scanTypes, ['Static', 'SCA']);
      assert.deepEqual(
        streamed.packages.map((p) => [p.name, p.layer.index]),
        [
          ['base-files', 0],
          ['libc6', 0],
          ['jq', 1],
          ['six', 2],
        ],
      );
      if (layout.startsWith('docker25')) assert.match(streamed.image.manifestDigest ?? '', /^sha256:/);
      else assert.equal(streamed.image.manifestDigest, null);
    });
  }

  it("gives the same report in 'file' mode (export to a temp file, then the docker-archive source)", async () => {
    const archive = await buildArchive('legacy');
    engine.serve(archive);
    const streamed = await scanDockerImage('test/app:1', { host: engine.host, tempRoot: dir });
    const viaFile = await scanDockerImage('test/app:1', { host: engine.host, exportMode: 'file', tempRoot: dir });
    assert.deepEqual(packageView(viaFile), packageView(streamed));
    assert.deepEqual(layerView(viaFile), layerView(streamed));
  });

  it('reports progress per layer and uses the layer cache for layers named by their digest', async () => {
    const archive = await buildArchive('docker25');
    engine.serve(archive);
    const store = new Map<string, LayerResult>();
    const cache: LayerCache = {
      get: async (k) => store.get(k) ?? null,
      put: async (k, r) => void store.set(k, r),
    };
    const events: ProgressEvent[] = [];
    const first = await scanDockerImage('test/app:1', { host: engine.host, cache, tempRoot: dir, onProgress: (e) => events.push(e) });
    assert.equal(store.size, 3, 'each analysed layer is cached');
    assert.deepEqual(events[0], { kind: 'image', ref: 'docker:test/app:1', layers: 3, totalBytes: archive.bytes.length });
    assert.equal(events.filter((e) => e.kind === 'layer-done' && !e.cached).length, 3);
    assert.ok(events.some((e) => e.kind === 'bytes'));
    events.length = 0;
    const second = await scanDockerImage('test/app:1', { host: engine.host, cache, tempRoot: dir, onProgress: (e) => events.push(e) });
    assert.equal(events.filter((e) => e.kind === 'layer-done' && e.cached).length, 3, 'the second pass drains the layers unread');
    assert.deepEqual(packageView(second), packageView(first));
    assert.deepEqual(layerView(second), layerView(first));
  });

  it('checks every layer against the config: a diff_id that does not match is DIGEST_MISMATCH', async () => {
    const other = await Promise.all([{ entries: [{ name: 'x', content: 'other' }] }, ...SPEC.layers.slice(1)].map((l, i) => buildLayer({ compression: 'none', ...l }, i)));
    const archive = await buildArchive('legacy', SPEC, undefined, () => configFor(SPEC, other));
    engine.serve(archive);
    await rejectsWith(scanDockerImage('test/app:1', { host: engine.host, tempRoot: dir }), 'DIGEST_MISMATCH', /layer 0 .*diff_id/);
  });

  it('a blob whose content does not hash to its name is DIGEST_MISMATCH', async () => {
    const archive = await buildArchive('docker25', SPEC, (entries) =>
      entries.map((e) => (e.name.startsWith('blobs/') && Buffer.isBuffer(e.content) && e.content[0] !== 0x7b ? { ...e, content: Buffer.concat([e.content, Buffer.alloc(512)]) } : e)),
    );
    engine.serve(archive);
    await rejectsWith(scanDockerImage('test/app:1', { host: engine.host, tempRoot: dir }), 'DIGEST_MISMATCH');
  });

  it('an export cut off mid-stream fails the scan, naming the image', async () => {
    const archive = await buildArchive('legacy');
    engine.serve(archive, { cut: Math.floor(archive.bytes.length / 2) });
    await assert.rejects(scanDockerImage('test/app:1', { host: engine.host, tempRoot: dir }), (err: unknown) => {
      assert.ok(isTallyError(err));
      assert.match(err.code, /LAYER_UNREADABLE|UNKNOWN_FORMAT/);
      assert.match(err.message, /docker:test\/app:1/);
      return true;
    });
  });

  it('an image the engine does not have is IMAGE_NOT_FOUND; no engine is TARGET_UNREADABLE with a hint', async () => {
    engine.serve(await buildArchive('legacy'));
    await rejectsWith(scanDockerImage('nope:1', { host: engine.host, tempRoot: dir }), 'IMAGE_NOT_FOUND', /No such image/);
    await rejectsWith(scanDockerImage('test/app:1', { host: `unix://${join(dir, 'missing.sock')}`, tempRoot: dir }), 'TARGET_UNREADABLE', /DOCKER_HOST/);
  });

  it('refuses an engine older than API 1.41', async () => {
    const socket = join(dir, 'old.sock');
    const old = createServer((_req, res) => {
      res.setHeader('Api-Version', '1.40');
      res.end('OK');
    });
    await new Promise<void>((resolve) => old.listen(socket, resolve));
    try {
      await rejectsWith(DockerEngineClient.fromOptions({ host: `unix://${socket}` }).listImages(), 'TARGET_UNREADABLE', /API 1\.40.*1\.41/);
    } finally {
      await new Promise((resolve) => old.close(resolve));
    }
  });
});

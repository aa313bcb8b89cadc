/**
 * `docker:` targets and Dynamic scans against real engines: Debian's dockerd 20.10 (vfs, private socket) and
 * podman 4.3's Docker-compatible service, both started by core's testing/dockerd.ts (or reused through
 * TALLY_TEST_DOCKER_HOST / TALLY_TEST_PODMAN_HOST). dockerd's data root is cached, so the test images are loaded
 * once per machine; with vfs every container start copies the image's rootfs (1–5 s), so Dynamic runs are few.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_LAYER_LIMITS } from '../../../core/src/image/layer-stream.js';
import { DockerEngineClient } from '../../../core/src/image/sources/docker-engine/client.js';
import { analyseExport, resolveExport } from '../../../core/src/image/sources/docker-engine/export-stream.js';
import { scanDockerImage } from '../../../core/src/image/sources/docker-engine/source.js';
import { extractorsFor } from '../../../core/src/extract/registry.js';
import { cleanupDynamicContainers, DEFAULT_CONTAINER_LIMITS, LABEL_DEADLINE, LABEL_DYNAMIC, LABEL_OWNER, probeContainerBody } from '../../../core/src/dynamic/container.js';
import { dynamicScan, type DynamicEvent } from '../../../core/src/dynamic/scan.js';
import type { ScanReport } from '../../../core/src/model/report.js';
import { ensureImageLoaded, startDockerd, startPodmanService, type EngineService } from '../../../core/src/testing/dockerd.js';
import { validateReport } from '../../../core/src/testing/report-schema.js';
import { lines, readJson, repoRoot, scanJson, tally, testImages, type ScanJson } from './support.js';

const IMAGES = ['debian12', 'debian12-layers', 'distroless', 'sca-node', 'sca-java', 'sca-dotnet'] as const;
const tagOf = (name: string): string => `tally-test/${name}:latest`;

let images: string;
let work: string;
let docker: EngineService;
let client: DockerEngineClient;

before(async () => {
  images = testImages();
  work = mkdtempSync(join(tmpdir(), 'tally-e2e-docker-'));
  docker = await startDockerd();
  client = docker.client();
  const started = Date.now();
  const loaded: string[] = [];
  for (const name of IMAGES) if ((await ensureImageLoaded(client, join(images, name, 'docker-archive.tar'), tagOf(name))).loaded) loaded.push(name);
  process.stderr.write(`dockerd answered after ${docker.startMs} ms${docker.reused ? ' (reused)' : ''}; images loaded in ${Date.now() - started} ms: ${loaded.join(', ') || 'all cached'}\n`);
});

after(async () => {
  await docker?.stop();
  rmSync(work, { recursive: true, force: true });
});

type Pkg = { name: string; version: string; arch?: string | undefined; scanType: string; class: string; layer: { index: number; diffId?: string | null }; purl: string };
const nva = (r: { packages: readonly Pkg[] }): string[] => r.packages.map((p) => `${p.name} ${p.version} ${p.arch ?? ''}`).sort();
const attribution = (r: { packages: readonly Pkg[] }): string[] => r.packages.map((p) => `${p.purl} @${p.layer.index}`).sort();
const diffIds = (r: ScanJson | ScanReport): (string | null)[] => r.image.layers.map((l) => l.diffId);

async function leftovers(c: DockerEngineClient = client): Promise<string[]> {
  return (await c.listContainers({ labels: [`${LABEL_DYNAMIC}=1`] })).map((x) => x.id);
}

/** Run a small TypeScript program (through tsx) that imports core's sources. */
function script(name: string, body: string): string {
  const file = join(work, `${name}.mts`);
  writeFileSync(file, body.replaceAll('@core/', join(repoRoot, 'packages/core/src/')));
  return file;
}

describe('docker:IMAGE from a real dockerd', () => {
  it('gives the same packages, layers and diffIds as the docker-archive file, from the Engine 20 export', async () => {
    for (const name of ['debian12', 'debian12-layers']) {
      const fromFile = scanJson(join(images, name, 'docker-archive.tar'));
      const streamed = await scanDockerImage(tagOf(name), { host: docker.host });
      validateReport(streamed);
      assert.deepEqual(nva(streamed), nva(fromFile), name);
      assert.deepEqual(attribution(streamed), attribution(fromFile), `${name}: every package in the same layer`);
      assert.deepEqual(diffIds(streamed), diffIds(fromFile), name);
      assert.deepEqual(
        streamed.image.layers.map((l) => [l.digest, l.size, l.createdBy]),
        fromFile.image.layers.map((l) => [l.digest, l.size, l.createdBy]),
      );
      assert.equal(streamed.image.source, 'docker-engine');
      assert.deepEqual(streamed.image.repoTags, [tagOf(name)]);
      assert.equal(streamed.image.imageId, fromFile.image.imageId);
    }
    assert.deepEqual(nva(scanJson(join(images, 'debian12', 'docker-archive.tar'))), lines(join(images, 'debian12/expected-dpkg.txt')));
  });

  it('works from the command line (`tally scan docker:…`, DOCKER_HOST or --docker-host)', () => {
    const r = tally(['scan', `docker:${tagOf('debian12')}`, '--format', 'json', '--quiet', '--no-cache', '--no-match'], { DOCKER_HOST: docker.host });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as ScanJson;
    assert.deepEqual(nva(report), lines(join(images, 'debian12/expected-dpkg.txt')));
    assert.equal(report.image.layers[0]?.diffId, readJson<{ image: { layers: { diffId: string }[] } }>(join(images, 'debian12/expected.json')).image.layers[0]?.diffId);
    const missing = tally(['scan', 'docker:tally-test/no-such-image:1', '--quiet'], { DOCKER_HOST: docker.host });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no-such-image.*\[IMAGE_NOT_FOUND\]/);
  });

  it('finds language packages in the stream too (SCA), as from the file', async () => {
    const fromFile = scanJson(join(images, 'sca-node', 'docker-archive.tar'), ['--perform-sca-scan']);
    const streamed = await scanDockerImage(tagOf('sca-node'), { host: docker.host, performScaScan: true });
    assert.deepEqual(attribution(streamed), attribution(fromFile));
    assert.deepEqual(streamed.scanTypes, ['Static', 'SCA']);
    assert.ok(streamed.packages.some((p) => p.class === 'lang'));
  });

  it('streams the export with bounded memory (sca-java), and faster than through a temp file', async (t) => {
    const file = join(images, 'sca-java', 'docker-archive.tar');
    const imageBytes = statSync(file).size;
    const program = script(
      'export-memory',
      `import { scanDockerImage } from '@core/image/sources/docker-engine/source.ts';
const [host, image, mode] = process.argv.slice(2);
const baseKB = process.resourceUsage().maxRSS;
const t0 = performance.now();
const r = await scanDockerImage(image, { host, exportMode: mode, performScaScan: true });
console.log(JSON.stringify({ ms: Math.round(performance.now() - t0), baseKB, peakKB: process.resourceUsage().maxRSS, packages: r.packages.length }));
`,
    );
    const measure = (image: string, mode: string): { ms: number; baseKB: number; peakKB: number; packages: number } => {
      const r = spawnSync(process.execPath, ['--import', 'tsx', program, docker.host, image, mode], { cwd: repoRoot, encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
      return JSON.parse(r.stdout.trim().split('\n').pop()!) as { ms: number; baseKB: number; peakKB: number; packages: number };
    };
    const stream = measure(tagOf('sca-java'), 'stream');
    const viaFile = measure(tagOf('sca-java'), 'file');
    const growthMB = (stream.peakKB - stream.baseKB) / 1024;
    t.diagnostic(`sca-java (${(imageBytes / 1e6).toFixed(0)} MB export): stream ${stream.ms} ms, RSS +${growthMB.toFixed(0)} MB (peak ${(stream.peakKB / 1024).toFixed(0)} MB); file ${viaFile.ms} ms, RSS +${((viaFile.peakKB - viaFile.baseKB) / 1024).toFixed(0)} MB`);
    assert.equal(stream.packages, viaFile.packages);
    assert.ok(growthMB * 1024 * 1024 < imageBytes / 3, `the scan grew by ${growthMB.toFixed(0)} MB for a ${(imageBytes / 1e6).toFixed(0)} MB image`);
  });

  it('reads the Docker 25+ layout (OCI inside the tar) from a stream as well', async () => {
    // dockerd 20.10 writes the legacy layout; the Docker 25 form is the test image's docker25.tar, streamed
    const file = join(images, 'debian12', 'docker25.tar');
    const exp = await analyseExport(createReadStream(file), {
      plan: { extractors: extractorsFor({ performScaScan: false }), inMemoryLimit: 16 << 20 },
      tempDir: work,
      signal: new AbortController().signal,
      limits: DEFAULT_LAYER_LIMITS,
      label: file,
    });
    const resolved = resolveExport(exp, file, null);
    const fromFile = scanJson(file);
    assert.deepEqual(resolved.config.diffIds, diffIds(fromFile));
    assert.deepEqual(
      resolved.layers.map((l) => l.diffId),
      diffIds(fromFile),
    );
    assert.equal(resolved.manifestDigest, fromFile.image.manifestDigest);
    assert.equal(resolved.imageId, fromFile.image.imageId);
  });

  it('lists images and containers with their names, ids, state and labels', async () => {
    const list = await client.listImages();
    const d12 = list.find((i) => i.repoTags.includes(tagOf('debian12')));
    assert.ok(d12 && d12.id.startsWith('sha256:') && (d12.size ?? 0) > 0 && d12.created === Date.parse('2024-01-01T00:02:00Z') / 1000, JSON.stringify(d12));
    const id = await client.createContainer({ Image: tagOf('distroless'), Cmd: ['/nothing'], Labels: { 'tally.test': 'list' }, HostConfig: { NetworkMode: 'none' } }, null);
    try {
      const c = (await client.listContainers({ labels: ['tally.test=list'] })).find((x) => x.id === id);
      assert.ok(c);
      assert.equal(c.state, 'created');
      assert.equal(c.image, tagOf('distroless'));
      assert.equal(c.imageId, (await client.inspectImage(tagOf('distroless'))).id);
      assert.equal(c.names.length, 1);
      assert.deepEqual(c.labels, { 'tally.test': 'list' });
      assert.ok((c.created ?? 0) > Date.now() / 1000 - 600);
    } finally {
      await client.removeContainer(id);
    }
  });
});

describe('Dynamic scan (real containers)', () => {
  it('asks dpkg in the running Debian image: the Static set, scanType Dynamic, same layers, no container left', async (t) => {
    const events: DynamicEvent[] = [];
    const started = Date.now();
    const report = await dynamicScan(`docker:${tagOf('debian12-layers')}`, { host: docker.host, onDynamicEvent: (e) => events.push(e) });
    const ms = Date.now() - started;
    validateReport(report);
    const staticReport = scanJson(join(images, 'debian12-layers', 'docker-archive.tar'));
    assert.deepEqual(report.scanTypes, ['Dynamic']);
    assert.deepEqual(nva(report), nva(staticReport));
    assert.deepEqual(nva(report), lines(join(images, 'debian12-layers/expected-dpkg.txt')));
    assert.ok(report.packages.every((p) => p.scanType === 'Dynamic'));
    assert.deepEqual(attribution(report), attribution(staticReport), 'jq in layer 4, libjq1 in layer 1, …: as the Static scan says');
    assert.deepEqual(report.issues, []);
    assert.ok(events.some((e) => e.kind === 'container-created') && events.some((e) => e.kind === 'container-removed'));
    assert.deepEqual(await leftovers(), []);
    t.diagnostic(`dynamic scan of debian12-layers: ${ms} ms`);
  });

  it('keeps SCA as the Static file pass: scanTypes Dynamic + SCA', async () => {
    const report = await dynamicScan(`docker:${tagOf('sca-dotnet')}`, { host: docker.host, performScaScan: true });
    const staticReport = await scanDockerImage(tagOf('sca-dotnet'), { host: docker.host, performScaScan: true });
    assert.deepEqual(report.scanTypes, ['Dynamic', 'SCA']);
    assert.deepEqual(attribution(report), attribution(staticReport));
    assert.ok(report.packages.some((p) => p.class === 'lang' && p.scanType === 'SCA'));
    assert.ok(report.packages.filter((p) => p.class === 'os').every((p) => p.scanType === 'Dynamic'));
    assert.deepEqual(await leftovers(), []);
  });

  it('falls back to Static, saying why, for an image without a shell (distroless)', async () => {
    const events: DynamicEvent[] = [];
    const report = await dynamicScan(`docker:${tagOf('distroless')}`, { host: docker.host, onDynamicEvent: (e) => events.push(e) });
    assert.deepEqual(report.scanTypes, ['Static']);
    assert.deepEqual(nva(report), nva(scanJson(join(images, 'distroless', 'docker-archive.tar'))));
    assert.ok(report.packages.every((p) => p.scanType === 'Static'));
    assert.ok(report.issues.some((i) => /Dynamic scan not possible: the image has no shell/.test(i.message)), JSON.stringify(report.issues));
    assert.ok(events.some((e) => e.kind === 'fallback'));
    assert.deepEqual(await leftovers(), []);
  });

  it('runs a docker-archive file: loaded under no name, removed after, tags untouched', async () => {
    const before = await client.listImages();
    const events: DynamicEvent[] = [];
    const report = await dynamicScan(join(images, 'rpm-sqlite', 'docker-archive.tar'), { host: docker.host, onDynamicEvent: (e) => events.push(e) });
    assert.deepEqual(
      events.filter((e) => e.kind === 'image-loaded' || e.kind === 'image-removed').map((e) => e.kind),
      ['image-loaded', 'image-removed'],
    );
    // the rpm test image has no shell either (its binaries are text files)
    assert.ok(report.issues.some((i) => /no shell/.test(i.message)));
    assert.equal(report.image.source, 'docker-archive');
    const after = await client.listImages();
    assert.deepEqual(after.map((i) => `${i.id} ${i.repoTags.join(',')}`).sort(), before.map((i) => `${i.id} ${i.repoTags.join(',')}`).sort());
    assert.deepEqual(await leftovers(), []);
  });

  it('a scan killed (SIGKILL) mid-run leaves its container, and the next Dynamic scan removes it', async () => {
    // The child stops right after creating its container (a synchronous wait in its event hook), then is killed.
    const program = script(
      'killed-scan',
      `import { dynamicScan } from '@core/dynamic/scan.ts';
const [host, target] = process.argv.slice(2);
await dynamicScan(target, { host, onDynamicEvent: (e) => {
  if (e.kind !== 'container-created') return;
  console.log('created ' + e.id);
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 60_000);
} });
console.log('finished');
`,
    );
    const child = spawn(process.execPath, ['--import', 'tsx', program, docker.host, `docker:${tagOf('debian12')}`], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
    const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, sig) => resolve(sig ?? code)));
    let created: string | null = null;
    for await (const line of createInterface({ input: child.stdout })) {
      if (line.startsWith('created ')) {
        created = line.slice('created '.length);
        child.kill('SIGKILL');
        break;
      }
    }
    assert.equal(await exited, 'SIGKILL');
    assert.ok(created);
    assert.deepEqual(await leftovers(), [created], 'the killed scan could not remove its container');

    // the next start (any image; distroless is the quickest container to create with vfs)
    const events: DynamicEvent[] = [];
    await dynamicScan(`docker:${tagOf('distroless')}`, { host: docker.host, onDynamicEvent: (e) => events.push(e) });
    assert.deepEqual(events[0], { kind: 'cleanup', removed: [created] });
    assert.deepEqual(await leftovers(), []);
  });

  it('cleanup: removes containers past their deadline, keeps those of a live scan elsewhere', async () => {
    const imageId = (await client.inspectImage(tagOf('distroless'))).id;
    const make = async (labels: Record<string, string>): Promise<string> => {
      const body = probeContainerBody(imageId, DEFAULT_CONTAINER_LIMITS);
      return client.createContainer({ ...body, Labels: { ...(body['Labels'] as Record<string, string>), ...labels } }, null);
    };
    const now = Date.now();
    const expired = await make({ [LABEL_OWNER]: 'other-host/pid:[1]:1', [LABEL_DEADLINE]: String(now - 60_000) });
    const live = await make({ [LABEL_OWNER]: 'other-host/pid:[1]:1', [LABEL_DEADLINE]: String(now + 600_000) });
    try {
      assert.deepEqual(await cleanupDynamicContainers(client), [expired]);
      assert.deepEqual(await leftovers(), [live]);
      assert.deepEqual(await cleanupDynamicContainers(client, { now: now + 700_000 }), [live], 'once past its deadline it goes too');
    } finally {
      await client.removeContainer(expired);
      await client.removeContainer(live);
    }
  });
});

describe("podman's Docker-compatible API", () => {
  it('scans docker:IMAGE (podman/skopeo export layout) and runs a Dynamic scan', async (t) => {
    const podman = await startPodmanService();
    try {
      const pc = podman.client();
      await ensureImageLoaded(pc, join(images, 'debian12', 'docker-archive.tar'), tagOf('debian12'));
      const fromFile = scanJson(join(images, 'debian12', 'docker-archive.tar'));
      const streamed = await scanDockerImage(tagOf('debian12'), { host: podman.host });
      assert.deepEqual(nva(streamed), nva(fromFile));
      assert.deepEqual(diffIds(streamed), diffIds(fromFile));
      assert.deepEqual(attribution(streamed), attribution(fromFile));
      const started = Date.now();
      const dynamic = await dynamicScan(`docker:${tagOf('debian12')}`, { host: podman.host });
      t.diagnostic(`podman: service up in ${podman.startMs} ms, dynamic scan ${Date.now() - started} ms`);
      assert.deepEqual(dynamic.scanTypes, ['Dynamic']);
      assert.deepEqual(nva(dynamic), nva(fromFile));
      assert.deepEqual(await leftovers(pc), []);
    } finally {
      await podman.stop();
    }
  });
});

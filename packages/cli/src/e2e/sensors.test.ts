/**
 * `tally sensor general|registry` end to end: the built CLI against a real backend (startServer, in this process,
 * so the CLI runs through an async spawn), a real private dockerd (vfs, fresh data root holding exactly the three
 * images loaded here) and Debian's docker-registry on 127.0.0.1 (images pushed with skopeo). Hostile registry
 * behaviour runs against core's in-process fake registry.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { homedir, hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createToken, serverVulnDbPath, startServer, type RunningServer } from '@tally/server';
import type { DockerEngineClient } from '../../../core/src/image/sources/docker-engine/client.js';
import { LABEL_DYNAMIC } from '../../../core/src/dynamic/container.js';
import { ensureImageLoaded, startDockerd, startPodmanService, type EngineService } from '../../../core/src/testing/dockerd.js';
import { buildFakeImage, startFakeRegistry, startHttpServer, startRegistry, type RegistryServer } from '../../../core/src/testing/registry-server.js';
import { vulnDbFile } from '../../../server/src/testing/backend.js';
import { parseRegistry } from '../commands/sensor.js';
import { backoffMs } from '../sensor/loop.js';
import { sensorContainers } from '../sensor/containers.js';
import { nameFilter } from '../sensor/registry-targets.js';
import { repoRoot, testImages } from './support.js';

const bin = join(repoRoot, 'packages/cli/bin/tally.js');

interface Backend {
  readonly server: RunningServer;
  readonly sensor: string;
  readonly viewer: string;
}

let images: string;
let work: string;

/** A real backend on 127.0.0.1 with the shared advisory data, and a sensor and a viewer token. */
async function startBackend(name: string): Promise<Backend> {
  const dataDir = join(work, name);
  mkdirSync(join(dataDir, 'vulndb'), { recursive: true });
  copyFileSync(vulnDbFile(), serverVulnDbPath(dataDir));
  const server = await startServer({ dataDir, port: 0, logger: false });
  return { server, sensor: (await createToken(server.store.db, 'sensor')).token, viewer: (await createToken(server.store.db, 'viewer')).token };
}

async function api<T>(b: Backend, path: string): Promise<T> {
  const res = await fetch(`${b.server.url}${path}`, { headers: { authorization: `Bearer ${b.viewer}` } });
  assert.equal(res.status, 200, `${path}: ${await res.clone().text()}`);
  return (await res.json()) as T;
}

async function uploads(b: Backend): Promise<number> {
  const row = await b.server.store.read.selectFrom('uploads').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

interface Run {
  readonly code: number;
  readonly stderr: string;
}

/** The sensor as a child process (the backend answers from this one, so never spawnSync). */
function sensorProcess(args: readonly string[], b: Backend, env: Record<string, string> = {}): { child: ChildProcess; done: Promise<Run>; stderr: () => string } {
  const child = spawn(process.execPath, [bin, 'sensor', ...args, '--server', b.server.url], {
    env: { ...process.env, TALLY_TOKEN: b.sensor, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<Run>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), stderr }));
  });
  return { child, done, stderr: () => stderr };
}

const sensor = (args: readonly string[], b: Backend, env: Record<string, string> = {}): Promise<Run> => sensorProcess(args, b, env).done;

interface Summary {
  ms: number;
  seen: number;
  scanned: number;
  skipped: number;
  retagged: number;
  failed: number;
  blobs: number | null;
  containers: number | null;
}

function summary(run: Run): Summary {
  const m = /pass 1 done after (\d+) ms: (\d+) images seen, (\d+) scanned, (\d+) skipped, (\d+) re-tagged, (\d+) failed; (?:blobs pulled (\d+)|exported)[^;\n]*(?:; (\d+) containers)?\n/.exec(run.stderr);
  assert.ok(m, `no pass summary in:\n${run.stderr}`);
  const n = (i: number): number => Number(m[i]);
  return { ms: n(1), seen: n(2), scanned: n(3), skipped: n(4), retagged: n(5), failed: n(6), blobs: m[7] === undefined ? null : n(7), containers: m[8] === undefined ? null : n(8) };
}

/** The image lines of a run: outcome, ref, and the rest. */
function imageLines(run: Run, outcome: string): string[] {
  return run.stderr.split('\n').filter((l) => l.startsWith(`tally sensor general: ${outcome} `) || l.startsWith(`tally sensor registry: ${outcome} `));
}

before(() => {
  images = testImages();
  work = mkdtempSync(join(tmpdir(), 'tally-e2e-sensors-'));
});

after(() => {
  rmSync(work, { recursive: true, force: true });
});

describe('sensor settings', () => {
  it('backs off exponentially from min(5 s, interval) up to max(interval, 5 min)', () => {
    const mid = (): number => 0.5;
    assert.deepEqual([1, 2, 3, 4].map((f) => backoffMs(f, 300_000, mid)), [5_000, 10_000, 20_000, 40_000]);
    assert.equal(backoffMs(10, 300_000, mid), 300_000);
    assert.equal(backoffMs(20, 3_600_000, mid), 3_600_000);
    assert.deepEqual([1, 2, 3].map((f) => backoffMs(f, 1_000, mid)), [1_000, 2_000, 4_000]);
    assert.equal(backoffMs(1, 300_000, () => 0), 4_500);
    assert.equal(backoffMs(1, 300_000, () => 1), 5_500);
  });

  it('reads --registry and --repo/--tags', () => {
    assert.deepEqual(parseRegistry('https://reg.example'), { registry: 'reg.example', insecure: false });
    assert.deepEqual(parseRegistry('http://127.0.0.1:5000'), { registry: '127.0.0.1:5000', insecure: true });
    assert.deepEqual(parseRegistry('reg.example:5000'), { registry: 'reg.example:5000', insecure: false });
    assert.deepEqual(parseRegistry('https://index.docker.io/'), { registry: 'docker.io', insecure: false });
    assert.throws(() => parseRegistry('https://reg.example/v2/x'), /no path/);
    assert.throws(() => parseRegistry('ftp://reg.example'), /not http or https/);
    const f = nameFilter(['team/*', 'other/app,v1', '']);
    assert.deepEqual(f?.literals, ['other/app', 'v1']);
    assert.equal(f?.globs.some((g) => g.test('/team/app')), true);
    assert.equal(f?.globs.some((g) => g.test('/team/a/b')), false, '* stays within one path component');
    assert.equal(nameFilter([]), null);
  });

  it("turns the engine's container list into the backend's, without Dynamic-scan containers", () => {
    const base = { image: 'app:1', imageId: `sha256:${'a'.repeat(64)}`, state: 'running', status: 'Up', labels: {} };
    const list = sensorContainers([
      { ...base, id: 'c1', names: ['web'], created: 1_700_000_000, ports: [{ ip: '0.0.0.0', privatePort: 80, publicPort: 8080, type: 'tcp' }, { ip: null, privatePort: 53, publicPort: null, type: 'udp' }] },
      { ...base, id: 'c2', names: [], created: null, ports: [], labels: { [LABEL_DYNAMIC]: '1' } },
      { ...base, id: 'c3', names: ['orphan'], created: null, ports: [], imageId: null },
    ]);
    assert.deepEqual(list, [
      {
        id: 'c1',
        name: 'web',
        imageId: base.imageId,
        image: 'app:1',
        state: 'running',
        created: '2023-11-14T22:13:20.000Z',
        ports: [
          { ip: '0.0.0.0', privatePort: 80, publicPort: 8080, type: 'tcp' },
          { privatePort: 53, type: 'udp' },
        ],
      },
    ]);
  });
});

describe('tally sensor general against a real dockerd', { timeout: 900_000 }, () => {
  // distroless has no shell: the Dynamic pass falls back to Static for it
  const NAMES = ['debian12', 'distroless', 'sca-node'] as const;
  const tagOf = (name: string): string => `tally-test/${name}:latest`;
  const RETAG = 'tally-test/debian12:v2';
  let docker: EngineService;
  let engine: DockerEngineClient;
  let backend: Backend;
  const imageIds = new Map<string, string>();
  const containers = new Map<string, string>();
  let first: Run;
  let cacheDir: string;
  const args = (): string[] => ['general', '--once', '--perform-sca-scan', '--docker-host', docker.host, '--cache-dir', cacheDir];

  const cleanUp = async (): Promise<void> => {
    // containers first: a running `sleep` would hold up the engine's shutdown
    for (const c of await engine.listContainers()) await engine.removeContainer(c.id);
    await engine.removeImage(RETAG).catch(() => undefined); // untags only: debian12 keeps its own tag
  };

  before(async () => {
    // A data root of its own, kept between runs as docker-engine.test keeps its one: exactly the three images below,
    // loaded once per machine (a fresh root costs minutes with vfs, mostly deleting it again).
    const saved = process.env['TALLY_TEST_DOCKERD_ROOT'];
    process.env['TALLY_TEST_DOCKERD_ROOT'] = `${saved ?? join(homedir(), '.cache', 'tally', 'test-dockerd')}-sensors`;
    try {
      docker = await startDockerd();
    } finally {
      if (saved === undefined) delete process.env['TALLY_TEST_DOCKERD_ROOT'];
      else process.env['TALLY_TEST_DOCKERD_ROOT'] = saved;
    }
    engine = docker.client();
    await cleanUp(); // what a killed run left
    for (const name of NAMES) imageIds.set(name, (await ensureImageLoaded(engine, join(images, name, 'docker-archive.tar'), tagOf(name))).imageId);
    for (const [name, image] of [
      ['sensor-web', 'debian12'],
      ['sensor-app', 'sca-node'],
    ] as const) {
      const id = await engine.createContainer({ Image: tagOf(image), Cmd: ['sleep', '600'], HostConfig: { NetworkMode: 'none' } }, name);
      await engine.startContainer(id);
      containers.set(name, id);
    }
    backend = await startBackend('general-backend');
    cacheDir = join(work, 'general-cache');
  });

  after(async () => {
    await backend?.server.close();
    if (engine) await cleanUp();
    await docker?.stop();
  });

  it('first pass: the three images with Static and SCA, the two containers with OS-only counts', async (t) => {
    first = await sensor(args(), backend);
    assert.equal(first.code, 0, first.stderr);
    const s = summary(first);
    assert.deepEqual([s.seen, s.scanned, s.skipped, s.failed, s.containers], [3, 3, 0, 0, 2], first.stderr);

    const listed = await api<{ items: { imageId: string; repoTags: string[]; scanTypes: { scanType: string }[] }[] }>(backend, '/api/v1/images?limit=100');
    assert.deepEqual(listed.items.map((i) => i.imageId).sort(), [...imageIds.values()].sort());
    for (const image of listed.items) assert.deepEqual(image.scanTypes.map((x) => x.scanType).sort(), ['SCA', 'Static'], JSON.stringify(image));
    assert.equal(await uploads(backend), 3);
    const sensors = await api<{ items: { type: string; host: string; version: string; performScaScan: boolean; images: number }[] }>(backend, '/api/v1/sensors');
    assert.deepEqual(
      sensors.items.map((x) => [x.type, x.host, x.performScaScan, x.images]),
      [['general', hostname(), true, 3]],
      'the sensor reports itself: type, host, --perform-sca-scan',
    );

    type Counts = { total: number; bySeverity: Record<string, number> };
    const live = await api<{ items: { name: string; imageId: string; state: string; ports: { privatePort: number; type: string }[]; vulnerabilities: Counts & { scope: string } }[] }>(backend, '/api/v1/containers');
    assert.deepEqual(live.items.map((c) => c.name).sort(), ['sensor-app', 'sensor-web']);
    for (const c of live.items) {
      assert.equal(c.state, 'running');
      assert.deepEqual(c.ports, [], 'network "none" (this machine has no bridge): nothing published');
      const image = await api<{ vulnerabilities: Counts; vulnerabilitiesByScanType: Record<string, Counts> }>(backend, `/api/v1/images/${c.imageId}`);
      const os = image.vulnerabilitiesByScanType['Static'] ?? { total: 0, bySeverity: {} };
      const { scope, ...counts } = c.vulnerabilities;
      assert.equal(scope, 'os');
      assert.deepEqual(counts, os, `${c.name}: the OS-class counts of its image`);
      if (c.name === 'sensor-app') {
        assert.ok(image.vulnerabilities.total > os.total, `sca-node has SCA findings (${image.vulnerabilities.total} in all, ${os.total} OS) that its container does not count`);
      }
    }
    t.diagnostic(`general, first pass: ${s.ms} ms for 3 images + 2 containers`);
  });

  it('second pass: nothing rescanned, nothing uploaded', async (t) => {
    const second = await sensor(args(), backend);
    assert.equal(second.code, 0, second.stderr);
    const s = summary(second);
    assert.deepEqual([s.seen, s.scanned, s.skipped, s.retagged, s.failed, s.containers], [3, 0, 3, 0, 0, 2], second.stderr);
    assert.equal(imageLines(second, 'skipped').length, 3);
    assert.match(second.stderr, /exported 0 B of layers/);
    assert.equal(await uploads(backend), 3);
    t.diagnostic(`general, second pass: ${s.ms} ms (first: ${summary(first).ms} ms)`);
  });

  it('a removed container is marked removed; a new tag is recorded without a rescan', async () => {
    await engine.removeContainer(containers.get('sensor-web')!);
    await engine.json('POST', `/images/${encodeURIComponent(tagOf('debian12'))}/tag`, { query: { repo: 'tally-test/debian12', tag: 'v2' } });
    assert.ok((await engine.inspectImage(RETAG)).repoTags.includes(RETAG));
    const third = await sensor(args(), backend);
    assert.equal(third.code, 0, third.stderr);
    const s = summary(third);
    assert.deepEqual([s.scanned, s.skipped, s.retagged, s.containers], [0, 2, 1, 1], third.stderr);
    assert.match(imageLines(third, 're-tagged')[0] ?? '', /recorded tally-test\/debian12:v2 without a rescan/);
    const live = await api<{ items: { name: string }[] }>(backend, '/api/v1/containers');
    assert.deepEqual(live.items.map((c) => c.name), ['sensor-app']);
    const removed = await api<{ items: { name: string; removedAt: string | null }[] }>(backend, '/api/v1/containers?state=removed');
    assert.deepEqual(removed.items.map((c) => c.name), ['sensor-web']);
    assert.ok(removed.items[0]!.removedAt);
    const image = await api<{ repoTags: string[] }>(backend, `/api/v1/images/${imageIds.get('debian12')}`);
    assert.ok(image.repoTags.includes(RETAG), JSON.stringify(image.repoTags));
    assert.equal(await uploads(backend), 3);
  });

  it('SIGTERM mid-scan (Dynamic) stops cleanly: no container, no temp file left; then a Dynamic pass', async (t) => {
    const fresh = await startBackend('dynamic-backend');
    try {
      const tmp = join(work, 'sigterm-tmp');
      mkdirSync(tmp);
      const run = sensorProcess(['general', '--scan-mode', 'dynamic', '--docker-host', docker.host, '--cache-dir', join(work, 'dynamic-cache'), '--interval', '3600'], fresh, { TMPDIR: tmp });
      const probe = async (): Promise<string[]> => (await engine.listContainers({ labels: [`${LABEL_DYNAMIC}=1`] })).map((c) => c.id);
      const deadline = Date.now() + 120_000;
      while ((await probe()).length === 0) {
        assert.ok(Date.now() < deadline, `no Dynamic-scan container appeared:\n${run.stderr()}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const killedAt = Date.now();
      run.child.kill('SIGTERM');
      const stopped = await run.done;
      t.diagnostic(`general, SIGTERM during a Dynamic scan: exited ${Date.now() - killedAt} ms later`);
      assert.equal(stopped.code, 0, stopped.stderr);
      assert.match(stopped.stderr, /SIGTERM: stopping/);
      assert.match(stopped.stderr, /pass 1 stopped after \d+ ms/);
      assert.match(stopped.stderr, /: stopped\n$/);
      assert.deepEqual(await probe(), [], 'the probe container is removed');
      assert.deepEqual(readdirSync(tmp), [], 'no temp file left');
      assert.equal(await uploads(fresh), 0, 'nothing half-done uploaded');

      const dynamic = await sensor(['general', '--once', '--scan-mode', 'dynamic', '--docker-host', docker.host, '--cache-dir', join(work, 'dynamic-cache')], fresh);
      assert.equal(dynamic.code, 0, dynamic.stderr);
      assert.equal(summary(dynamic).scanned, 3, dynamic.stderr);
      const listed = await api<{ items: { imageId: string; scanTypes: { scanType: string; active: boolean }[] }[] }>(fresh, '/api/v1/images?limit=100');
      const active = Object.fromEntries(listed.items.map((i) => [i.imageId, i.scanTypes.filter((x) => x.active).map((x) => x.scanType)]));
      assert.deepEqual(active, {
        [imageIds.get('debian12')!]: ['Dynamic'],
        [imageIds.get('sca-node')!]: ['Dynamic'],
        [imageIds.get('distroless')!]: ['Static'], // no shell to ask: the Static inventory, with an issue saying so
      });
      assert.deepEqual(await probe(), []);
    } finally {
      await fresh.server.close();
    }
  });
});

describe("tally sensor general against podman's Docker-compatible API", { timeout: 600_000 }, () => {
  it('scans its images (layers shared through the cache, as podman names them by digest), reports its container, then skips', async () => {
    const podman = await startPodmanService();
    const backend = await startBackend('podman-backend');
    try {
      const pc = podman.client();
      for (const name of ['debian12', 'debian12-layers']) await ensureImageLoaded(pc, join(images, name, 'docker-archive.tar'), `tally-test/${name}:latest`);
      const id = await pc.createContainer({ Image: 'tally-test/debian12:latest', Cmd: ['sleep', '600'], HostConfig: { NetworkMode: 'none' } }, 'podman-web');
      await pc.startContainer(id);
      const args = ['general', '--once', '--docker-host', podman.host, '--cache-dir', join(work, 'podman-cache')];
      const first = await sensor(args, backend);
      assert.equal(first.code, 0, first.stderr);
      const s = summary(first);
      assert.deepEqual([s.seen, s.scanned, s.containers], [2, 2, 1], first.stderr);
      const cached = imageLines(first, 'scanned').map((l) => Number(/(\d+) from the layer cache/.exec(l)?.[1]));
      assert.equal(cached.reduce((a, b) => a + b, 0), 1, `the shared base layer is analysed once:\n${first.stderr}`);
      const live = await api<{ items: { name: string; state: string; imageKnown: boolean }[] }>(backend, '/api/v1/containers');
      assert.deepEqual(live.items.map((c) => [c.name, c.state, c.imageKnown]), [['podman-web', 'running', true]]);
      const second = await sensor(args, backend);
      assert.equal(second.code, 0, second.stderr);
      assert.deepEqual([summary(second).scanned, summary(second).skipped], [0, 2], second.stderr);
    } finally {
      await backend.server.close();
      await podman.stop();
    }
  });
});

describe('tally sensor registry against a real docker-registry', { timeout: 600_000 }, () => {
  let reg: RegistryServer;
  let backend: Backend;
  let cacheDir: string;
  const args = (...extra: string[]): string[] => ['registry', '--once', '--registry', `http://${reg.host}`, '--repo', 'team/*', '--cache-dir', cacheDir, ...extra];
  let firstSca: Summary;

  before(async () => {
    reg = await startRegistry({ mode: 'anonymous' });
    await reg.push(`oci:${images}/debian12/oci:latest`, 'team/debian12:1');
    await reg.push(`oci:${images}/debian12-layers/oci:latest`, 'team/layers:1');
    await reg.push(`oci:${images}/multiarch/oci:latest`, 'team/multiarch:latest', { all: true });
    backend = await startBackend('registry-backend');
    cacheDir = join(work, 'registry-cache');
  });

  after(async () => {
    await backend?.server.close();
    await reg?.stop();
  });

  it('scans every tag once; an image stored without SCA is scanned again by a sensor that runs SCA', async (t) => {
    const plain = await sensor(args(), backend);
    assert.equal(plain.code, 0, plain.stderr);
    const p = summary(plain);
    // multiarch's linux/amd64 manifest is debian12's, byte for byte: scanned once, then recorded under the other tag
    assert.deepEqual([p.seen, p.scanned, p.retagged], [3, 2, 1], plain.stderr);
    assert.match(plain.stderr, /re-tagged registry:\S+\/team\/multiarch:latest .*recorded \S+\/team\/multiarch:latest without a rescan/);
    // debian12-layers is debian12 plus four layers: the shared base comes from the layer cache, unpulled
    assert.match(plain.stderr, /scanned registry:127\.0\.0\.1:\d+\/team\/layers:1 .*; 5 layers, 1 from the layer cache; 5 blobs pulled\n/);
    const sca = await sensor(args('--perform-sca-scan'), backend);
    assert.equal(sca.code, 0, sca.stderr);
    firstSca = summary(sca);
    assert.deepEqual([firstSca.scanned, firstSca.skipped], [2, 1], sca.stderr);
    assert.ok((firstSca.blobs ?? 0) > 0);
    const listed = await api<{ items: { repoTags: string[]; scanTypes: { scanType: string }[] }[] }>(backend, '/api/v1/images?limit=100');
    assert.equal(listed.items.length, 2);
    for (const image of listed.items) assert.deepEqual(image.scanTypes.map((x) => x.scanType).sort(), ['SCA', 'Static']);
    t.diagnostic(`registry, first SCA pass: ${firstSca.ms} ms, ${firstSca.blobs} blobs pulled`);
  });

  it('a second pass pulls zero blobs; a re-tag is recorded without a rescan', async (t) => {
    const before = await uploads(backend);
    const second = await sensor(args('--perform-sca-scan'), backend);
    assert.equal(second.code, 0, second.stderr);
    const s = summary(second);
    assert.deepEqual([s.seen, s.scanned, s.skipped, s.retagged, s.blobs], [3, 0, 3, 0, 0], second.stderr);
    t.diagnostic(`registry, second pass: ${s.ms} ms, ${s.blobs} blobs pulled (first: ${firstSca.ms} ms, ${firstSca.blobs} blobs)`);

    await reg.push(`oci:${images}/debian12/oci:latest`, 'team/debian12:2');
    const retag = await sensor(args('--perform-sca-scan'), backend);
    assert.equal(retag.code, 0, retag.stderr);
    const r = summary(retag);
    assert.deepEqual([r.seen, r.scanned, r.skipped, r.retagged, r.blobs], [4, 0, 3, 1, 0], retag.stderr);
    assert.match(retag.stderr, /re-tagged registry:127\.0\.0\.1:\d+\/team\/debian12:2 \(sha256:[0-9a-f]{64}\) in \d+ ms: known image, recorded 127\.0\.0\.1:\d+\/team\/debian12:2 without a rescan/);
    const listed = await api<{ items: { repoTags: string[] }[] }>(backend, '/api/v1/images?limit=100');
    const d12 = listed.items.find((i) => i.repoTags.some((tag) => tag.endsWith('/team/debian12:1')));
    assert.deepEqual(d12?.repoTags.map((tag) => tag.replace(/^[^/]+\//, '')).sort(), ['team/debian12:1', 'team/debian12:2', 'team/multiarch:latest']);
    assert.equal(await uploads(backend), before);
  });

  it('--platform all scans the other platform of the multi-arch index', async () => {
    // --tags latest: a literal tag that the other repositories lack is no image there, not an error
    const all = await sensor(args('--perform-sca-scan', '--platform', 'all', '--tags', 'latest'), backend);
    assert.equal(all.code, 0, all.stderr);
    const s = summary(all);
    assert.deepEqual([s.seen, s.scanned, s.skipped], [2, 1, 1], all.stderr);
    assert.match(all.stderr, /scanned registry:\S+\/team\/multiarch:latest \[linux\/arm64\/v8\]/);
    assert.match(all.stderr, /skipped registry:\S+\/team\/multiarch:latest \[linux\/amd64\]/);
    const listed = await api<{ items: { platform: { architecture: string | null } | null; repoTags: string[] }[] }>(backend, '/api/v1/images?limit=100');
    const multi = listed.items.filter((i) => i.repoTags.some((tag) => tag.endsWith('/team/multiarch:latest')));
    assert.deepEqual(multi.map((i) => i.platform?.architecture).sort(), ['amd64', 'arm64']);
  });
});

describe('tally sensor registry against a hostile registry', { timeout: 300_000 }, () => {
  it('a bad digest, endless redirects, a 100 MB manifest, a hanging token endpoint: each fails its image, the pass goes on', async () => {
    const good = await buildFakeImage({ layers: [{ entries: [{ name: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\n' }] }] });
    const hanging = await startHttpServer(() => undefined);
    const reg = await startFakeRegistry({ 'bad/digest': { '1': good }, 'bad/huge': { '1': good }, 'bad/redirect': { '1': good }, 'bad/token': { '1': good }, 'good/app': { '1': good } }, (req, res, url) => {
      if (url.pathname === `/v2/bad/digest/blobs/${good.layers[0]!.digest}`) {
        const body = Buffer.from(good.layers[0]!.bytes);
        body[body.length - 20]! ^= 0xff; // one flipped byte: same size, other digest
        res.writeHead(200, { 'content-length': body.length }).end(body);
        return true;
      }
      if (url.pathname.startsWith('/v2/bad/redirect/blobs/')) {
        res.writeHead(307, { location: `${url.pathname}?n=${Number(url.searchParams.get('n') ?? 0) + 1}` }).end();
        return true;
      }
      if (url.pathname === '/v2/bad/huge/manifests/1') {
        // no Docker-Content-Digest on the HEAD: the digest must come from the document, which never ends
        const head = res.writeHead(200, { 'content-type': good.mediaType, 'content-length': 100 * 1024 * 1024 });
        if (req.method === 'HEAD') head.end();
        else head.write('{');
        return true;
      }
      if (url.pathname.startsWith('/v2/bad/token/') && !req.headers.authorization) {
        res.writeHead(401, { 'www-authenticate': `Bearer realm="${hanging.origin}/token",service="fake",scope="repository:bad/token:pull"` }).end();
        return true;
      }
      return false;
    });
    const backend = await startBackend('hostile-backend');
    try {
      const repos = ['good/app', 'bad/token', 'bad/redirect', 'bad/huge', 'bad/digest'].flatMap((r) => ['--repo', r]);
      const started = Date.now();
      const run = await sensor(['registry', '--once', '--registry', `http://${reg.host}`, ...repos, '--tags', '1', '--registry-timeout', '1', '--cache-dir', join(work, 'hostile-cache')], backend);
      assert.equal(run.code, 2, run.stderr);
      const s = summary(run);
      assert.deepEqual([s.seen, s.scanned, s.failed], [5, 1, 4], run.stderr);
      const failed = imageLines(run, 'failed').join('\n');
      assert.match(failed, new RegExp(`failed registry:\\S+/bad/digest:1 in \\d+ ms: .*layer 0 \\(${good.layers[0]!.digest}\\).*\\[DIGEST_MISMATCH\\]`));
      assert.match(failed, /failed registry:\S+\/bad\/huge:1 in \d+ ms: .*104857600 bytes, over the 4194304-byte limit; refused \[INVALID_IMAGE\]/);
      assert.match(failed, /failed registry:\S+\/bad\/redirect:1 in \d+ ms: .*more than 10 redirects/);
      assert.match(failed, /failed registry:\S+\/bad\/token:1 in \d+ ms: .*token endpoint: timed out/);
      assert.match(run.stderr, /scanned registry:\S+\/good\/app:1 /, 'the repository after the bad ones is scanned');
      assert.ok(Date.now() - started < 60_000, `took ${Date.now() - started} ms`);
    } finally {
      await Promise.all([backend.server.close(), reg.close(), hanging.close()]);
    }
  });

  it('a backend that cannot be reached: the pass fails and is retried with growing waits, until SIGTERM', async () => {
    const gone = await startHttpServer(() => undefined);
    const url = gone.origin;
    await gone.close(); // nothing listens there now
    const fake: Backend = { server: { url } as RunningServer, sensor: 'tly_000000000000_' + 'x'.repeat(43), viewer: '' };
    const run = sensorProcess(['registry', '--registry', '127.0.0.1:1', '--interval', '1', '--cache-dir', join(work, 'backoff-cache')], fake);
    const deadline = Date.now() + 30_000;
    while ((run.stderr().match(/retrying in/g) ?? []).length < 3) {
      assert.ok(Date.now() < deadline, run.stderr());
      await new Promise((r) => setTimeout(r, 100));
    }
    run.child.kill('SIGTERM');
    const r = await run.done;
    assert.equal(r.code, 0, r.stderr);
    const waits = [...r.stderr.matchAll(/retrying in ([\d.]+) s \((\d+) failed pass/g)].map((m) => [Number(m[1]), Number(m[2])]);
    assert.deepEqual(waits.slice(0, 3).map((w) => w[1]), [1, 2, 3]);
    for (const [i, [secs]] of waits.slice(0, 3).entries()) assert.ok(secs! >= 0.9 * 2 ** i && secs! <= 1.1 * 2 ** i, `wait ${i + 1}: ${secs} s`);
    assert.match(r.stderr, /pass 1 failed after \d+ ms: POST http:\/\/127\.0\.0\.1:\d+\/api\/v1\/sensors\/heartbeat failed: fetch failed: connect ECONNREFUSED/);
    assert.match(r.stderr, /: stopped\n$/);
  });
});

/**
 * `registry:` targets against a REAL Debian docker-registry on 127.0.0.1, in its three auth modes (anonymous HTTP,
 * htpasswd Basic over TLS with a self-signed CA, Bearer tokens from our token server), all serving one storage
 * root that the test images were pushed into with skopeo (built once, cached next to the test images).
 * Hostile behaviour a real registry does not show runs against an in-process fake.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  DEFAULT_PLATFORM,
  DirectoryLayerCache,
  isTallyError,
  parsePlatform,
  RegistryClient,
  resolvePlatforms,
  scanImage,
  sourceForTarget,
  type ProgressEvent,
  type RegistryOptions,
  type ScanReport,
} from '../../../core/src/index.js';
import {
  buildFakeImage,
  cachedRegistryStorage,
  startFakeRegistry,
  startHttpServer,
  startRegistry,
  startTokenServer,
  type FakeImage,
  type RegistryServer,
  type TokenServer,
} from '../../../core/src/testing/registry-server.js';
import { readJson, repoRoot, scanJson, tally, testImages, type ScanJson } from './support.js';

let images: string;
let work: string;
let tokens: TokenServer;
let anon: RegistryServer;
let tls: RegistryServer;
let bearer: RegistryServer;
let baseline: ScanReport;
let layersBaseline: ScanReport;

/** How each mode is reached: the options a user would give. */
function optionsFor(reg: RegistryServer): RegistryOptions {
  const common: RegistryOptions = { dockerConfigDir: null };
  if (reg.mode === 'anonymous') return common; // loopback: HTTPS is tried, then plain HTTP
  if (reg.mode === 'basic-tls') return { ...common, username: reg.username!, password: reg.password!, caCerts: [reg.caPem!] };
  return { ...common, username: reg.username!, password: reg.password!, insecure: true };
}

async function scan(target: string, opts: { registry?: RegistryOptions; platform?: string; cache?: DirectoryLayerCache; onProgress?: (e: ProgressEvent) => void } = {}): Promise<ScanReport> {
  const source = await sourceForTarget(target, {
    platform: opts.platform ? parsePlatform(opts.platform) : DEFAULT_PLATFORM,
    platformExplicit: opts.platform !== undefined,
    ...(opts.registry ? { registry: opts.registry } : {}),
  });
  return scanImage(source, { tempRoot: work, ...(opts.cache ? { cache: opts.cache } : {}), ...(opts.onProgress ? { onProgress: opts.onProgress } : {}) });
}

/**
 * The report minus what names where the image came from. Layer digests, media types and sizes go too: the
 * docker-archive stores layers uncompressed, the registry gzip-compressed; their diffIds must still agree.
 */
function comparable(report: ScanReport | ScanJson): unknown {
  const r = JSON.parse(JSON.stringify(report)) as { scannedAt?: string; image: Record<string, unknown> & { layers: Record<string, unknown>[] } };
  delete r.scannedAt;
  for (const k of ['ref', 'source', 'manifestDigest', 'repoTags', 'repoDigests']) delete r.image[k];
  r.image.layers = r.image.layers.map(({ digest: _d, mediaType: _m, size: _s, ...rest }) => rest);
  return r;
}

/** The CLI, without blocking this process (the in-process fakes must keep answering while it runs). */
function tallyAsync(args: readonly string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, 'packages/cli/bin/tally.js'), ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}

before(async () => {
  images = testImages();
  work = await mkdtemp(join(tmpdir(), 'tally-e2e-registry-'));
  // pushed once per test-image version; the registries below serve it read-only
  const data = await cachedRegistryStorage(join(dirname(images), 'registry'), `test-images ${basename(images)}`, [
    { source: `oci:${images}/debian12/oci:latest`, repoTag: 'team/debian12:oci' },
    { source: `docker-archive:${images}/debian12/docker-archive.tar`, repoTag: 'team/debian12:docker' },
    { source: `oci:${images}/debian12-layers/oci:latest`, repoTag: 'team/layers:1' },
    { source: `oci:${images}/multiarch/oci:latest`, repoTag: 'team/multiarch:latest', all: true },
  ]);
  tokens = await startTokenServer({ dir: join(work, 'token'), username: 'robot', password: 'robot-pw' });
  [anon, tls, bearer] = await Promise.all([
    startRegistry({ mode: 'anonymous', dataDir: data, readOnly: true }),
    startRegistry({ mode: 'basic-tls', dataDir: data, readOnly: true }),
    startRegistry({ mode: 'bearer', dataDir: data, readOnly: true, tokenServer: tokens, username: 'robot', password: 'robot-pw' }),
  ]);
  baseline = await scan(`docker-archive:${images}/debian12/docker-archive.tar`);
  layersBaseline = await scan(`docker-archive:${images}/debian12-layers/docker-archive.tar`);
});

after(async () => {
  await Promise.all([anon?.stop(), tls?.stop(), bearer?.stop(), tokens?.close()]);
  if (work) await rm(work, { recursive: true, force: true });
});

describe('a real docker-registry in three auth modes', () => {
  it('anonymous, Basic over TLS and Bearer scan the pushed image to the docker-archive report', async () => {
    const expected = readJson<{ image: { manifestDigest: string } }>(join(images, 'debian12/expected.json'));
    assert.ok(baseline.packages.length > 50);
    for (const reg of [anon, tls, bearer]) {
      for (const tag of ['docker', 'oci']) {
        const ref = `${reg.host}/team/debian12:${tag}`;
        const report = await scan(`registry:${ref}`, { registry: optionsFor(reg) });
        assert.deepEqual(comparable(report), comparable(baseline), `${reg.mode} ${tag}: same report as the docker-archive`);
        assert.equal(report.image.source, 'registry');
        assert.deepEqual(report.image.repoTags, [`${ref}`]);
        assert.deepEqual(report.image.repoDigests, [`${reg.host}/team/debian12@${report.image.manifestDigest}`]);
        assert.match(report.image.layers[0]!.mediaType, /gzip/);
        if (tag === 'oci') assert.equal(report.image.manifestDigest, expected.image.manifestDigest, 'the OCI manifest is pushed byte for byte');
      }
    }
  });

  it('a five-layer image with whiteouts gives the same report as its docker-archive', async () => {
    const report = await scan(`registry:${anon.host}/team/layers:1`);
    assert.equal(report.image.layers.length, 5);
    assert.deepEqual(comparable(report), comparable(layersBaseline));
  });

  it('a multi-arch index yields both platforms through resolvePlatforms, sharing layer work', async () => {
    const expected = readJson<{ platforms: Record<string, { manifestDigest: string; layers: number }> }>(join(images, 'multiarch/expected.json'));
    const all = await resolvePlatforms(`${bearer.host}/team/multiarch:latest`, optionsFor(bearer));
    assert.equal(all.mediaType, 'application/vnd.oci.image.index.v1+json');
    const byPlatform = Object.fromEntries(all.images.map((i) => [[i.platform.os, i.platform.architecture, i.platform.variant].filter((x) => x).join('/'), i.manifestDigest]));
    assert.deepEqual(byPlatform, Object.fromEntries(Object.entries(expected.platforms).map(([p, v]) => [p, v.manifestDigest])));

    const cache = new DirectoryLayerCache(join(work, 'layer-cache'));
    const cachedLayers: boolean[] = [];
    const reports: ScanReport[] = [];
    for (const image of all.images) {
      reports.push(await scanImage(image.source, { tempRoot: work, cache, onProgress: (e) => void (e.kind === 'layer-done' && cachedLayers.push(e.cached)) }));
    }
    assert.deepEqual(cachedLayers, [false, true, false], 'the base layer shared by both platforms is analysed once');
    assert.deepEqual(
      reports.map((r) => r.image.platform),
      [
        { os: 'linux', architecture: 'amd64', variant: null },
        { os: 'linux', architecture: 'arm64', variant: 'v8' },
      ],
    );
    for (const r of reports) {
      assert.deepEqual(r.packages.map((p) => `${p.name} ${p.version}`).sort(), baseline.packages.map((p) => `${p.name} ${p.version}`).sort());
      assert.deepEqual(r.image.repoDigests, [`${bearer.host}/team/multiarch@${all.digest}`], 'repoDigests names the index the tag points at');
    }
    const arm = await scan(`registry:${anon.host}/team/multiarch`, { platform: 'linux/arm64' });
    assert.equal(arm.image.manifestDigest, expected.platforms['linux/arm64/v8']!.manifestDigest);
  });

  it('Bearer tokens are fetched once per scope and reused across images; catalog and tags page', async () => {
    const client = new RegistryClient(bearer.host, optionsFor(bearer));
    const before = tokens.requests.length;
    for (const tag of ['docker', 'oci']) await scanImage((await resolvePlatforms(`${bearer.host}/team/debian12:${tag}`, { ...optionsFor(bearer), client })).images[0]!.source, { tempRoot: work });
    const repos: string[] = [];
    for await (const r of client.catalog({ pageSize: 1 })) repos.push(r);
    const tags: string[] = [];
    for await (const t of client.tags('team/debian12', { pageSize: 1 })) tags.push(t);
    assert.deepEqual(repos, ['team/debian12', 'team/layers', 'team/multiarch']);
    // distribution 2.8 ignores `n` on tags/list and does not sort: tag paging is covered against the fake
    assert.deepEqual(tags.sort(), ['docker', 'oci']);
    assert.deepEqual(
      tokens.requests.slice(before).map((r) => [r.scopes.join(' '), r.user]),
      [
        ['repository:team/debian12:pull', 'robot'],
        ['registry:catalog:*', 'robot'],
      ],
    );
    assert.equal((await client.headManifest('team/debian12', 'oci')).digest, (await client.getManifest('team/debian12', 'oci')).digest);
    client.close();
  });

  it('says clearly what is wrong: untrusted CA, bad password, no credentials, unknown tag', async () => {
    const code = (c: string, re: RegExp) => (err: unknown) => isTallyError(err) && err.code === c && re.test(err.message);
    const target = `registry:${tls.host}/team/debian12:oci`;
    await assert.rejects(scan(target, { registry: { dockerConfigDir: null, username: 'tally', password: 'tally-secret' } }), code('TARGET_UNREADABLE', /TLS certificate not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT.*--ca-cert/));
    await assert.rejects(scan(target, { registry: { ...optionsFor(tls), password: 'wrong' } }), code('TARGET_UNREADABLE', /401: the credentials were rejected/));
    await assert.rejects(scan(target, { registry: { dockerConfigDir: null, caCerts: [tls.caPem!] } }), code('TARGET_UNREADABLE', /401: authentication required/));
    await assert.rejects(scan(`registry:${bearer.host}/team/debian12:oci`, { registry: { ...optionsFor(bearer), password: 'wrong' } }), code('TARGET_UNREADABLE', /token endpoint: 401: the credentials were refused/));
    await assert.rejects(scan(`registry:${anon.host}/team/debian12:nope`), code('IMAGE_NOT_FOUND', /team\/debian12:nope: manifest: not found \(MANIFEST_UNKNOWN/));
    await assert.rejects(scan(`registry:${anon.host}/team/multiarch`, { platform: 'linux/s390x' }), code('IMAGE_NOT_FOUND', /no image for platform linux\/s390x \(available: linux\/amd64, linux\/arm64\/v8\)/));
  });
});

describe('the tally CLI on registry: targets', () => {
  it('scans from an anonymous loopback registry, with --platform', () => {
    const report = scanJson(`registry:${anon.host}/team/debian12:docker`);
    assert.deepEqual(comparable(report), comparable(JSON.parse(JSON.stringify(baseline)) as ScanJson));
    const arm = scanJson(`registry:${anon.host}/team/multiarch:latest`, ['--platform', 'linux/arm64/v8']);
    assert.equal(arm.image.layers.length, 2);
  });

  it('takes credentials from the Docker config and trusts NODE_EXTRA_CA_CERTS (TLS + Basic)', async () => {
    const dockerDir = join(work, 'docker-config');
    await mkdir(dockerDir, { recursive: true });
    await writeFile(join(dockerDir, 'config.json'), JSON.stringify({ auths: { [tls.host]: { auth: Buffer.from(`${tls.username}:${tls.password}`).toString('base64') } } }));
    const target = `registry:${tls.host}/team/debian12:oci`;
    const ok = tally(['scan', target, '--format', 'json', '--quiet', '--no-cache'], { DOCKER_CONFIG: dockerDir, NODE_EXTRA_CA_CERTS: tls.caFile! });
    assert.equal(ok.code, 0, ok.stderr);
    assert.deepEqual(comparable(JSON.parse(ok.stdout) as ScanJson), comparable(JSON.parse(JSON.stringify(baseline)) as ScanJson));
    const noCa = tally(['scan', target, '--format', 'json', '--quiet', '--no-cache'], { DOCKER_CONFIG: dockerDir });
    assert.equal(noCa.code, 2);
    assert.match(noCa.stderr, /^tally: .*TLS certificate not trusted.*\[TARGET_UNREADABLE\]\n$/);
  });
});

describe('hostile registries (in-process fake) through the CLI', () => {
  let good: FakeImage;
  before(async () => {
    good = await buildFakeImage({ layers: [{ entries: [{ name: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\n' }] }] });
  });

  it('a blob that does not match its digest, an endless redirect chain, a 100 MB manifest: one clear error each', async () => {
    const big = 100 * 1024 * 1024;
    const reg = await startFakeRegistry({ 'bad/digest': { '1': good }, 'bad/redirect': { '1': good }, 'bad/huge': { '1': good } }, (_req, res, url) => {
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
        res.writeHead(200, { 'content-type': good.mediaType, 'content-length': big }).write('{');
        return true;
      }
      return false;
    });
    try {
      const run = (repo: string) => tallyAsync(['scan', `registry:${reg.host}/${repo}:1`, '--format', 'json', '--quiet', '--no-cache', '--no-match']);
      const [digest, redirect, huge] = await Promise.all([run('bad/digest'), run('bad/redirect'), run('bad/huge')]);
      assert.equal(digest.code, 2);
      assert.match(digest.stderr, new RegExp(`layer 0 \\(${good.layers[0]!.digest}\\).*\\[DIGEST_MISMATCH\\]`));
      assert.equal(redirect.code, 2);
      assert.match(redirect.stderr, /blob sha256:[0-9a-f]{64}: more than 10 redirects .*\[TARGET_UNREADABLE\]/);
      assert.equal(huge.code, 2);
      assert.match(huge.stderr, /bad\/huge:1: manifest: 104857600 bytes, over the 4194304-byte limit; refused \[INVALID_IMAGE\]/);
    } finally {
      await reg.close();
    }
  });

  it('a token endpoint that hangs fails that image with a timeout, then the next image scans', async () => {
    const hanging = await startHttpServer(() => undefined);
    const reg = await startFakeRegistry({ 'team/app': { '1': good } }, (req, res, url) => {
      if (!url.pathname.startsWith('/v2/team/app/') || req.headers.authorization) return false;
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${hanging.origin}/token",service="fake",scope="repository:team/app:pull"` }).end();
      return true;
    });
    try {
      const t0 = Date.now();
      await assert.rejects(scan(`registry:${reg.host}/team/app:1`, { registry: { dockerConfigDir: null, timeoutMs: 1000 } }), (err: unknown) => isTallyError(err) && /token endpoint: timed out/.test(err.message));
      assert.ok(Date.now() - t0 < 5000, `failed after ${Date.now() - t0} ms`);
      // a sensor goes on to the next image: the same process can scan another registry at once
      const next = await scan(`registry:${anon.host}/team/debian12:oci`);
      assert.equal(next.packages.length, baseline.packages.length);
    } finally {
      await Promise.all([reg.close(), hanging.close()]);
    }
  });
});

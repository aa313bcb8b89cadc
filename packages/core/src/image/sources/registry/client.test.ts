/**
 * The registry client against in-process fakes: auth flows, token caching, redirects, retries, limits and hostile
 * answers. The real docker-registry runs in packages/cli/src/e2e/registry.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isTallyError } from '../../../model/errors.js';
import { scanImage } from '../../../scan.js';
import { buildFakeImage, startFakeRegistry, startHttpServer, type FakeImage, type FakeRegistry, type FakeRoute } from '../../../testing/registry-server.js';
import { parsePlatform } from '../oci-manifest.js';
import { RegistryClient, type RegistryOptions } from './client.js';
import { isRegistryError, type RegistryErrorKind } from './errors.js';
import { registrySource, resolvePlatforms } from './source.js';

const OS_RELEASE = { name: 'etc/os-release', content: 'ID=debian\nVERSION_ID="12"\nNAME="Debian GNU/Linux"\n' };
const status = (...names: string[]): string => names.map((n) => `Package: ${n}\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\n`).join('\n');

let image: FakeImage;
let armImage: FakeImage;
let tempRoot: string;
const servers: { close(): Promise<void> }[] = [];

before(async () => {
  tempRoot = await mkdtemp(join(tmpdir(), 'tally-registry-client-'));
  image = await buildFakeImage({
    layers: [
      { entries: [OS_RELEASE, { name: 'var/lib/dpkg/status', content: status('base', 'tool') }] },
      { entries: [{ name: 'var/lib/dpkg/status', content: status('base', 'tool', 'extra') }] },
    ],
  });
  armImage = await buildFakeImage({ architecture: 'arm64', layers: [{ entries: [OS_RELEASE, { name: 'var/lib/dpkg/status', content: status('armonly') }] }] });
});
after(async () => {
  await Promise.all(servers.map((s) => s.close()));
  await rm(tempRoot, { recursive: true, force: true });
});

async function fake(route?: FakeRoute, images: Record<string, Record<string, FakeImage>> = { 'team/app': { '1': image } }): Promise<FakeRegistry> {
  const reg = await startFakeRegistry(images, route);
  servers.push(reg);
  return reg;
}

async function http(handler: (req: IncomingMessage, res: ServerResponse, url: URL) => void) {
  const s = await startHttpServer(handler);
  servers.push(s);
  return s;
}

/** Fast retries and no Docker config: tests must not depend on the machine's ~/.docker. */
const OPTS: RegistryOptions = { insecure: true, dockerConfigDir: null, retryBaseMs: 5, timeoutMs: 5000 };

function fails(kind: RegistryErrorKind, pattern: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(isRegistryError(err), `a RegistryError, got ${String(err)}`);
    assert.equal(err.kind, kind, err.message);
    assert.match(err.message, pattern);
    return true;
  };
}

async function scanNames(reg: FakeRegistry, ref: string, opts: RegistryOptions & { client?: RegistryClient } = OPTS): Promise<string[]> {
  const report = await scanImage(registrySource(`registry:${reg.host}/${ref}`, `${reg.host}/${ref}`, opts), { tempRoot });
  return report.packages.map((p) => p.name).sort();
}

describe('anonymous registry', () => {
  it('scans an image whose layers stream from the registry', async () => {
    const reg = await fake();
    const report = await scanImage(registrySource(`registry:${reg.host}/team/app:1`, `${reg.host}/team/app:1`, OPTS), { tempRoot });
    assert.deepEqual(report.packages.map((p) => p.name).sort(), ['base', 'extra', 'tool']);
    assert.equal(report.image.source, 'registry');
    assert.equal(report.image.manifestDigest, image.manifestDigest);
    assert.equal(report.image.imageId, image.config.digest);
    assert.deepEqual(report.image.repoTags, [`${reg.host}/team/app:1`]);
    assert.deepEqual(report.image.repoDigests, [`${reg.host}/team/app@${image.manifestDigest}`]);
    assert.deepEqual(
      report.image.layers.map((l) => [l.digest, l.diffId]),
      image.layers.map((l) => [l.digest, l.diffId]),
    );
  });

  it('falls back to plain HTTP on a loopback registry that does not speak TLS (as Docker does)', async () => {
    const reg = await fake();
    const client = new RegistryClient(reg.host, { dockerConfigDir: null });
    assert.deepEqual(await scanNames(reg, 'team/app:1', { dockerConfigDir: null, client }), ['base', 'extra', 'tool']);
    assert.equal(client.baseUrl, reg.origin);
    client.close();
  });

  it('pulls by digest, HEADs for the digest, and names what is missing', async () => {
    const reg = await fake();
    assert.deepEqual(await scanNames(reg, `team/app@${image.manifestDigest}`), ['base', 'extra', 'tool']);
    const client = new RegistryClient(reg.host, OPTS);
    assert.deepEqual(await client.headManifest('team/app', '1'), { digest: image.manifestDigest, mediaType: image.mediaType, size: image.manifest.length });
    await assert.rejects(client.getManifest('team/app', '2'), (err: unknown) => isTallyError(err) && err.code === 'IMAGE_NOT_FOUND' && /team\/app:2: manifest: not found \(NOT_FOUND: not here\)/.test(err.message));
    await assert.rejects(client.openBlob('team/app', 'sha256:' + '0'.repeat(64)), (err: unknown) => isTallyError(err) && err.code === 'MISSING_BLOB');
    client.close();
  });

  it('HEAD without Docker-Content-Digest falls back to GET and hashing', async () => {
    const reg = await fake((req, res) => {
      if (req.method !== 'HEAD') return false;
      res.writeHead(200, { 'content-type': 'application/json' }).end();
      return true;
    });
    const client = new RegistryClient(reg.host, OPTS);
    assert.equal((await client.headManifest('team/app', '1')).digest, image.manifestDigest);
    client.close();
  });

  it('chooses a platform from an index, and lists every platform', async () => {
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.index.v1+json',
        manifests: [
          { mediaType: image.mediaType, digest: image.manifestDigest, size: image.manifest.length, platform: { os: 'linux', architecture: 'amd64' } },
          { mediaType: armImage.mediaType, digest: armImage.manifestDigest, size: armImage.manifest.length, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
          { mediaType: image.mediaType, digest: image.manifestDigest, size: 1, platform: { os: 'unknown', architecture: 'unknown' }, annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } },
        ],
      }),
    );
    const indexDigest = 'sha256:' + (await import('node:crypto')).createHash('sha256').update(index).digest('hex');
    const reg = await fake(
      (req, res, url) => {
        if (url.pathname !== '/v2/team/multi/manifests/latest' && url.pathname !== `/v2/team/multi/manifests/${indexDigest}`) return false;
        res.writeHead(200, { 'content-type': 'application/vnd.oci.image.index.v1+json', 'content-length': index.length }).end(index);
        return true;
      },
      { 'team/multi': { a: image, b: armImage } },
    );
    const arm = await scanImage(registrySource('x', `${reg.host}/team/multi`, { ...OPTS, platform: parsePlatform('linux/arm64'), platformExplicit: true }), { tempRoot });
    assert.deepEqual(arm.packages.map((p) => p.name), ['armonly']);
    assert.equal(arm.image.manifestDigest, armImage.manifestDigest);
    assert.deepEqual(arm.image.repoDigests, [`${reg.host}/team/multi@${indexDigest}`], 'the digest the tag resolves to');

    const all = await resolvePlatforms(`${reg.host}/team/multi:latest`, OPTS);
    assert.equal(all.digest, indexDigest);
    assert.deepEqual(
      all.images.map((i) => [`${i.platform.os}/${i.platform.architecture}`, i.manifestDigest]),
      [
        ['linux/amd64', image.manifestDigest],
        ['linux/arm64', armImage.manifestDigest],
      ],
    );
    const names = await Promise.all(all.images.map(async (i) => (await scanImage(i.source, { tempRoot })).packages.map((p) => p.name).sort()));
    assert.deepEqual(names, [['base', 'extra', 'tool'], ['armonly']]);
  });
});

describe('authentication', () => {
  /** A registry that wants `Bearer tok-N` and a token endpoint that hands those out (counting). */
  async function bearerSetup(opts: { expiresIn?: number; revokeFirst?: boolean; user?: string; password?: string } = {}) {
    let issued = 0;
    const tokenRequests: { scope: string[]; authorization: string | null }[] = [];
    const valid = new Set<string>();
    const tokens = await http((req, res, url) => {
      tokenRequests.push({ scope: url.searchParams.getAll('scope'), authorization: req.headers.authorization ?? null });
      if (opts.user && req.headers.authorization !== 'Basic ' + Buffer.from(`${opts.user}:${opts.password}`).toString('base64')) {
        res.writeHead(401).end();
        return;
      }
      const token = `tok-${++issued}`;
      valid.add(token);
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token, ...(opts.expiresIn !== undefined ? { expires_in: opts.expiresIn } : {}) }));
    });
    let revoked = !opts.revokeFirst;
    const reg = await fake((req, res, url) => {
      const auth = req.headers.authorization ?? '';
      const ok = auth.startsWith('Bearer ') && valid.has(auth.slice(7));
      if (ok && !revoked && url.pathname !== '/v2/') {
        // the registry forgets the first token (restart, early expiry): the client must fetch a new one once
        revoked = true;
        valid.clear();
      } else if (ok) {
        return false;
      }
      const scope = url.pathname === '/v2/' ? '' : `,scope="repository:team/app:pull"`;
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${tokens.origin}/token",service="fake"${scope}`, 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}');
      return true;
    });
    return { reg, tokenRequests };
  }

  it('gets one Bearer token per scope and reuses it for every request of the image', async () => {
    const { reg, tokenRequests } = await bearerSetup();
    const client = new RegistryClient(reg.host, OPTS);
    assert.deepEqual(await scanNames(reg, 'team/app:1', { ...OPTS, client }), ['base', 'extra', 'tool']);
    assert.deepEqual(await scanNames(reg, 'team/app:1', { ...OPTS, client }), ['base', 'extra', 'tool']);
    assert.deepEqual(tokenRequests.map((t) => t.scope), [['repository:team/app:pull']], 'one token for two scans of 2 layers, fetched concurrently');
    assert.equal(client.stats.tokenFetches, 1);
    const sent = reg.requests.filter((r) => r.path.startsWith('/v2/team/'));
    assert.ok(sent.every((r) => r.authorization === 'Bearer tok-1'), 'proactive: no request went out without the token once the scheme was known');
    client.close();
  });

  it('renews an expired token, and a token the registry stopped accepting', async () => {
    const short = await bearerSetup({ expiresIn: 1 });
    const client = new RegistryClient(short.reg.host, OPTS);
    await client.getManifest('team/app', '1');
    await new Promise((r) => setTimeout(r, 1000)); // 1 s lifetime minus the renewal margin has passed
    await client.getManifest('team/app', '1');
    assert.equal(client.stats.tokenFetches, 2);
    client.close();

    const revoking = await bearerSetup({ revokeFirst: true });
    assert.deepEqual(await scanNames(revoking.reg, 'team/app:1'), ['base', 'extra', 'tool']);
    assert.equal(revoking.tokenRequests.length, 2);
  });

  it('sends credentials to the token endpoint, and says when they are refused', async () => {
    const { reg, tokenRequests } = await bearerSetup({ user: 'alice', password: 's3cret' });
    assert.deepEqual(await scanNames(reg, 'team/app:1', { ...OPTS, username: 'alice', password: 's3cret' }), ['base', 'extra', 'tool']);
    assert.match(tokenRequests[0]!.authorization ?? '', /^Basic /);
    await assert.rejects(scanNames(reg, 'team/app:1', { ...OPTS, username: 'alice', password: 'wrong' }), fails('auth', /token endpoint: 401: the credentials were refused/));
    await assert.rejects(scanNames(reg, 'team/app:1', OPTS), fails('auth', /anonymous access refused; give credentials/));
  });

  it('does Basic auth when the registry asks for it, with credentials from the Docker config', async () => {
    const dir = await mkdtemp(join(tempRoot, 'docker-'));
    const reg = await fake((req, res) => {
      if (req.headers.authorization === 'Basic ' + Buffer.from('bob:pw').toString('base64')) return false;
      res.writeHead(401, { 'www-authenticate': 'Basic realm="fake"' }).end();
      return true;
    });
    const { writeFile } = await import('node:fs/promises');
    await writeFile(join(dir, 'config.json'), JSON.stringify({ auths: { [reg.host]: { auth: Buffer.from('bob:pw').toString('base64') } } }));
    assert.deepEqual(await scanNames(reg, 'team/app:1', { ...OPTS, dockerConfigDir: dir }), ['base', 'extra', 'tool']);
    await assert.rejects(scanNames(reg, 'team/app:1', OPTS), fails('auth', /401: authentication required: give --username\/--password-stdin or log in/));
    await assert.rejects(scanNames(reg, 'team/app:1', { ...OPTS, username: 'bob', password: 'nope' }), fails('auth', /401: the credentials were rejected/));
  });

  it('refuses to send credentials to a plain-HTTP token endpoint of an HTTPS registry', async () => {
    // exercised on the client directly: the challenge is learned from a 401, the realm is http on another host
    const client = new RegistryClient('reg.invalid', { dockerConfigDir: null, username: 'u', password: 'p' });
    const internal = client as unknown as { challenge: unknown; pinged: Promise<void> };
    internal.challenge = { scheme: 'bearer', params: { realm: 'http://auth.invalid/token', service: 's' }, token68: null };
    internal.pinged = Promise.resolve();
    await assert.rejects(client.getManifest('team/app', '1'), fails('auth', /refusing a plain-HTTP token endpoint for an HTTPS registry/));
    client.close();
  });
});

describe('redirects', () => {
  it('follows a blob redirect to another host without our Authorization header', async () => {
    const seen: (string | null)[] = [];
    const store = await http((req, res, url) => {
      seen.push(req.headers.authorization ?? null);
      const blob = [image.config, ...image.layers].find((b) => url.pathname === `/store/${b.digest}`);
      if (!blob) return void res.writeHead(404).end();
      res.writeHead(200, { 'content-length': blob.bytes.length }).end(blob.bytes);
    });
    const reg = await fake((req, res, url) => {
      if (req.headers.authorization !== 'Basic ' + Buffer.from('u:p').toString('base64')) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="x"' }).end();
        return true;
      }
      const m = /\/blobs\/(.+)$/.exec(url.pathname);
      if (!m) return false;
      // a relative hop on the registry itself first (keeps auth), then off to the blob store (must not)
      if (!url.searchParams.has('hop')) res.writeHead(307, { location: `${url.pathname}?hop=1` }).end();
      else res.writeHead(307, { location: `${store.origin}/store/${m[1]}?X-Signature=abc` }).end();
      return true;
    });
    assert.deepEqual(await scanNames(reg, 'team/app:1', { ...OPTS, username: 'u', password: 'p' }), ['base', 'extra', 'tool']);
    assert.equal(seen.length, 3, 'config + 2 layers came from the blob store');
    assert.deepEqual(seen, [null, null, null]);
    assert.ok(reg.requests.filter((r) => r.path.includes('hop=1')).every((r) => r.authorization?.startsWith('Basic ')));
  });

  it('stops an endless redirect chain, and a loop, with a clear error', async () => {
    const reg = await fake((_req, res, url) => {
      if (!url.pathname.includes('/blobs/')) return false;
      const n = Number(url.searchParams.get('n') ?? 0);
      res.writeHead(302, { location: `${url.pathname}?n=${n + 1}` }).end();
      return true;
    });
    const client = new RegistryClient(reg.host, { ...OPTS, maxRedirects: 5 });
    await assert.rejects(client.openBlob('team/app', image.layers[0]!.digest), fails('redirect', /blob sha256:[0-9a-f]{64}: more than 5 redirects \(the last to http:\/\/127\.0\.0\.1:\d+\/v2\/team\/app\/blobs\/sha256:[0-9a-f]+\?n=6\)/));
    const blobRequests = (): number => reg.requests.filter((r) => r.path.includes('/blobs/')).length;
    const before = blobRequests();
    await assert.rejects(scanImage(registrySource('x', `${reg.host}/team/app:1`, OPTS), { tempRoot }), fails('redirect', /more than 10 redirects/));
    assert.equal(blobRequests() - before, 11, 'bounded: the request and 10 redirects, then it stops');
    client.close();
  });

  it('detects a redirect loop', async () => {
    const reg = await fake((_req, res, url) => {
      if (!url.pathname.includes('/blobs/')) return false;
      res.writeHead(302, { location: url.search === '?a' ? `${url.pathname}?b` : `${url.pathname}?a` }).end();
      return true;
    });
    const client = new RegistryClient(reg.host, OPTS);
    await assert.rejects(client.openBlob('team/app', image.layers[0]!.digest), fails('redirect', /redirect loop/));
    client.close();
  });
});

describe('retries', () => {
  it('retries 5xx with backoff and gives up after the allowed retries', async () => {
    let failures = 2;
    const reg = await fake((_req, res, url) => {
      if (!url.pathname.includes('/manifests/') || failures-- <= 0) return false;
      res.writeHead(503).end('busy');
      return true;
    });
    const client = new RegistryClient(reg.host, OPTS);
    assert.equal((await client.getManifest('team/app', '1')).digest, image.manifestDigest);
    assert.equal(reg.requests.filter((r) => r.path.includes('/manifests/')).length, 3);
    failures = 100;
    await assert.rejects(client.getManifest('team/app', '1'), fails('http', /unexpected HTTP 503 \(busy\)/));
    assert.equal(reg.requests.filter((r) => r.path.includes('/manifests/')).length, 3 + 4, 'one try and 3 retries');
    client.close();
  });

  it("honours Retry-After on 429, and fails at once when it asks for too long", async () => {
    let throttle = 1;
    let wait = '1';
    const reg = await fake((_req, res, url) => {
      if (!url.pathname.includes('/manifests/') || throttle-- <= 0) return false;
      res.writeHead(429, { 'retry-after': wait }).end();
      return true;
    });
    const client = new RegistryClient(reg.host, OPTS);
    const t0 = Date.now();
    await client.getManifest('team/app', '1');
    assert.ok(Date.now() - t0 >= 950, `waited ${Date.now() - t0} ms for Retry-After: 1`);
    throttle = 1;
    wait = '3600';
    const t1 = Date.now();
    await assert.rejects(client.getManifest('team/app', '1'), fails('rate-limit', /429; the registry asks to retry after 3600 s, longer than the 60 s we wait/));
    assert.ok(Date.now() - t1 < 1000);
    client.close();
  });

  it('retries a dropped connection', async () => {
    let drops = 1;
    const reg = await fake((req, _res, url) => {
      if (!url.pathname.includes('/manifests/') || drops-- <= 0) return false;
      req.socket.destroy();
      return true;
    });
    const client = new RegistryClient(reg.host, OPTS);
    assert.equal((await client.getManifest('team/app', '1')).digest, image.manifestDigest);
    client.close();
  });
});

describe('resuming blobs', () => {
  /** Serves layer 0 but drops the connection after `cut` bytes on the first try; honours Range unless told not to. */
  async function flaky(opts: { honourRange: boolean; drops: number }) {
    const layer = image.layers[0]!;
    const ranges: (string | null)[] = [];
    let drops = opts.drops;
    const reg = await fake((req, res, url) => {
      if (url.pathname !== `/v2/team/app/blobs/${layer.digest}`) return false;
      ranges.push(req.headers.range ?? null);
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const from = opts.honourRange && m ? Number(m[1]) : 0;
      const rest = layer.bytes.subarray(from);
      res.writeHead(from > 0 ? 206 : 200, { 'content-length': rest.length, ...(from > 0 ? { 'content-range': `bytes ${from}-${layer.bytes.length - 1}/${layer.bytes.length}` } : {}) });
      if (drops-- > 0) {
        res.write(rest.subarray(0, Math.floor(rest.length / 2)), () => res.socket?.destroy());
      } else {
        res.end(rest);
      }
      return true;
    });
    return { reg, ranges };
  }

  it('resumes a dropped blob download with a Range request', async () => {
    const { reg, ranges } = await flaky({ honourRange: true, drops: 2 });
    assert.deepEqual(await scanNames(reg, 'team/app:1'), ['base', 'extra', 'tool']);
    assert.equal(ranges[0], null);
    assert.equal(ranges.length, 3);
    assert.match(ranges[1]!, /^bytes=[1-9]\d*-$/);
    assert.ok(Number(/\d+/.exec(ranges[2]!)![0]) > Number(/\d+/.exec(ranges[1]!)![0]), 'each resume starts further on');
  });

  it('copes with a server that ignores Range (starts over, skips what was passed on)', async () => {
    const { reg, ranges } = await flaky({ honourRange: false, drops: 1 });
    assert.deepEqual(await scanNames(reg, 'team/app:1'), ['base', 'extra', 'tool']);
    assert.equal(ranges.length, 2);
  });

  it('gives up after the allowed resumes', async () => {
    const { reg } = await flaky({ honourRange: true, drops: 100 });
    const client = new RegistryClient(reg.host, OPTS);
    const stream = await client.openBlob('team/app', image.layers[0]!.digest, { size: image.layers[0]!.bytes.length });
    await assert.rejects(
      (async () => {
        for await (const _ of stream) void _;
      })(),
      (err: unknown) => isRegistryError(err) && err.kind === 'network',
    );
    client.close();
  });
});

describe('hostile registries', () => {
  it('a layer blob that does not match its digest fails the scan with DIGEST_MISMATCH naming the layer', async () => {
    const other = await buildFakeImage({ layers: [{ entries: [{ name: 'evil', content: 'x'.repeat(5000) }] }] });
    const reg = await fake((_req, res, url) => {
      if (url.pathname !== `/v2/team/app/blobs/${image.layers[1]!.digest}`) return false;
      const bytes = other.layers[0]!.bytes;
      // same length as the real blob so only the digest can tell
      const body = Buffer.alloc(image.layers[1]!.bytes.length);
      bytes.copy(body, 0, 0, Math.min(bytes.length, body.length));
      res.writeHead(200, { 'content-length': body.length }).end(body);
      return true;
    });
    await assert.rejects(
      scanImage(registrySource('x', `${reg.host}/team/app:1`, OPTS), { tempRoot, layerConcurrency: 1 }),
      (err: unknown) => isTallyError(err) && err.code === 'DIGEST_MISMATCH' && err.message.includes(`layer 1 (${image.layers[1]!.digest})`),
    );
  });

  it('a blob longer than the manifest declares is cut off', async () => {
    const reg = await fake((_req, res, url) => {
      if (url.pathname !== `/v2/team/app/blobs/${image.layers[0]!.digest}`) return false;
      res.writeHead(200); // chunked: no length to check up front
      const chunk = Buffer.alloc(64 * 1024, 7);
      const pump = (): void => {
        while (res.write(chunk));
        res.once('drain', pump);
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
      return true;
    });
    await assert.rejects(scanImage(registrySource('x', `${reg.host}/team/app:1`, OPTS), { tempRoot }), (err: unknown) => isTallyError(err) && err.code === 'DIGEST_MISMATCH');
  });

  it('a 100 MB manifest is refused, whether declared or streamed', async () => {
    let streamed = 0;
    const reg = await fake((_req, res, url) => {
      if (url.pathname === '/v2/team/app/manifests/declared') {
        res.writeHead(200, { 'content-type': image.mediaType, 'content-length': 100 * 1024 * 1024 });
        res.write('{"schemaVersion":2,'); // and then nothing: the client must not wait for the rest
        return true;
      }
      if (url.pathname === '/v2/team/app/manifests/streamed') {
        res.writeHead(200, { 'content-type': image.mediaType });
        const chunk = Buffer.alloc(256 * 1024, 0x20);
        const pump = (): void => {
          while (streamed < 100 * 1024 * 1024) {
            streamed += chunk.length;
            if (!res.write(chunk)) return void res.once('drain', pump);
          }
          res.end();
        };
        pump();
        return true;
      }
      return false;
    });
    const client = new RegistryClient(reg.host, OPTS);
    const t0 = Date.now();
    await assert.rejects(client.getManifest('team/app', 'declared'), fails('too-large', /104857600 bytes, over the 4194304-byte limit; refused/));
    await assert.rejects(client.getManifest('team/app', 'streamed'), fails('too-large', /over the 4194304-byte limit; refused after reading/));
    assert.ok(Date.now() - t0 < 3000);
    assert.ok(streamed < 40 * 1024 * 1024, `the server got to write only ${streamed} bytes before the client hung up`);
    await assert.rejects(scanImage(registrySource('x', `${reg.host}/team/app:declared`, OPTS), { tempRoot }), (err: unknown) => isTallyError(err) && err.code === 'INVALID_IMAGE');
    client.close();
  });

  it('a token endpoint that hangs is a timeout error within the timeout', async () => {
    const hanging = await http(() => undefined); // accepts, never answers
    const reg = await fake((req, res) => {
      if (req.headers.authorization) return false;
      res.writeHead(401, { 'www-authenticate': `Bearer realm="${hanging.origin}/token",service="fake"` }).end();
      return true;
    });
    const t0 = Date.now();
    await assert.rejects(
      scanImage(registrySource('x', `${reg.host}/team/app:1`, { ...OPTS, timeoutMs: 800 }), { tempRoot }),
      fails('timeout', /team\/app:1: manifest: token endpoint: timed out: http:\/\/127\.0\.0\.1:\d+ sent nothing for 800 ms after the request/),
    );
    const took = Date.now() - t0;
    assert.ok(took >= 750 && took < 3000, `failed after ${took} ms`);
  });

  it('a blob that stalls mid-stream times out', async () => {
    const reg = await fake((_req, res, url) => {
      if (url.pathname !== `/v2/team/app/blobs/${image.layers[0]!.digest}`) return false;
      const bytes = image.layers[0]!.bytes;
      res.writeHead(200, { 'content-length': bytes.length });
      res.write(bytes.subarray(0, 10)); // then silence
      return true;
    });
    const t0 = Date.now();
    await assert.rejects(scanImage(registrySource('x', `${reg.host}/team/app:1`, { ...OPTS, timeoutMs: 500 }), { tempRoot }), (err: unknown) => isTallyError(err) && /timed out|sent nothing/.test(err.message));
    assert.ok(Date.now() - t0 < 4000);
  });

  it('a manifest that is not what its digest or Docker-Content-Digest says is refused', async () => {
    const reg = await fake((_req, res, url) => {
      if (url.pathname === `/v2/team/app/manifests/${armImage.manifestDigest}` || url.pathname === '/v2/team/app/manifests/lying') {
        res.writeHead(200, { 'content-type': image.mediaType, 'docker-content-digest': armImage.manifestDigest }).end(image.manifest);
        return true;
      }
      return false;
    });
    const client = new RegistryClient(reg.host, OPTS);
    await assert.rejects(client.getManifest('team/app', armImage.manifestDigest), (err: unknown) => isTallyError(err) && err.code === 'DIGEST_MISMATCH' && /hashes to/.test(err.message));
    await assert.rejects(client.getManifest('team/app', 'lying'), (err: unknown) => isTallyError(err) && err.code === 'DIGEST_MISMATCH' && /Docker-Content-Digest says/.test(err.message));
    client.close();
  });

  it('schema 1 manifests are an unsupported media type, not a crash', async () => {
    const reg = await fake((_req, res, url) => {
      if (!url.pathname.endsWith('/manifests/old')) return false;
      res.writeHead(200, { 'content-type': 'application/vnd.docker.distribution.manifest.v1+prettyjws' }).end('{"schemaVersion":1}');
      return true;
    });
    await assert.rejects(scanImage(registrySource('x', `${reg.host}/team/app:old`, OPTS), { tempRoot }), (err: unknown) => isTallyError(err) && err.code === 'UNSUPPORTED_MEDIA_TYPE');
  });

  it('names taken from the registry (catalog, tags) cannot steer request paths', async () => {
    const reg = await fake();
    const client = new RegistryClient(reg.host, OPTS);
    const bad = (err: unknown): boolean => isTallyError(err) && err.code === 'USAGE';
    await assert.rejects(client.getManifest('team/app', '../../_catalog'), bad);
    await assert.rejects(client.getManifest('team/../x', '1'), bad);
    await assert.rejects(client.openBlob('team/app', 'sha256:abc?x=1'), bad);
    assert.throws(() => client.tags('Team/App?'), bad);
    assert.ok(reg.requests.every((r) => !r.path.includes('..') && !r.path.includes('?x')));
    client.close();
  });

  it('a server that is not a registry is named as such', async () => {
    const web = await http((_req, res) => void res.writeHead(404).end('<html>'));
    const client = new RegistryClient(`127.0.0.1:${web.port}`, OPTS);
    await assert.rejects(client.getManifest('team/app', '1'), (err: unknown) => isTallyError(err) && err.code === 'TARGET_NOT_FOUND' && /no OCI distribution API/.test(err.message));
    client.close();
  });
});

describe('listing', () => {
  it('pages through _catalog and tags/list by Link headers', async () => {
    const repos = ['a/one', 'b/two', 'c/three', 'd/four', 'e/five'];
    const tags = ['1', '2', '3'];
    const page = (res: ServerResponse, url: URL, all: string[], key: string, path: string): void => {
      const n = Number(url.searchParams.get('n'));
      const last = url.searchParams.get('last');
      const start = last === null ? 0 : all.indexOf(last) + 1;
      const items = all.slice(start, start + n);
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (start + n < all.length) headers['link'] = `<${path}?n=${n}&last=${encodeURIComponent(items[items.length - 1]!)}>; rel="next"`;
      res.writeHead(200, headers).end(JSON.stringify({ [key]: items }));
    };
    const reg = await fake((_req, res, url) => {
      if (url.pathname === '/v2/_catalog') page(res, url, repos, 'repositories', '/v2/_catalog');
      else if (url.pathname === '/v2/a/one/tags/list') page(res, url, tags, 'tags', '/v2/a/one/tags/list');
      else if (url.pathname === '/v2/b/two/tags/list') res.writeHead(200, { 'content-type': 'application/json' }).end('{"name":"b/two","tags":null}');
      else if (url.pathname === '/v2/c/three/tags/list') res.writeHead(200, { link: '</v2/c/three/tags/list?n=2>; rel="next"' }).end('{"tags":["x"]}');
      else return false;
      return true;
    });
    const client = new RegistryClient(reg.host, OPTS);
    const got: string[] = [];
    for await (const r of client.catalog({ pageSize: 2 })) got.push(r);
    assert.deepEqual(got, repos);
    const t: string[] = [];
    for await (const x of client.tags('a/one', { pageSize: 2 })) t.push(x);
    assert.deepEqual(t, tags);
    const none: string[] = [];
    for await (const x of client.tags('b/two')) none.push(x);
    assert.deepEqual(none, []);
    await assert.rejects(
      (async () => {
        for await (const _ of client.tags('c/three', { pageSize: 2 })) void _;
      })(),
      fails('protocol', /Link header loops back/),
    );
    client.close();
  });
});

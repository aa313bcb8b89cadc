/**
 * Test support for the registry client: a REAL Debian `docker-registry` (distribution 2.8) on 127.0.0.1, in three
 * auth modes (anonymous over HTTP, htpasswd Basic over TLS with a self-signed CA, Bearer tokens from the small token
 * server below), plus an in-process fake registry for behaviour no honest registry shows (bad digests, endless
 * redirects, huge manifests, hanging token endpoints).
 *
 * Everything binds 127.0.0.1 on a free port, is stopped by its own PID, and removes its temp dirs.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHash, createPrivateKey, randomUUID, sign, type KeyObject } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, createServer as createNetServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { buildLayer, configFor, sha256, type ImageSpec } from './image-builder.js';

const run = promisify(execFile);

// ------------------------------------------------------------------ small helpers

/** A port nobody listens on right now (the registry binds it a moment later; a clash is retried by startRegistry). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createNetServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, child: ChildProcess, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return false;
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

/** Stop a child we started, by its PID: SIGTERM, then SIGKILL if it does not go within 5 s. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    process.kill(child.pid, 'SIGTERM');
  } catch {
    return; // it exited in the meantime
  }
  const timer = setTimeout(() => {
    if (child.pid !== undefined && child.exitCode === null) process.kill(child.pid, 'SIGKILL');
  }, 5000);
  await exited;
  clearTimeout(timer);
}

// Safety net: a test process that dies without its after() hooks must not leave registries behind.
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) {
    if (child.pid !== undefined && child.exitCode === null) {
      try {
        process.kill(child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  }
});

// ------------------------------------------------------------------ TLS material

export interface CertPair {
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
  readonly keyPem: string;
  /** Base64 DER of the certificate (a JWT `x5c` entry). */
  readonly certDerBase64: string;
}

/** A self-signed certificate for 127.0.0.1 (it is its own CA: trust certPem to trust the server). */
export async function makeSelfSignedCert(dir: string, name: string): Promise<CertPair> {
  await mkdir(dir, { recursive: true });
  const certFile = join(dir, `${name}.crt`);
  const keyFile = join(dir, `${name}.key`);
  await run('openssl', [
    'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '2',
    '-keyout', keyFile, '-out', certFile, '-subj', `/CN=tally-test-${name}`,
    '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
    '-addext', 'basicConstraints=critical,CA:TRUE',
  ]);
  const certPem = await readFile(certFile, 'utf8');
  const keyPem = await readFile(keyFile, 'utf8');
  const certDerBase64 = certPem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '');
  return { certFile, keyFile, certPem, keyPem, certDerBase64 };
}

// ------------------------------------------------------------------ token server

export interface TokenServer {
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** The signing certificate: the registry's `rootcertbundle`. */
  readonly signer: CertPair;
  /** Every request it received (scopes asked for, whether credentials came). */
  readonly requests: { scopes: string[]; user: string | null }[];
  close(): Promise<void>;
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** An RS256 JWT as distribution's token auth checks it: x5c chain to the root bundle, iss, aud, exp/nbf, access. */
function signToken(key: KeyObject, signer: CertPair, claims: object): string {
  const header = base64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: [signer.certDerBase64] }));
  const payload = base64url(JSON.stringify(claims));
  const signature = sign('sha256', Buffer.from(`${header}.${payload}`), key);
  return `${header}.${payload}.${base64url(signature)}`;
}

/** `repository:team/app:pull,push` → { type, name, actions } (names never contain ':'). */
function parseScope(scope: string): { type: string; name: string; actions: string[] } | null {
  const first = scope.indexOf(':');
  const last = scope.lastIndexOf(':');
  if (first <= 0 || last === first) return null;
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: scope.slice(last + 1).split(',').filter((a) => a !== '') };
}

/**
 * The token server of the distribution token spec, in-process: `GET /token?service=…&scope=…` with Basic
 * credentials answers `{token, access_token, expires_in, issued_at}`; wrong or missing credentials get 401.
 * Everything asked for is granted to a valid user (this is a test).
 */
export async function startTokenServer(opts: { dir: string; username: string; password: string; expiresIn?: number; service?: string; issuer?: string }): Promise<TokenServer> {
  const signer = await makeSelfSignedCert(opts.dir, 'token-signer');
  const key = createPrivateKey(signer.keyPem);
  const service = opts.service ?? 'tally-test-registry';
  const issuer = opts.issuer ?? 'tally-test-issuer';
  const requests: { scopes: string[]; user: string | null }[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const auth = req.headers.authorization ?? '';
    const decoded = auth.startsWith('Basic ') ? Buffer.from(auth.slice(6), 'base64').toString('utf8') : null;
    const user = decoded && decoded === `${opts.username}:${opts.password}` ? opts.username : null;
    const scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' ')).filter((s) => s !== '');
    requests.push({ scopes, user });
    if (url.pathname !== '/token' || url.searchParams.get('service') !== service) {
      res.writeHead(400).end();
      return;
    }
    if (!user) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="tally-test-token"' }).end();
      return;
    }
    const now = Math.floor(Date.now() / 1000);
    const expiresIn = opts.expiresIn ?? 300;
    const access = scopes.map(parseScope).filter((s): s is NonNullable<typeof s> => s !== null);
    const token = signToken(key, signer, { iss: issuer, sub: user, aud: service, exp: now + expiresIn, nbf: now - 10, iat: now, jti: randomUUID(), access });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: expiresIn, issued_at: new Date(now * 1000).toISOString() }));
  });
  const port = await listen(server);
  return { realm: `http://127.0.0.1:${port}/token`, service, issuer, signer, requests, close: () => closeServer(server) };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

async function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

// ------------------------------------------------------------------ the real registry

export type RegistryMode = 'anonymous' | 'basic-tls' | 'bearer';

export interface RegistryServerOptions {
  readonly mode: RegistryMode;
  /** Storage root; default a fresh temp dir (removed on stop). A given dir is kept. */
  readonly dataDir?: string;
  /** Serve without accepting pushes: several registries can then share one cached storage root safely. */
  readonly readOnly?: boolean;
  readonly username?: string;
  readonly password?: string;
  /** Required for 'bearer'. */
  readonly tokenServer?: TokenServer;
}

export interface RegistryServer {
  readonly mode: RegistryMode;
  readonly pid: number;
  readonly port: number;
  /** `127.0.0.1:PORT`: the registry part of an image reference. */
  readonly host: string;
  readonly dataDir: string;
  readonly username: string | null;
  readonly password: string | null;
  /** The CA to trust for 'basic-tls' (PEM text and file), else null. */
  readonly caPem: string | null;
  readonly caFile: string | null;
  /** skopeo's --dest-* flags to push here. */
  skopeoDestArgs(): string[];
  push(source: string, repoTag: string, opts?: { all?: boolean }): Promise<void>;
  stop(): Promise<void>;
}

function registryConfig(o: { port: number; dataDir: string; readOnly: boolean; tls: CertPair | null; htpasswd: string | null; token: TokenServer | null }): string {
  // JSON is valid YAML: no YAML writer needed
  const config = {
    version: 0.1,
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: {
      filesystem: { rootdirectory: o.dataDir },
      delete: { enabled: !o.readOnly },
      maintenance: { uploadpurging: { enabled: false }, readonly: { enabled: o.readOnly } },
    },
    http: { addr: `127.0.0.1:${o.port}`, secret: 'tally-test-only', ...(o.tls ? { tls: { certificate: o.tls.certFile, key: o.tls.keyFile } } : {}) },
    ...(o.htpasswd ? { auth: { htpasswd: { realm: 'tally-test', path: o.htpasswd } } } : {}),
    ...(o.token ? { auth: { token: { realm: o.token.realm, service: o.token.service, issuer: o.token.issuer, rootcertbundle: o.token.signer.certFile } } } : {}),
  };
  return JSON.stringify(config, null, 2);
}

/** Start Debian's `docker-registry serve` in the given mode; resolves once it accepts connections. */
export async function startRegistry(opts: RegistryServerOptions): Promise<RegistryServer> {
  const work = await mkdtemp(join(tmpdir(), 'tally-registry-'));
  try {
    const dataDir = opts.dataDir ?? join(work, 'data');
    const username = opts.mode === 'anonymous' ? null : (opts.username ?? 'tally');
    const password = opts.mode === 'anonymous' ? null : (opts.password ?? 'tally-secret');
    let tls: CertPair | null = null;
    let htpasswd: string | null = null;
    if (opts.mode === 'basic-tls') {
      tls = await makeSelfSignedCert(work, 'registry');
      htpasswd = join(work, 'htpasswd');
      const { stdout } = await run('htpasswd', ['-Bbn', username!, password!]);
      await writeFile(htpasswd, stdout);
      // skopeo wants a directory holding only the CA as ca.crt
      await mkdir(join(work, 'certs'));
      await writeFile(join(work, 'certs', 'ca.crt'), tls.certPem);
    }
    if (opts.mode === 'bearer' && !opts.tokenServer) throw new Error('bearer mode needs a tokenServer');
    const token = opts.mode === 'bearer' ? opts.tokenServer! : null;

    for (let tries = 0; ; tries++) {
      const port = await freePort();
      const configFile = join(work, 'config.yml');
      await writeFile(configFile, registryConfig({ port, dataDir, readOnly: opts.readOnly ?? false, tls, htpasswd, token }));
      const logFile = join(work, `registry-${tries}.log`);
      const fd = openSync(logFile, 'w');
      const child = spawn('docker-registry', ['serve', configFile], { stdio: ['ignore', fd, fd] });
      closeSync(fd);
      const spawnError = new Promise<Error>((resolve) => child.once('error', resolve));
      if (child.pid === undefined) {
        // no PID: the program could not be started at all (its 'error' event says why)
        const err = await spawnError;
        throw new Error(`cannot run docker-registry (${err.message}): apt-get install -y --no-install-recommends docker-registry apache2-utils skopeo`);
      }
      running.add(child);
      child.once('exit', () => running.delete(child));
      if (await waitForPort(port, child, 10_000)) {
        const host = `127.0.0.1:${port}`;
        const server: RegistryServer = {
          mode: opts.mode,
          pid: child.pid!,
          port,
          host,
          dataDir,
          username,
          password,
          caPem: tls?.certPem ?? null,
          caFile: tls?.certFile ?? null,
          skopeoDestArgs: () => [
            ...(tls ? ['--dest-cert-dir', join(work, 'certs')] : ['--dest-tls-verify=false']),
            ...(username ? ['--dest-creds', `${username}:${password}`] : []),
          ],
          push: async (source, repoTag, pushOpts) => {
            await run('skopeo', ['--insecure-policy', 'copy', '-q', ...(pushOpts?.all ? ['--all'] : []), ...server.skopeoDestArgs(), source, `docker://${host}/${repoTag}`], { maxBuffer: 1 << 24 });
          },
          stop: async () => {
            await stopChild(child);
            await rm(work, { recursive: true, force: true });
          },
        };
        return server;
      }
      await stopChild(child);
      const log = await readFile(logFile, 'utf8').catch(() => '');
      // another process took the port between freePort() and the bind: try another one
      if (tries < 3 && /address already in use/.test(log)) continue;
      throw new Error(`docker-registry did not start (log: ${log.slice(-2000)})`);
    }
  } catch (err) {
    await rm(work, { recursive: true, force: true });
    throw err;
  }
}

/**
 * A registry storage root with `pushes` in it, built once and kept under `cacheDir` (keyed by `key`): later runs
 * start read-only registries on it instead of pushing again.
 */
export async function cachedRegistryStorage(cacheDir: string, key: string, pushes: readonly { source: string; repoTag: string; all?: boolean }[]): Promise<string> {
  const id = createHash('sha256').update(key).update(JSON.stringify(pushes)).digest('hex').slice(0, 16);
  const dir = join(cacheDir, `registry-storage-${id}`);
  if (await stat(join(dir, '.complete')).then(() => true, () => false)) return join(dir, 'data');
  await mkdir(cacheDir, { recursive: true });
  const tmp = await mkdtemp(join(cacheDir, `.registry-storage-${id}.tmp.`));
  try {
    const reg = await startRegistry({ mode: 'anonymous', dataDir: join(tmp, 'data') });
    try {
      for (const p of pushes) await reg.push(p.source, p.repoTag, p.all ? { all: true } : {});
    } finally {
      await reg.stop();
    }
    await writeFile(join(tmp, '.complete'), JSON.stringify({ key, pushes }, null, 2));
    try {
      await rename(tmp, dir);
    } catch {
      // another run finished the same cache first: use theirs
      await rm(tmp, { recursive: true, force: true });
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
  return join(dir, 'data');
}

// ------------------------------------------------------------------ the fake registry

export interface FakeBlob {
  readonly digest: string;
  readonly bytes: Buffer;
}

export interface FakeImage {
  readonly manifest: Buffer;
  readonly manifestDigest: string;
  readonly mediaType: string;
  readonly config: FakeBlob;
  readonly layers: readonly (FakeBlob & { readonly diffId: string })[];
}

/** A small real image held in memory (OCI manifest, gzip layers), for the fake registry. */
export async function buildFakeImage(spec: ImageSpec): Promise<FakeImage> {
  const layers = await Promise.all(spec.layers.map(buildLayer));
  const config = configFor(spec, layers);
  const configDigest = sha256(config);
  const mediaType = 'application/vnd.oci.image.manifest.v1+json';
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType,
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
      layers: layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.blob.length })),
    }),
  );
  return {
    manifest,
    manifestDigest: sha256(manifest),
    mediaType,
    config: { digest: configDigest, bytes: config },
    layers: layers.map((l) => ({ digest: l.digest, bytes: l.blob, diffId: l.diffId })),
  };
}

export interface FakeRequest {
  readonly method: string;
  readonly path: string;
  readonly authorization: string | null;
}

/** Answer a request yourself (return true), or leave it to the fake's default routes (return false). */
export type FakeRoute = (req: IncomingMessage, res: ServerResponse, url: URL) => boolean | Promise<boolean>;

export interface FakeRegistry {
  readonly origin: string;
  readonly host: string;
  readonly requests: FakeRequest[];
  close(): Promise<void>;
}

/**
 * An in-process registry that serves `images` (repository → tag → image) by the spec's routes, anonymously,
 * after `route` had its say. Tests put the misbehaviour in `route`.
 */
export async function startFakeRegistry(images: Readonly<Record<string, Readonly<Record<string, FakeImage>>>>, route?: FakeRoute): Promise<FakeRegistry> {
  const requests: FakeRequest[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    requests.push({ method: req.method ?? '', path: url.pathname + url.search, authorization: req.headers.authorization ?? null });
    void (async () => {
      if (route && (await route(req, res, url))) return;
      if (url.pathname === '/v2/') {
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(url.pathname);
      const repo = m ? images[m[1]!] : undefined;
      if (m && repo) {
        const ref = m[3]!;
        if (m[2] === 'manifests') {
          const image = repo[ref] ?? Object.values(repo).find((i) => i.manifestDigest === ref);
          if (image) {
            res.writeHead(200, { 'content-type': image.mediaType, 'content-length': image.manifest.length, 'docker-content-digest': image.manifestDigest });
            res.end(req.method === 'HEAD' ? undefined : image.manifest);
            return;
          }
        } else {
          const blob = Object.values(repo)
            .flatMap((i) => [i.config, ...i.layers])
            .find((b) => b.digest === ref);
          if (blob) {
            res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': blob.bytes.length });
            res.end(req.method === 'HEAD' ? undefined : blob.bytes);
            return;
          }
        }
      }
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ errors: [{ code: 'NOT_FOUND', message: 'not here' }] }));
    })().catch(() => res.destroy());
  });
  const port = await listen(server);
  return { origin: `http://127.0.0.1:${port}`, host: `127.0.0.1:${port}`, requests, close: () => closeServer(server) };
}

/** A bare in-process HTTP server (a second host: a blob store, a token endpoint). */
export async function startHttpServer(handler: (req: IncomingMessage, res: ServerResponse, url: URL) => void): Promise<{ origin: string; port: number; close(): Promise<void> }> {
  const server = createServer((req, res) => handler(req, res, new URL(req.url ?? '/', 'http://127.0.0.1')));
  const port = await listen(server);
  return { origin: `http://127.0.0.1:${port}`, port, close: () => closeServer(server) };
}

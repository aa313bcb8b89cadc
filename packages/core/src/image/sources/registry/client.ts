/**
 * A client for the OCI distribution API (https://github.com/opencontainers/distribution-spec), written against the
 * spec: `/v2/` probe, Basic and Bearer auth from `WWW-Authenticate`, manifests, blobs, `_catalog` and `tags/list`.
 *
 * One client per registry: it owns a keep-alive connection pool and a token cache, so share it across the images
 * of a registry (a sensor pass) to avoid a token round trip per image.
 */
import { createHash } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { TallyErrorCode } from '../../../model/errors.js';
import { arr, isObject, num, str } from '../../../util/json.js';
import { isDigest } from '../../config.js';
import { MAX_JSON_BLOB } from '../blob-store.js';
import { MEDIA } from '../oci-manifest.js';
import { parseChallenges, type Challenge } from './challenge.js';
import { credentialsFromDockerConfig, defaultDockerConfigDir, type Credentials } from './credentials.js';
import { RegistryError } from './errors.js';
import { describeNetworkError, discard, HttpTransport, isPlainHttpAnswer, readBody, type HttpResponse } from './http.js';
import { isLoopbackRegistry, isValidRepository, isValidTag, registryEndpoint } from './reference.js';
import { TOOL_VERSION } from '../../../tool.js';

export interface RegistryOptions {
  /** Explicit credentials; otherwise the Docker config is consulted when the registry asks for them. */
  readonly username?: string;
  readonly password?: string;
  /** Talk plain HTTP. (Loopback registries fall back to HTTP on their own when they do not speak TLS, as Docker does.) */
  readonly insecure?: boolean;
  /** Extra CA certificates (PEM text) to trust for HTTPS, besides Node's bundled roots. */
  readonly caCerts?: readonly string[];
  /** Directory of Docker's config.json (default `$DOCKER_CONFIG` or `~/.docker`); null: do not read it. */
  readonly dockerConfigDir?: string | null;
  /** Per-request timeout: connect-to-headers, and any pause in a body (default 30 s). */
  readonly timeoutMs?: number;
  /** Retries after a 429, a 5xx or a dropped connection (default 3), with exponential backoff from `retryBaseMs`. */
  readonly retries?: number;
  readonly retryBaseMs?: number;
  /** A Retry-After longer than this fails at once instead of stalling the scan (default 60 s). */
  readonly maxRetryAfterMs?: number;
  /** Redirects followed per request (default 10). */
  readonly maxRedirects?: number;
  /** Largest manifest or index accepted (default 4 MiB, what the reference registry itself accepts on push). */
  readonly maxManifestBytes?: number;
}

export interface ManifestDocument {
  readonly digest: string;
  readonly mediaType: string;
  readonly bytes: Buffer;
}

export interface ManifestHead {
  readonly digest: string;
  readonly mediaType: string;
  readonly size: number | null;
}

/** Counters, for callers that show work saved (a second sensor pass pulls no blobs) and for tests. */
export interface RegistryStats {
  requests: number;
  tokenFetches: number;
  manifestFetches: number;
  blobFetches: number;
}

export const MANIFEST_MEDIA_TYPES: readonly string[] = [MEDIA.ociIndex, MEDIA.ociManifest, MEDIA.dockerList, MEDIA.dockerManifest];
const MANIFEST_ACCEPT = MANIFEST_MEDIA_TYPES.join(', ');
const RETRY_STATUS = new Set([408, 429, 500, 502, 503, 504]);
const REDIRECT_STATUS = new Set([301, 302, 303, 307, 308]);
const MAX_TOKEN_BYTES = 1024 * 1024;
const MAX_ERROR_BODY = 64 * 1024;

interface Call {
  readonly method: 'GET' | 'HEAD';
  /** Path and query below the registry base, e.g. `/v2/team/app/manifests/1`. */
  readonly path: string;
  readonly accept?: string;
  /** `bytes=N-` to resume a blob. */
  readonly range?: string;
  /** Token scope the request needs (`repository:team/app:pull`); null for `/v2/`. */
  readonly scope: string | null;
  readonly what: string;
  readonly notFound: TallyErrorCode;
  readonly signal: AbortSignal | undefined;
}

interface Exchange {
  readonly method: 'GET' | 'HEAD' | 'POST';
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  readonly what: string;
  readonly signal: AbortSignal | undefined;
  readonly followRedirects: boolean;
  /** The Authorization header for a URL, decided per hop: a redirect to another host must not carry ours. */
  readonly authFor: (url: URL) => string | null;
}

interface CachedToken {
  readonly header: string;
  readonly expiresAt: number;
}

export function pullScope(repository: string): string {
  return `repository:${repository}:pull`;
}

function sha256(bytes: Buffer): string {
  return 'sha256:' + createHash('sha256').update(bytes).digest('hex');
}

function sameOrigin(a: URL, b: URL): boolean {
  return a.protocol === b.protocol && a.host === b.host;
}

/** Retry-After: delta-seconds or an HTTP date (RFC 9110 §10.2.3); null when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | null {
  if (value === null) return null;
  const v = value.trim();
  if (/^\d+$/.test(v)) return Number(v) * 1000;
  const when = Date.parse(v);
  return Number.isNaN(when) ? null : Math.max(0, when - now);
}

/** `Link: </v2/_catalog?last=x&n=100>; rel="next"` → the next URL, resolved against the response URL. */
export function nextLink(header: string | null, base: URL): URL | null {
  if (!header) return null;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!m) continue;
    const rel = /;\s*rel\s*=\s*"?([^";]*)"?/i.exec(m[2] ?? '');
    if (rel && rel[1]!.split(/\s+/).includes('next')) {
      try {
        return new URL(m[1]!, base);
      } catch {
        return null;
      }
    }
  }
  return null;
}

/**
 * `/v2/<repository>/<kind>/<reference>`, checked: repositories and tags also come from the registry itself
 * (`_catalog`, `tags/list`), and a hostile one must not steer our requests with `../` or `?`.
 */
function apiPath(repository: string, kind: 'manifests' | 'blobs' | 'tags', reference: string | null): string {
  if (!isValidRepository(repository)) throw new RegistryError('USAGE', 'protocol', `${JSON.stringify(repository.slice(0, 200))} is not a valid repository name`);
  if (reference !== null && !isDigest(reference) && !(kind === 'manifests' && isValidTag(reference))) {
    throw new RegistryError('USAGE', 'protocol', `${JSON.stringify(reference.slice(0, 200))} is not a valid ${kind === 'manifests' ? 'tag or digest' : 'digest'}`);
  }
  return kind === 'tags' ? `/v2/${repository}/tags/list` : `/v2/${repository}/${kind}/${reference}`;
}

/** Prefer Bearer over Basic when a registry offers both: tokens are scoped and short-lived. */
function chooseChallenge(header: string | null): Challenge | null {
  if (!header) return null;
  const all = parseChallenges(header);
  return all.find((c) => c.scheme === 'bearer') ?? all.find((c) => c.scheme === 'basic') ?? null;
}

function errorsFromBody(body: Buffer): string {
  try {
    const json: unknown = JSON.parse(body.toString('utf8'));
    if (isObject(json)) {
      const list = (arr(json, 'errors') ?? []).filter(isObject);
      const text = list.map((e) => [str(e, 'code'), str(e, 'message')].filter((x) => x).join(': ')).filter((x) => x !== '');
      if (text.length > 0) return text.join('; ').slice(0, 300);
    }
  } catch {
    // not the spec's error document: fall through to the raw text
  }
  return body.toString('utf8').replace(/\s+/g, ' ').trim().slice(0, 200);
}

/** A pass-through that refuses to go past the size the manifest declared: an endless blob stops there. */
class SizeLimit extends Transform {
  private seen = 0;
  constructor(
    private readonly limit: number,
    private readonly what: string,
  ) {
    super({ highWaterMark: 256 * 1024 });
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.seen += chunk.length;
    if (this.seen > this.limit) {
      done(new RegistryError('DIGEST_MISMATCH', 'protocol', `${this.what}: the registry sent more than the ${this.limit} bytes the manifest declares`));
      return;
    }
    done(null, chunk);
  }
  override _flush(done: TransformCallback): void {
    done(this.seen < this.limit ? new RegistryError('DIGEST_MISMATCH', 'protocol', `${this.what}: the registry sent ${this.seen} of the ${this.limit} bytes the manifest declares`) : null);
  }
}

export class RegistryClient {
  /** Canonical registry name (`docker.io`, `reg.example:5000`). */
  readonly registry: string;
  readonly stats: RegistryStats = { requests: 0, tokenFetches: 0, manifestFetches: 0, blobFetches: 0 };
  private base: URL;
  private readonly transport: HttpTransport;
  private readonly timeoutMs: number;
  private readonly retries: number;
  private readonly retryBaseMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly maxRedirects: number;
  readonly maxManifestBytes: number;
  /** The registry's auth scheme, learned from `/v2/` or from a 401; null = anonymous so far. */
  private challenge: Challenge | null = null;
  private pinged: Promise<void> | null = null;
  private readonly tokens = new Map<string, CachedToken>();
  /** Concurrent layer pulls needing the same token wait for one fetch instead of each fetching their own. */
  private readonly pendingTokens = new Map<string, Promise<CachedToken>>();
  private credentials: Promise<Credentials | null> | null = null;

  constructor(
    registry: string,
    private readonly options: RegistryOptions = {},
  ) {
    this.registry = registry;
    this.base = new URL(`${options.insecure ? 'http' : 'https'}://${registryEndpoint(registry)}`);
    this.transport = new HttpTransport({ caCerts: options.caCerts ?? [], userAgent: `tally/${TOOL_VERSION}` });
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.retries = options.retries ?? 3;
    this.retryBaseMs = options.retryBaseMs ?? 500;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
    this.maxRedirects = options.maxRedirects ?? 10;
    this.maxManifestBytes = options.maxManifestBytes ?? 4 * 1024 * 1024;
  }

  /** The base URL in use (`https://host`, or `http://host` with --insecure or after the loopback fallback). */
  get baseUrl(): string {
    return this.base.origin;
  }

  close(): void {
    this.transport.close();
  }

  // ------------------------------------------------------------------ public API

  /**
   * `GET /v2/`: checks that a distribution API answers and learns its auth scheme (a 401 is expected, not an error).
   * Done once per client, before the first real request; a failure is not remembered, so the next image retries.
   */
  ping(signal?: AbortSignal): Promise<void> {
    this.pinged ??= this.doPing(signal).catch((err: unknown) => {
      this.pinged = null;
      throw err;
    });
    return this.pinged;
  }

  async getManifest(repository: string, reference: string, signal?: AbortSignal): Promise<ManifestDocument> {
    const what = `${this.registry}/${repository}${isDigest(reference) ? '@' : ':'}${reference}: manifest`;
    const res = await this.send({ method: 'GET', path: apiPath(repository, 'manifests', reference), accept: MANIFEST_ACCEPT, scope: pullScope(repository), what, notFound: 'IMAGE_NOT_FOUND', signal });
    await this.expectOk(res, what, 'IMAGE_NOT_FOUND');
    // Manifests are small; the whole read gets a few request timeouts, not an idle timeout alone (a trickle).
    const bytes = await readBody(res, this.maxManifestBytes, this.timeoutMs * 4, what);
    this.stats.manifestFetches++;
    const digest = sha256(bytes);
    if (isDigest(reference) && digest !== reference) {
      throw new RegistryError('DIGEST_MISMATCH', 'protocol', `${what}: the registry sent a document that hashes to ${digest}`);
    }
    const claimed = res.header('docker-content-digest');
    if (claimed && claimed.startsWith('sha256:') && claimed !== digest) {
      throw new RegistryError('DIGEST_MISMATCH', 'protocol', `${what}: Docker-Content-Digest says ${claimed}, the document hashes to ${digest}`);
    }
    return { digest, mediaType: manifestMediaType(res.header('content-type'), bytes, what), bytes };
  }

  /** `HEAD` a manifest: its digest without downloading it (what a tag points at now). */
  async headManifest(repository: string, reference: string, signal?: AbortSignal): Promise<ManifestHead> {
    const what = `${this.registry}/${repository}${isDigest(reference) ? '@' : ':'}${reference}: manifest`;
    const res = await this.send({ method: 'HEAD', path: apiPath(repository, 'manifests', reference), accept: MANIFEST_ACCEPT, scope: pullScope(repository), what, notFound: 'IMAGE_NOT_FOUND', signal });
    await this.expectOk(res, what, 'IMAGE_NOT_FOUND');
    discard(res);
    const digest = res.header('docker-content-digest');
    const type = (res.header('content-type') ?? '').split(';')[0]!.trim();
    if (digest && isDigest(digest) && MANIFEST_MEDIA_TYPES.includes(type)) {
      const length = Number(res.header('content-length') ?? NaN);
      return { digest, mediaType: type, size: Number.isFinite(length) ? length : null };
    }
    // the header is optional in the spec: fall back to fetching and hashing
    const doc = await this.getManifest(repository, reference, signal);
    return { digest: doc.digest, mediaType: doc.mediaType, size: doc.bytes.length };
  }

  /**
   * Stream a blob, following redirects to wherever it is stored. The caller verifies the digest while reading
   * (layer-stream.ts); `size`, when known from the manifest, stops a registry that sends more than it declared.
   * A connection that drops mid-blob is resumed with a Range request (up to `retries` times), so one reset does
   * not cost a multi-gigabyte layer from the start.
   */
  async openBlob(repository: string, digest: string, opts: { signal?: AbortSignal; size?: number | null } = {}): Promise<Readable> {
    const what = `${this.registry}/${repository}: blob ${digest}`;
    const request = async (offset: number): Promise<HttpResponse> => {
      const res = await this.send({
        method: 'GET',
        path: apiPath(repository, 'blobs', digest),
        ...(offset > 0 ? { range: `bytes=${offset}-` } : {}),
        scope: pullScope(repository),
        what,
        notFound: 'MISSING_BLOB',
        signal: opts.signal,
      });
      await this.expectOk(res, what, 'MISSING_BLOB');
      return res;
    };
    const first = await request(0);
    this.stats.blobFetches++;
    const size = opts.size ?? null;
    const length = Number(first.header('content-length') ?? NaN);
    if (size !== null && Number.isFinite(length) && length !== size) {
      first.body.destroy();
      throw new RegistryError('DIGEST_MISMATCH', 'protocol', `${what}: the registry sends ${length} bytes, the manifest declares ${size}`);
    }
    const body = Readable.from(this.resuming(first, request, what, opts.signal), { objectMode: false, highWaterMark: 256 * 1024 });
    if (size === null) return body;
    const limited = new SizeLimit(size, what);
    body.on('error', (err) => limited.destroy(err));
    limited.on('close', () => body.destroy());
    return body.pipe(limited);
  }

  /** The blob's bytes across reconnects: after a dropped connection, ask for the rest and carry on. */
  private async *resuming(first: HttpResponse, request: (offset: number) => Promise<HttpResponse>, what: string, signal: AbortSignal | undefined): AsyncGenerator<Buffer> {
    let res = first;
    let offset = 0;
    for (let resumes = 0; ; ) {
      let skip = 0;
      if (offset > 0) {
        if (res.status === 206) {
          const m = /^bytes (\d+)-/.exec(res.header('content-range') ?? '');
          if (!m || Number(m[1]) !== offset) {
            res.body.destroy();
            throw new RegistryError('TARGET_UNREADABLE', 'protocol', `${what}: asked to resume at byte ${offset}, got Content-Range ${JSON.stringify(res.header('content-range'))}`);
          }
        } else {
          skip = offset; // the server ignored Range and starts over: drop what we already passed on
        }
      }
      try {
        for await (const chunk of res.body) {
          let buf = chunk as Buffer;
          if (skip > 0) {
            const drop = Math.min(skip, buf.length);
            skip -= drop;
            buf = buf.subarray(drop);
            if (buf.length === 0) continue;
          }
          offset += buf.length;
          yield buf;
        }
        return;
      } catch (err) {
        const e = describeNetworkError(err, { url: res.url, what });
        // only a dropped connection is resumed: a timeout already waited its full length, an abort is wanted
        if (e.kind !== 'network' || e.code === 'ABORTED' || signal?.aborted || resumes >= this.retries) throw e;
        resumes++;
        await this.backoff(resumes - 1, null, signal);
        res = await request(offset);
      }
    }
  }

  /** A small blob (an image config) read whole and verified against its digest. */
  async readBlob(repository: string, digest: string, maxBytes: number = MAX_JSON_BLOB, signal?: AbortSignal): Promise<Buffer> {
    const what = `${this.registry}/${repository}: blob ${digest}`;
    const res = await this.send({ method: 'GET', path: apiPath(repository, 'blobs', digest), scope: pullScope(repository), what, notFound: 'MISSING_BLOB', signal });
    await this.expectOk(res, what, 'MISSING_BLOB');
    this.stats.blobFetches++;
    const bytes = await readBody(res, maxBytes, this.timeoutMs * 4, what);
    const actual = sha256(bytes);
    if (actual !== digest) throw new RegistryError('DIGEST_MISMATCH', 'protocol', `${what}: the registry sent bytes that hash to ${actual}`);
    return bytes;
  }

  /** Every repository in `_catalog`, page by page (needs the `registry:catalog:*` scope on token registries). */
  catalog(opts: { pageSize?: number; signal?: AbortSignal } = {}): AsyncGenerator<string> {
    return this.paged(`/v2/_catalog?n=${opts.pageSize ?? 100}`, 'registry:catalog:*', 'repositories', `${this.registry}: catalog`, opts.signal);
  }

  /** Every tag of a repository, page by page. */
  tags(repository: string, opts: { pageSize?: number; signal?: AbortSignal } = {}): AsyncGenerator<string> {
    return this.paged(`${apiPath(repository, 'tags', null)}?n=${opts.pageSize ?? 100}`, pullScope(repository), 'tags', `${this.registry}/${repository}: tags`, opts.signal);
  }

  // ------------------------------------------------------------------ paging

  private async *paged(first: string, scope: string, field: string, what: string, signal: AbortSignal | undefined): AsyncGenerator<string> {
    const seen = new Set<string>();
    let path: string | null = first;
    while (path !== null) {
      if (seen.has(path)) throw new RegistryError('TARGET_UNREADABLE', 'protocol', `${what}: the Link header loops back to ${path}`);
      seen.add(path);
      const res = await this.send({ method: 'GET', path, accept: 'application/json', scope, what, notFound: 'TARGET_NOT_FOUND', signal });
      await this.expectOk(res, what, 'TARGET_NOT_FOUND');
      const body = await readBody(res, MAX_JSON_BLOB, this.timeoutMs * 4, what);
      let json: unknown;
      try {
        json = JSON.parse(body.toString('utf8'));
      } catch {
        throw new RegistryError('TARGET_UNREADABLE', 'protocol', `${what}: the answer is not JSON`);
      }
      // registries answer `"tags": null` for a repository without tags
      const list = isObject(json) ? (arr(json, field) ?? []) : [];
      for (const item of list) if (typeof item === 'string') yield item;
      const next = nextLink(res.header('link'), res.url);
      if (next && !sameOrigin(next, this.base)) throw new RegistryError('TARGET_UNREADABLE', 'protocol', `${what}: the next page is on another host (${next.origin})`);
      path = next ? next.pathname + next.search : null;
    }
  }

  // ------------------------------------------------------------------ requests

  private async doPing(signal: AbortSignal | undefined): Promise<void> {
    const what = `${this.registry}: registry API probe (GET /v2/)`;
    const probe = (): Promise<HttpResponse> =>
      this.exchange({ method: 'GET', url: new URL('/v2/', this.base), headers: {}, what, signal, followRedirects: true, authFor: () => null });
    let res: HttpResponse;
    try {
      res = await probe();
    } catch (err) {
      // Docker treats 127.0.0.0/8 as an insecure registry: HTTPS first, then plain HTTP when the server speaks that.
      if (this.base.protocol === 'https:' && isLoopbackRegistry(this.registry) && isPlainHttpAnswer(err)) {
        this.base = new URL(`http://${this.base.host}`);
        res = await probe();
      } else {
        throw err;
      }
    }
    if (res.status === 401) {
      this.challenge = chooseChallenge(res.header('www-authenticate'));
      discard(res);
      return;
    }
    if (res.status >= 200 && res.status < 300) {
      discard(res);
      return;
    }
    if (res.status === 404) {
      discard(res);
      throw new RegistryError('TARGET_NOT_FOUND', 'protocol', `${what}: 404: no OCI distribution API at ${this.base.origin}`, { status: 404 });
    }
    await this.expectOk(res, what, 'TARGET_UNREADABLE');
  }

  /** A registry request with auth: proactive when the scheme is known, and one retry after a fresh 401 challenge. */
  private async send(call: Call): Promise<HttpResponse> {
    await this.ping(call.signal);
    let scopes = call.scope ? [call.scope] : [];
    for (let attempt = 0; ; attempt++) {
      const authorization = await this.authorization(scopes, call.what, call.signal);
      const res = await this.exchange({
        method: call.method,
        url: new URL(call.path, this.base),
        headers: { ...(call.accept ? { accept: call.accept } : {}), ...(call.range ? { range: call.range } : {}) },
        what: call.what,
        signal: call.signal,
        followRedirects: true,
        // only to the registry itself: a redirect to a blob store (S3, a CDN) gets a pre-signed URL, not our token
        authFor: (url) => (authorization !== null && sameOrigin(url, this.base) ? authorization : null),
      });
      if (res.status !== 401 || attempt > 0 || !sameOrigin(res.url, this.base)) return res;
      const challenge = chooseChallenge(res.header('www-authenticate'));
      if (!challenge) return res;
      discard(res);
      // A first 401 means: we did not know the scheme yet, the token expired early, or this repository needs more
      // scope than we asked for. Learn the challenge, drop the token we sent, and try once more.
      this.challenge = challenge;
      const hinted = challenge.params['scope'];
      if (hinted) scopes = [...new Set([...scopes, ...hinted.split(' ').filter((s) => s !== '')])];
      this.tokens.delete(this.tokenKey(challenge, scopes));
    }
  }

  /**
   * One request with redirects and retries. Retried: 408/429/5xx answers and dropped connections, with exponential
   * backoff (or the server's Retry-After). Not retried: timeouts (a server that hung for the whole timeout is not
   * likely to answer the next time, and retrying would multiply the wait), TLS failures, other statuses.
   */
  private async exchange(x: Exchange): Promise<HttpResponse> {
    for (let attempt = 0; ; attempt++) {
      let res: HttpResponse;
      try {
        res = await this.follow(x);
      } catch (err) {
        const e = describeNetworkError(err, x);
        if (e.kind === 'network' && e.code !== 'ABORTED' && attempt < this.retries) {
          await this.backoff(attempt, null, x.signal);
          continue;
        }
        throw e;
      }
      if (!RETRY_STATUS.has(res.status) || attempt >= this.retries) return res;
      const after = retryAfterMs(res.header('retry-after'));
      discard(res);
      if (after !== null && after > this.maxRetryAfterMs) {
        throw new RegistryError('TARGET_UNREADABLE', 'rate-limit', `${x.what}: ${res.status}; the registry asks to retry after ${Math.ceil(after / 1000)} s, longer than the ${Math.round(this.maxRetryAfterMs / 1000)} s we wait`, { status: res.status });
      }
      await this.backoff(attempt, after, x.signal);
    }
  }

  private async backoff(attempt: number, retryAfter: number | null, signal: AbortSignal | undefined): Promise<void> {
    // jitter spreads out clients that were all throttled at once
    const delay = retryAfter ?? Math.min(30_000, this.retryBaseMs * 2 ** attempt) * (0.8 + 0.4 * Math.random());
    try {
      await sleep(delay, undefined, signal ? { signal } : {});
    } catch (err) {
      throw new RegistryError('ABORTED', 'network', 'aborted while waiting to retry', { cause: err });
    }
  }

  /** Follow redirects by hand: bounded, loop-checked, never HTTPS → HTTP, Authorization chosen per hop. */
  private async follow(x: Exchange): Promise<HttpResponse> {
    const seen = new Set<string>();
    let url = x.url;
    let method = x.method;
    for (let hop = 0; ; hop++) {
      const headers: Record<string, string> = { ...x.headers };
      const auth = x.authFor(url);
      if (auth !== null) headers['authorization'] = auth;
      this.stats.requests++;
      const res = await this.transport.request({
        method,
        url,
        headers,
        ...(x.body !== undefined && method === 'POST' ? { body: x.body } : {}),
        timeoutMs: this.timeoutMs,
        ...(x.signal ? { signal: x.signal } : {}),
        what: x.what,
      });
      if (!x.followRedirects || !REDIRECT_STATUS.has(res.status)) return res;
      const location = res.header('location');
      discard(res);
      if (!location) throw new RegistryError('TARGET_UNREADABLE', 'protocol', `${x.what}: ${res.status} redirect without a Location`, { status: res.status });
      let next: URL;
      try {
        next = new URL(location, url);
      } catch {
        throw new RegistryError('TARGET_UNREADABLE', 'protocol', `${x.what}: redirect to an invalid URL ${JSON.stringify(location.slice(0, 200))}`);
      }
      seen.add(url.href);
      if (seen.has(next.href)) throw new RegistryError('TARGET_UNREADABLE', 'redirect', `${x.what}: redirect loop (back to ${next.href.slice(0, 200)})`);
      if (hop + 1 > this.maxRedirects) {
        throw new RegistryError('TARGET_UNREADABLE', 'redirect', `${x.what}: more than ${this.maxRedirects} redirects (the last to ${next.href.slice(0, 200)})`);
      }
      if (url.protocol === 'https:' && next.protocol !== 'https:') {
        throw new RegistryError('TARGET_UNREADABLE', 'redirect', `${x.what}: refused a redirect from HTTPS to ${next.protocol.replace(':', '')} (${next.origin})`);
      }
      if (res.status === 303 && method === 'POST') method = 'GET';
      url = next;
    }
  }

  /** Turn a final non-2xx answer into the error that names what to do. */
  private async expectOk(res: HttpResponse, what: string, notFound: TallyErrorCode): Promise<void> {
    if (res.status >= 200 && res.status < 300) return;
    let detail = '';
    if (res.body.readable) {
      try {
        detail = errorsFromBody(await readBody(res, MAX_ERROR_BODY, this.timeoutMs, what));
      } catch {
        res.body.destroy(); // the error text is a nicety; the status says enough
      }
    }
    const suffix = detail ? ` (${detail})` : '';
    const status = res.status;
    if (status === 401) {
      const creds = await this.getCredentials().catch(() => null);
      const hint = creds ? 'the credentials were rejected' : 'authentication required: give --username/--password-stdin or log in with `docker login`';
      throw new RegistryError('TARGET_UNREADABLE', 'auth', `${what}: 401: ${hint}${suffix}`, { status });
    }
    if (status === 403) throw new RegistryError('TARGET_UNREADABLE', 'auth', `${what}: 403: access denied${suffix}`, { status });
    if (status === 404) throw new RegistryError(notFound, 'not-found', `${what}: not found${suffix}`, { status });
    if (status === 429) throw new RegistryError('TARGET_UNREADABLE', 'rate-limit', `${what}: 429: rate limited, still after ${this.retries} retries${suffix}`, { status });
    throw new RegistryError('TARGET_UNREADABLE', 'http', `${what}: unexpected HTTP ${status}${suffix}`, { status });
  }

  // ------------------------------------------------------------------ auth

  private getCredentials(): Promise<Credentials | null> {
    if (!this.credentials) {
      const { username, password } = this.options;
      if (username !== undefined && password !== undefined) {
        this.credentials = Promise.resolve({ kind: 'basic', username, password });
      } else {
        const dir = this.options.dockerConfigDir === undefined ? defaultDockerConfigDir() : this.options.dockerConfigDir;
        // read only when a registry first asks: anonymous registries never run a credential helper
        this.credentials = dir === null ? Promise.resolve(null) : credentialsFromDockerConfig(this.registry, dir);
        this.credentials.catch(() => {
          this.credentials = null; // a helper that failed once may work next time
        });
      }
    }
    return this.credentials;
  }

  private tokenKey(challenge: Challenge, scopes: readonly string[]): string {
    return JSON.stringify([challenge.params['realm'] ?? '', challenge.params['service'] ?? '', [...scopes].sort()]);
  }

  private async authorization(scopes: readonly string[], what: string, signal: AbortSignal | undefined): Promise<string | null> {
    const challenge = this.challenge;
    if (!challenge) return null;
    if (challenge.scheme === 'basic') {
      const creds = await this.getCredentials();
      if (!creds) return null;
      if (creds.kind !== 'basic') throw new RegistryError('TARGET_UNREADABLE', 'auth', `${what}: the registry wants Basic auth, but the Docker config holds an identity token for it`);
      return 'Basic ' + Buffer.from(`${creds.username}:${creds.password}`).toString('base64');
    }
    if (challenge.scheme !== 'bearer') return null; // an unknown scheme: go anonymous and let the 401 explain
    const key = this.tokenKey(challenge, scopes);
    const cached = this.tokens.get(key);
    if (cached && cached.expiresAt > Date.now()) return cached.header;
    let pending = this.pendingTokens.get(key);
    if (!pending) {
      pending = this.fetchToken(challenge, scopes, `${what}: token endpoint`, signal).finally(() => this.pendingTokens.delete(key));
      this.pendingTokens.set(key, pending);
    }
    const token = await pending;
    if (this.tokens.size >= 1000) {
      // a long-running sensor asks for one scope per repository: keep the map from growing without end
      const now = Date.now();
      for (const [k, t] of this.tokens) if (t.expiresAt <= now) this.tokens.delete(k);
      if (this.tokens.size >= 1000) this.tokens.clear();
    }
    this.tokens.set(key, token);
    return token.header;
  }

  /** The token endpoint (distribution token spec): GET with Basic credentials, or an OAuth2 POST with a refresh token. */
  private async fetchToken(challenge: Challenge, scopes: readonly string[], what: string, signal: AbortSignal | undefined): Promise<CachedToken> {
    const realmText = challenge.params['realm'];
    if (!realmText) throw new RegistryError('TARGET_UNREADABLE', 'protocol', `${what}: the Bearer challenge has no realm`);
    let realm: URL;
    try {
      realm = new URL(realmText);
    } catch {
      throw new RegistryError('TARGET_UNREADABLE', 'protocol', `${what}: the realm is not a URL`);
    }
    if (realm.protocol !== 'https:' && realm.protocol !== 'http:') throw new RegistryError('TARGET_UNREADABLE', 'protocol', `${what}: unsupported realm scheme`);
    // credentials go to the realm: never in clear text to another machine unless the user opted out of TLS
    if (realm.protocol === 'http:' && !this.options.insecure && this.base.protocol === 'https:' && !isLoopbackRegistry(realm.host)) {
      throw new RegistryError('TARGET_UNREADABLE', 'auth', `${what}: refusing a plain-HTTP token endpoint for an HTTPS registry`);
    }
    const creds = await this.getCredentials();
    const service = challenge.params['service'];
    this.stats.tokenFetches++;
    let res: HttpResponse;
    if (creds?.kind === 'identity-token') {
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: creds.token, client_id: 'tally', access_type: 'offline' });
      if (service) form.set('service', service);
      if (scopes.length > 0) form.set('scope', scopes.join(' '));
      res = await this.exchange({ method: 'POST', url: realm, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString(), what, signal, followRedirects: false, authFor: () => null });
    } else {
      const url = new URL(realm);
      if (service) url.searchParams.set('service', service);
      for (const s of scopes) url.searchParams.append('scope', s);
      if (creds) url.searchParams.set('account', creds.username);
      const basic = creds ? 'Basic ' + Buffer.from(`${creds.username}:${creds.password}`).toString('base64') : null;
      res = await this.exchange({ method: 'GET', url, headers: {}, what, signal, followRedirects: true, authFor: (u) => (sameOrigin(u, realm) ? basic : null) });
    }
    if (res.status === 401 || res.status === 403) {
      discard(res);
      throw new RegistryError('TARGET_UNREADABLE', 'auth', `${what}: ${res.status}: ${creds ? 'the credentials were refused' : 'anonymous access refused; give credentials'}`, { status: res.status });
    }
    await this.expectOk(res, what, 'TARGET_UNREADABLE');
    const body = await readBody(res, MAX_TOKEN_BYTES, this.timeoutMs, what);
    let json: unknown;
    try {
      json = JSON.parse(body.toString('utf8'));
    } catch {
      throw new RegistryError('TARGET_UNREADABLE', 'protocol', `${what}: the answer is not JSON`);
    }
    const token = isObject(json) ? (str(json, 'token') ?? str(json, 'access_token')) : null;
    if (!token) throw new RegistryError('TARGET_UNREADABLE', 'protocol', `${what}: the answer has no token`);
    // The spec's default lifetime is 60 s. Expiry is counted from our clock at receipt, not from issued_at, so
    // clock skew cannot make a token look expired (or fresh); a margin renews it before the registry refuses it.
    const lifetimeMs = Math.max(0, (isObject(json) ? num(json, 'expires_in') : null) ?? 60) * 1000;
    return { header: `Bearer ${token}`, expiresAt: Date.now() + lifetimeMs - Math.min(30_000, lifetimeMs / 10) };
  }
}

/** Content-Type when it is a manifest type; else the document's own mediaType; else its shape (index or manifest). */
function manifestMediaType(contentType: string | null, bytes: Buffer, what: string): string {
  const type = (contentType ?? '').split(';')[0]!.trim();
  if (MANIFEST_MEDIA_TYPES.includes(type)) return type;
  if (type === MEDIA.dockerSchema1 || type === MEDIA.dockerSchema1Signed) {
    throw new RegistryError('UNSUPPORTED_MEDIA_TYPE', 'protocol', `${what}: Docker schema 1 manifests are not supported (deprecated since 2017)`);
  }
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new RegistryError('INVALID_IMAGE', 'protocol', `${what}: not JSON (Content-Type ${type || 'none'})`);
  }
  if (!isObject(json)) throw new RegistryError('INVALID_IMAGE', 'protocol', `${what}: not a JSON object`);
  const declared = str(json, 'mediaType');
  if (declared && MANIFEST_MEDIA_TYPES.includes(declared)) return declared;
  if (num(json, 'schemaVersion') === 1) throw new RegistryError('UNSUPPORTED_MEDIA_TYPE', 'protocol', `${what}: Docker schema 1 manifests are not supported (deprecated since 2017)`);
  if (arr(json, 'manifests')) return MEDIA.ociIndex;
  if (isObject(json['config'])) return MEDIA.ociManifest;
  throw new RegistryError('UNSUPPORTED_MEDIA_TYPE', 'protocol', `${what}: ${type || declared || 'untyped'} is not an image manifest or index`);
}

export function isIndexMediaType(mediaType: string): boolean {
  return mediaType === MEDIA.ociIndex || mediaType === MEDIA.dockerList;
}

/**
 * The registry client's request layer, on node:http / node:https rather than the global fetch.
 *
 * Why not fetch: Node 20's fetch is undici, and the only way to trust an extra CA there is a `dispatcher` built from
 * the `undici` npm package (v8 needs Node 22; we add no dependency for this) or NODE_EXTRA_CA_CERTS, which is read
 * once at process start and cannot be set by a library. node:https takes `ca` per agent, so a self-signed registry
 * works without touching the process. It also gives what the client needs anyway: manual redirects (we choose per
 * hop whether Authorization goes along), a socket idle timeout that covers the time to headers and every pause in a
 * body, and the body as a plain Readable that layer-stream.ts consumes directly.
 */
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { RegistryError } from './errors.js';

export interface HttpRequest {
  readonly method: 'GET' | 'HEAD' | 'POST';
  readonly url: URL;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string;
  /** Time allowed for headers to arrive, and for any pause while the body streams. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  /** Names the request in errors ("manifest team/app:1", "token endpoint"). */
  readonly what: string;
}

export interface HttpResponse {
  readonly status: number;
  readonly url: URL;
  readonly headers: IncomingHttpHeaders;
  readonly body: IncomingMessage;
  header(name: string): string | null;
}

export interface TransportOptions {
  /** Extra trusted CA certificates (PEM), added to Node's bundled roots. */
  readonly caCerts: readonly string[];
  readonly userAgent: string;
}

/** Node's roots plus NODE_EXTRA_CA_CERTS: giving `ca` to an agent replaces both, so both are added back. */
function trustedRoots(extra: readonly string[]): string[] {
  const fromEnv: string[] = [];
  const file = process.env['NODE_EXTRA_CA_CERTS'];
  if (file) {
    try {
      fromEnv.push(readFileSync(file, 'utf8'));
    } catch {
      // Node itself only warns about an unreadable NODE_EXTRA_CA_CERTS; do the same (say nothing, trust less)
    }
  }
  return [...rootCertificates, ...fromEnv, ...extra];
}

const TLS_VERIFY_CODES = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);

function errorCode(err: unknown): string {
  if (typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string') return err.code;
  return '';
}

/** A TLS client talking to a plain-HTTP server fails like this ("wrong version number"). */
export function isPlainHttpAnswer(err: unknown): boolean {
  return err instanceof RegistryError && err.kind === 'tls' && /wrong version number/.test(err.message);
}

/** Turn a socket-level failure into a RegistryError that says what to do about it. */
export function describeNetworkError(err: unknown, req: { url: URL; what: string }): RegistryError {
  if (err instanceof RegistryError) return err;
  const code = errorCode(err);
  const msg = err instanceof Error ? err.message : String(err);
  const where = `${req.what}: ${req.url.origin}`;
  if (TLS_VERIFY_CODES.has(code)) {
    return new RegistryError('TARGET_UNREADABLE', 'tls', `${where}: TLS certificate not trusted (${code}: ${msg}); pass the registry's CA with --ca-cert FILE`, { cause: err });
  }
  if (code === 'EPROTO' || code.startsWith('ERR_SSL')) {
    const hint = /wrong version number/.test(msg) ? '; the server answers plain HTTP: use --insecure' : '';
    return new RegistryError('TARGET_UNREADABLE', 'tls', `${where}: TLS handshake failed (${msg.split('\n')[0]})${hint}`, { cause: err });
  }
  if (NETWORK_CODES.has(code)) return new RegistryError('TARGET_UNREADABLE', 'network', `${where}: ${code} (${msg})`, { cause: err });
  if (err instanceof Error && err.name === 'AbortError') return new RegistryError('ABORTED', 'network', `${where}: aborted`, { cause: err });
  return new RegistryError('TARGET_UNREADABLE', 'network', `${where}: ${msg}`, { cause: err });
}

export function timeoutError(req: { url: URL; what: string; timeoutMs: number }, phase: string): RegistryError {
  return new RegistryError('TARGET_UNREADABLE', 'timeout', `${req.what}: timed out: ${req.url.origin} sent nothing for ${req.timeoutMs} ms ${phase}`);
}

class Response implements HttpResponse {
  constructor(
    readonly url: URL,
    readonly body: IncomingMessage,
  ) {}
  get status(): number {
    return this.body.statusCode ?? 0;
  }
  get headers(): IncomingHttpHeaders {
    return this.body.headers;
  }
  header(name: string): string | null {
    const v = this.body.headers[name.toLowerCase()];
    if (v === undefined) return null;
    return Array.isArray(v) ? v.join(', ') : v;
  }
}

/** Keep-alive agents for one client: one connection pool per registry client, custom CA on the HTTPS one. */
export class HttpTransport {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly userAgent: string;

  constructor(opts: TransportOptions) {
    this.userAgent = opts.userAgent;
    this.httpAgent = new http.Agent({ keepAlive: true, maxSockets: 16 });
    this.httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 16, ...(opts.caCerts.length > 0 ? { ca: trustedRoots(opts.caCerts) } : {}) });
  }

  /** Send one request (no redirects, no retries: the client decides those). Resolves once headers arrive. */
  request(req: HttpRequest): Promise<HttpResponse> {
    return new Promise<HttpResponse>((resolve, reject) => {
      const isHttps = req.url.protocol === 'https:';
      if (!isHttps && req.url.protocol !== 'http:') {
        reject(new RegistryError('TARGET_UNREADABLE', 'protocol', `${req.what}: unsupported URL scheme ${req.url.protocol}`));
        return;
      }
      if (req.signal?.aborted) {
        reject(new RegistryError('ABORTED', 'network', `${req.what}: aborted`, { cause: req.signal.reason }));
        return;
      }
      const headers: Record<string, string> = { 'user-agent': this.userAgent, ...req.headers };
      if (req.body !== undefined) headers['content-length'] = String(Buffer.byteLength(req.body));
      const options = { method: req.method, headers, agent: isHttps ? this.httpsAgent : this.httpAgent };
      let response: IncomingMessage | null = null;
      const r = (isHttps ? https : http).request(req.url, options, (res) => {
        response = res;
        resolve(new Response(req.url, res));
      });
      // Idle timeout on the socket: fires while waiting for headers and on any stall of the body afterwards.
      r.setTimeout(req.timeoutMs, () => {
        const err = timeoutError(req, response ? 'in the middle of the body' : 'after the request');
        if (response) response.destroy(err);
        r.destroy(err);
      });
      const onAbort = (): void => {
        const err = new RegistryError('ABORTED', 'network', `${req.what}: aborted`, { cause: req.signal?.reason });
        if (response) response.destroy(err);
        r.destroy(err);
      };
      req.signal?.addEventListener('abort', onAbort, { once: true });
      r.on('close', () => req.signal?.removeEventListener('abort', onAbort));
      r.on('error', (err) => {
        // after the response arrived, failures surface on the body stream; before, they reject the request
        if (!response) reject(describeNetworkError(err, req));
      });
      r.end(req.body);
    });
  }

  close(): void {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/**
 * Read a whole (small) body, refusing more than `maxBytes`: first by Content-Length, without reading, then by
 * counting, since a chunked answer declares nothing. `deadlineMs` bounds the whole read, not just the pauses:
 * a server trickling a byte a second would otherwise hold a 4 MiB document for weeks.
 */
export async function readBody(res: HttpResponse, maxBytes: number, deadlineMs: number, what: string): Promise<Buffer> {
  const declared = Number(res.header('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    res.body.destroy();
    throw new RegistryError('INVALID_IMAGE', 'too-large', `${what}: ${declared} bytes, over the ${maxBytes}-byte limit; refused`);
  }
  const timer = setTimeout(() => res.body.destroy(new RegistryError('TARGET_UNREADABLE', 'timeout', `${what}: not received within ${deadlineMs} ms`)), deadlineMs);
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of res.body) {
      const buf = chunk as Buffer;
      total += buf.length;
      if (total > maxBytes) {
        res.body.destroy();
        throw new RegistryError('INVALID_IMAGE', 'too-large', `${what}: over the ${maxBytes}-byte limit; refused after reading ${total} bytes`);
      }
      chunks.push(buf);
    }
  } catch (err) {
    throw describeNetworkError(err, { url: res.url, what });
  } finally {
    clearTimeout(timer);
  }
  return Buffer.concat(chunks, total);
}

/**
 * Let go of a response we do not use (a 401, a redirect, an error page): a short body is drained so the socket
 * goes back to the pool; anything long or of unknown length is cut, since reading it could take forever.
 */
export function discard(res: HttpResponse): void {
  const declared = Number(res.header('content-length') ?? NaN);
  if (res.body.complete || (Number.isFinite(declared) && declared <= 64 * 1024)) {
    res.body.on('error', () => undefined);
    res.body.resume();
  } else {
    res.body.destroy();
  }
}

/**
 * The backend's shared layer cache (`tally serve`, `/api/v1/layer-cache/{key}`) as a LayerCache over HTTP, so a
 * layer analysed by one sensor or worker is never streamed again by another.
 *
 * The backend is an accelerator, never a dependency: any failure (refused connection, timeout, 5xx, a bad token) is
 * a miss, reported once through `onWarning`, after which the backend is left alone for a while so that a dead one
 * costs one timeout per scan, not one per layer. Entries are untrusted: each is size-capped and checked
 * (entry.ts) before use, and a bad one is a miss.
 */
import type { LayerResult } from '../extract/layer-result.js';
import { decodeLayerEntry, encodeLayerEntry, MAX_ENTRY_BYTES } from './entry.js';
import type { LayerCache } from './layer-cache.js';

export interface BackendLayerCacheOptions {
  /** The backend's base URL (`http://tally.internal:8080`). */
  readonly url: string;
  /** A sensor (or admin) token. */
  readonly token: string;
  /** Told once when the backend stops answering, and about each entry refused as invalid. */
  readonly onWarning: (message: string) => void;
  /** Per request (default 10 s). */
  readonly timeoutMs?: number;
  /** How long the backend is skipped after a failure (default 60 s). */
  readonly retryAfterMs?: number;
}

/** The response body, refused past `max` bytes (a hostile backend cannot make us buffer a gigabyte). */
async function readCapped(res: Response, max: number): Promise<Buffer> {
  const declared = Number(res.headers.get('content-length') ?? NaN);
  if (declared > max) throw new Error(`entry is ${declared} bytes, over the ${max}-byte limit`);
  const chunks: Buffer[] = [];
  let total = 0;
  if (res.body === null) return Buffer.alloc(0);
  for await (const chunk of res.body) {
    total += chunk.byteLength;
    if (total > max) throw new Error(`entry passes the ${max}-byte limit`);
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks, total);
}

function reason(err: unknown): string {
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  return `${err instanceof Error ? err.message : String(err)}${cause}`;
}

export class BackendLayerCache implements LayerCache {
  private readonly base: string;
  private readonly timeoutMs: number;
  private readonly retryAfterMs: number;
  /** While set, the backend is down: requests are skipped until `retryAt`, and no further warning is given. */
  private down: { retryAt: number } | null = null;

  constructor(private readonly options: BackendLayerCacheOptions) {
    this.base = options.url.replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.retryAfterMs = options.retryAfterMs ?? 60_000;
  }

  async get(key: string): Promise<LayerResult | null> {
    if (this.skipping()) return null;
    let body: Buffer;
    try {
      const res = await this.request('GET', key);
      if (res.status === 404) {
        await res.body?.cancel();
        this.down = null;
        return null;
      }
      if (res.status !== 200) throw new Error(await statusLine(res));
      body = await readCapped(res, MAX_ENTRY_BYTES);
      this.down = null;
    } catch (err) {
      this.failed(`GET ${key}`, err);
      return null;
    }
    try {
      return await decodeLayerEntry(body);
    } catch (err) {
      this.options.onWarning(`the backend layer cache (${this.base}) holds an invalid entry ${key}, ignored: ${reason(err)}`);
      return null;
    }
  }

  async put(key: string, result: LayerResult): Promise<void> {
    if (this.skipping()) return;
    const body = await encodeLayerEntry(result);
    if (body.length > MAX_ENTRY_BYTES) return; // too big to share: it stays in the local cache
    try {
      const res = await this.request('PUT', key, body);
      // 413: over this backend's bound; the entry is simply not shared
      if (!res.ok && res.status !== 413) throw new Error(await statusLine(res));
      await res.body?.cancel();
      this.down = null;
    } catch (err) {
      this.failed(`PUT ${key}`, err);
    }
  }

  private request(method: 'GET' | 'PUT', key: string, body?: Buffer): Promise<Response> {
    return fetch(`${this.base}/api/v1/layer-cache/${encodeURIComponent(key)}`, {
      method,
      headers: { authorization: `Bearer ${this.options.token}`, ...(body ? { 'content-type': 'application/gzip' } : {}) },
      ...(body ? { body } : {}),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
  }

  private skipping(): boolean {
    return this.down !== null && Date.now() < this.down.retryAt;
  }

  private failed(what: string, err: unknown): void {
    if (this.down === null) {
      this.options.onWarning(
        `the backend layer cache (${this.base}) is unavailable (${what}: ${reason(err)}); layers are analysed here, and the backend is tried again in ${Math.round(this.retryAfterMs / 1000)} s`,
      );
    }
    this.down = { retryAt: Date.now() + this.retryAfterMs };
  }
}

async function statusLine(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  let message = text.slice(0, 300);
  try {
    const json = JSON.parse(text) as { message?: unknown };
    if (typeof json.message === 'string') message = json.message;
  } catch {
    // not JSON: the text as it is
  }
  return `HTTP ${res.status}${message ? `: ${message}` : ''}`;
}

/**
 * A sensor's calls to the backend besides uploads (docs/server.md): heartbeat, which images it already has,
 * the container list, re-tags. Uploads go through upload.ts (gzip, retries, idempotency). These calls are not
 * retried here: a pass that cannot reach the backend fails as a whole and the loop backs off (loop.ts).
 */
import type { LayerCache, ScanReport } from '@tally/core';
import type { UploadResponse } from '@tally/server/protocol';
import { resolveCacheDir } from '../cache-dir.js';
import { layerCacheFor } from '../layer-cache.js';
import { errorText, sensorHeaders, uploadReport, UploadError, type SensorIdentity } from '../upload.js';

export interface KnownImage {
  readonly imageId: string;
  readonly manifestDigest: string | null;
  readonly scanTypes: readonly string[];
  /** Absent from backends before the sensors (issue 8). */
  readonly repoTags?: readonly string[];
}

/** One container as PUT /api/v1/containers takes it (the report schema's container). */
export interface SensorContainer {
  readonly id: string;
  readonly name: string;
  readonly imageId: string;
  readonly image: string;
  readonly state: string;
  readonly created: string | null;
  readonly ports: readonly { ip?: string; privatePort: number; publicPort?: number; type: string }[];
}

export class BackendError extends Error {
  override readonly name = 'BackendError';
  constructor(
    message: string,
    /** HTTP status; null for a network error or timeout. */
    readonly status: number | null,
  ) {
    super(message);
  }
}

/**
 * Errors after which the rest of the pass cannot succeed either (backend unreachable, token refused): the pass
 * stops and the loop backs off, instead of failing every remaining image the same way.
 */
export function backendUnusable(err: unknown): boolean {
  const status = err instanceof BackendError || err instanceof UploadError ? err.status : undefined;
  return status === null || status === 401 || status === 403;
}

const DIGEST = /^sha256:[0-9a-f]{64}$/;
/** The /known endpoint's per-array limit. */
const KNOWN_CHUNK = 10_000;

export interface BackendOptions {
  readonly server: string;
  readonly token: string;
  readonly identity: SensorIdentity;
  /** Per-request timeout (default 60 s). */
  readonly timeoutMs?: number;
}

export class SensorBackend {
  private readonly base: string;

  constructor(private readonly options: BackendOptions) {
    this.base = options.server.replace(/\/+$/, '');
  }

  get server(): string {
    return this.base;
  }

  /** The layer cache shared through this backend, behind the local cache directory. */
  layerCache(cacheDir: string | undefined): LayerCache | null {
    return layerCacheFor({ cacheDir: resolveCacheDir(cacheDir), useCache: true, server: { url: this.base, token: this.options.token } });
  }

  private async request<T>(method: 'POST' | 'PUT', path: string, body: unknown, signal: AbortSignal): Promise<T> {
    const url = `${this.base}${path}`;
    const timeout = AbortSignal.timeout(this.options.timeoutMs ?? 60_000);
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: { ...sensorHeaders(this.options.token, this.options.identity), 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.any([signal, timeout]),
      });
    } catch (err) {
      if (signal.aborted) throw signal.reason;
      const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
      throw new BackendError(`${method} ${url} failed: ${timeout.aborted ? 'timed out' : err instanceof Error ? err.message : String(err)}${cause}`, null);
    }
    if (!res.ok) throw new BackendError(`${method} ${url}: HTTP ${res.status}: ${await errorText(res)}`, res.status);
    return (await res.json()) as T;
  }

  /** Shows the sensor in the backend's Sensors list; tells whether the backend stores SCA results. */
  async heartbeat(signal: AbortSignal): Promise<{ scaEnabled: boolean; warnings: readonly string[] }> {
    const r = await this.request<{ sca: { enabled: boolean }; warnings: string[] }>(
      'POST',
      '/api/v1/sensors/heartbeat',
      { type: this.options.identity.type, performScaScan: this.options.identity.performScaScan },
      signal,
    );
    return { scaEnabled: r.sca.enabled, warnings: r.warnings };
  }

  /** The stored images among these image ids or manifest digests (strings that are not digests are not asked about). */
  async known(query: { imageIds?: readonly string[]; manifestDigests?: readonly string[] }, signal: AbortSignal): Promise<KnownImage[]> {
    const ids = [...new Set((query.imageIds ?? []).filter((d) => DIGEST.test(d)))];
    const digests = [...new Set((query.manifestDigests ?? []).filter((d) => DIGEST.test(d)))];
    const out = new Map<string, KnownImage>();
    for (let i = 0; i < Math.max(ids.length, digests.length); i += KNOWN_CHUNK) {
      const r = await this.request<{ images: KnownImage[] }>(
        'POST',
        '/api/v1/sensors/known',
        { imageIds: ids.slice(i, i + KNOWN_CHUNK), manifestDigests: digests.slice(i, i + KNOWN_CHUNK) },
        signal,
      );
      for (const image of r.images) out.set(image.imageId, image);
    }
    return [...out.values()];
  }

  /** This host's complete container list: the backend marks containers missing from it removed. */
  async putContainers(containers: readonly SensorContainer[], signal: AbortSignal): Promise<{ upserted: number; removed: number }> {
    return this.request('PUT', '/api/v1/containers', { type: this.options.identity.type, performScaScan: this.options.identity.performScaScan, containers }, signal);
  }

  /** Record tags/digests of a stored image without a new report (a re-tag). */
  async addRefs(imageId: string, refs: { repoTags: readonly string[]; repoDigests: readonly string[] }, signal: AbortSignal): Promise<void> {
    await this.request('POST', `/api/v1/images/${encodeURIComponent(imageId)}/refs`, refs, signal);
  }

  async upload(report: ScanReport, signal: AbortSignal): Promise<UploadResponse> {
    const { response } = await uploadReport(report, {
      url: this.base,
      token: this.options.token,
      signal,
      ...(this.options.identity.host !== undefined ? { host: this.options.identity.host } : {}),
      ...(this.options.identity.sensorId !== undefined ? { sensorId: this.options.identity.sensorId } : {}),
    });
    return response;
  }
}

/**
 * `tally scan … --upload URL --token T`: send a report to the backend (`POST /api/v1/scans`).
 *
 * The body is the report as JSON, gzip-compressed. Network errors, 5xx, 408 and 429 are retried with exponential
 * backoff and full jitter (429/503 honour Retry-After); other 4xx are final (the report is wrong, the token is
 * wrong, or the backend refuses the sensor's protocol: retrying cannot help). Retries are safe: the backend
 * deduplicates by the body's hash, so a retry of an upload whose response was lost lands once.
 *
 * The caller writes its output files before uploading, so a failed upload still leaves the report on disk.
 */
import { hostname } from 'node:os';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';
import { TOOL_VERSION, type ScanReport } from '@tally/core';
import { SENSOR_HEADERS, SENSOR_PROTOCOL, type ErrorResponse, type UploadResponse } from '@tally/server/protocol';

const gzipAsync = promisify(gzip);

export interface UploadOptions {
  /** The backend's base URL (`http://127.0.0.1:8080`), or the full upload URL ending in /api/v1/scans. */
  readonly url: string;
  readonly token: string;
  /** Retries after the first attempt (default 5). */
  readonly retries?: number;
  /** First backoff delay (default 500 ms), doubled per retry up to `maxDelayMs` (default 30 s). */
  readonly baseDelayMs?: number;
  readonly maxDelayMs?: number;
  /** Per-attempt timeout (default 10 min: a large report on a slow link). */
  readonly timeoutMs?: number;
  readonly host?: string;
  /** Stable id of a long-running sensor (X-Tally-Sensor-Id). */
  readonly sensorId?: string;
  readonly idempotencyKey?: string;
  readonly signal?: AbortSignal;
  readonly onRetry?: (attempt: number, delayMs: number, reason: string) => void;
  /** For tests. */
  readonly fetch?: typeof fetch;
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface UploadResult {
  readonly response: UploadResponse;
  readonly attempts: number;
  readonly status: number;
}

export class UploadError extends Error {
  override readonly name = 'UploadError';
  constructor(
    message: string,
    /** HTTP status of the last attempt, null for a network error. */
    readonly status: number | null,
    readonly attempts: number,
  ) {
    super(message);
  }
}

export function uploadUrl(base: string): string {
  let u: URL;
  try {
    u = new URL(base);
  } catch {
    throw new UploadError(`--upload: ${JSON.stringify(base)} is not a URL (expected e.g. http://127.0.0.1:8080)`, null, 0);
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new UploadError(`--upload: ${u.protocol} URLs are not supported (use http or https)`, null, 0);
  if (!u.pathname.endsWith('/api/v1/scans')) u.pathname = `${u.pathname.replace(/\/+$/, '')}/api/v1/scans`;
  return u.toString();
}

function retryAfterMs(header: string | null): number | null {
  if (header === null) return null;
  const secs = Number(header);
  if (Number.isFinite(secs) && secs >= 0) return secs * 1000;
  const at = Date.parse(header);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : null;
}

/** The message of a backend error answer (its JSON `message` and `details`), else the start of its text. */
export async function errorText(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  try {
    const body = JSON.parse(text) as Partial<ErrorResponse>;
    if (typeof body.message === 'string') return [body.message, ...(body.details ?? [])].join('; ');
  } catch {
    // not JSON: use the text
  }
  return text.slice(0, 500) || res.statusText;
}

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

export interface SensorIdentity {
  readonly type: string;
  readonly performScaScan: boolean;
  /** Default: this machine's host name. */
  readonly host?: string | undefined;
  readonly sensorId?: string | undefined;
}

/** The protocol headers every sensor request carries (uploads, and a sensor's heartbeat, known, containers, refs). */
export function sensorHeaders(token: string, id: SensorIdentity): Record<string, string> {
  return {
    authorization: `Bearer ${token}`,
    [SENSOR_HEADERS.protocol]: String(SENSOR_PROTOCOL),
    [SENSOR_HEADERS.version]: TOOL_VERSION,
    [SENSOR_HEADERS.type]: id.type,
    [SENSOR_HEADERS.host]: id.host ?? hostname(),
    [SENSOR_HEADERS.performSca]: String(id.performScaScan),
    ...(id.sensorId !== undefined ? { [SENSOR_HEADERS.id]: id.sensorId } : {}),
  };
}

export async function uploadReport(report: ScanReport, options: UploadOptions): Promise<UploadResult> {
  const url = uploadUrl(options.url);
  const body = await gzipAsync(Buffer.from(JSON.stringify(report), 'utf8'));
  const doFetch = options.fetch ?? fetch;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const retries = options.retries ?? 5;
  const base = options.baseDelayMs ?? 500;
  const max = options.maxDelayMs ?? 30_000;
  const headers: Record<string, string> = {
    ...sensorHeaders(options.token, { type: report.sensor.type, performScaScan: report.sensor.performScaScan, host: options.host, sensorId: options.sensorId }),
    'content-type': 'application/json',
    'content-encoding': 'gzip',
  };
  if (options.idempotencyKey !== undefined) headers[SENSOR_HEADERS.idempotencyKey] = options.idempotencyKey;

  for (let attempt = 1; ; attempt++) {
    let reason: string;
    let delay: number | null = null;
    let status: number | null = null;
    try {
      const timeout = AbortSignal.timeout(options.timeoutMs ?? 600_000);
      const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
      const res = await doFetch(url, { method: 'POST', headers, body, signal });
      status = res.status;
      if (res.ok) return { response: (await res.json()) as UploadResponse, attempts: attempt, status: res.status };
      reason = `HTTP ${res.status}: ${await errorText(res)}`;
      if (!RETRYABLE_STATUS.has(res.status)) throw new UploadError(`upload to ${url} failed: ${reason}`, res.status, attempt);
      delay = retryAfterMs(res.headers.get('retry-after'));
    } catch (err) {
      if (err instanceof UploadError) throw err;
      if (options.signal?.aborted) throw new UploadError(`upload to ${url} cancelled`, null, attempt);
      const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
      reason = `${err instanceof Error ? err.message : String(err)}${cause}`;
    }
    if (attempt > retries) throw new UploadError(`upload to ${url} failed after ${attempt} attempts: ${reason}`, status, attempt);
    const backoff = Math.min(max, base * 2 ** (attempt - 1));
    const wait = Math.min(max, delay ?? Math.round(backoff / 2 + Math.random() * (backoff / 2)));
    options.onRetry?.(attempt, wait, reason);
    await sleep(wait);
  }
}

/**
 * Upload and tell the operator on stderr: the server's warnings (SCA disabled…), then one summary line. Returns
 * the exit status to use (0, or 2 when the upload failed). For scan.ts: call it after the outputs are written.
 */
export async function uploadAndReport(report: ScanReport, options: UploadOptions, stderr: NodeJS.WritableStream = process.stderr, quiet = false): Promise<0 | 2> {
  try {
    const { response, attempts } = await uploadReport(report, {
      ...options,
      onRetry: (attempt, ms, reason) => {
        if (!quiet) stderr.write(`tally: upload attempt ${attempt} failed (${reason}); retrying in ${(ms / 1000).toFixed(1)} s\n`);
        options.onRetry?.(attempt, ms, reason);
      },
    });
    for (const w of response.warnings) stderr.write(`tally: warning: ${w}\n`);
    if (!quiet) {
      const what = response.duplicate ? 'already stored' : `${response.packages.stored} packages, ${response.vulnerabilities.total} vulnerabilities`;
      stderr.write(`tally: uploaded ${response.imageId} (${what}${attempts > 1 ? `, ${attempts} attempts` : ''})\n`);
    }
    return 0;
  } catch (err) {
    stderr.write(`tally: ${err instanceof Error ? err.message : String(err)}\n`);
    return 2;
  }
}

import { request as httpRequest, type IncomingMessage, type RequestOptions } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { TallyError, type TallyErrorCode } from '../../../model/errors.js';
import { arr, isObject, num, obj, parseJson, str, strings, type JsonObject } from '../../../util/json.js';
import { resolveDockerEndpoint, type DockerEndpoint, type DockerEndpointOptions } from './endpoint.js';

/**
 * A small Docker Engine API client (API 1.41, which Docker 20.10+ and podman 4's compatible service speak) on
 * node:http: unix sockets through `socketPath`, TCP with optional TLS. No dependency: the API used here is a
 * dozen JSON endpoints plus two byte streams (image export and container logs), which are consumed as streams.
 */

export const DOCKER_API_VERSION = '1.41';

/** An error answer from the engine; `status` is the HTTP status. */
export class DockerApiError extends TallyError {
  readonly status: number;
  constructor(code: TallyErrorCode, status: number, message: string) {
    super(code, message);
    this.name = 'DockerApiError';
    this.status = status;
  }
}

export interface EngineImageSummary {
  readonly id: string;
  readonly repoTags: readonly string[];
  readonly repoDigests: readonly string[];
  /** Unix seconds. */
  readonly created: number | null;
  readonly size: number | null;
  readonly labels: Readonly<Record<string, string>>;
}

export interface EnginePort {
  readonly ip: string | null;
  readonly privatePort: number;
  readonly publicPort: number | null;
  readonly type: string;
}

export interface EngineContainerSummary {
  readonly id: string;
  readonly names: readonly string[];
  /** The image as the container was created from it (a name or an id). */
  readonly image: string;
  readonly imageId: string | null;
  /** created, running, paused, restarting, removing, exited, dead */
  readonly state: string;
  readonly status: string;
  /** Unix seconds. */
  readonly created: number | null;
  readonly ports: readonly EnginePort[];
  readonly labels: Readonly<Record<string, string>>;
}

export interface EngineImageInspect {
  readonly id: string;
  readonly repoTags: readonly string[];
  readonly repoDigests: readonly string[];
  readonly created: string | null;
  readonly size: number | null;
  readonly os: string | null;
  readonly architecture: string | null;
  readonly variant: string | null;
  /** RootFS.Layers: the diffIds, base first. */
  readonly diffIds: readonly string[];
  readonly user: string | null;
  readonly entrypoint: readonly string[] | null;
  readonly cmd: readonly string[] | null;
}

export interface EngineContainerInspect {
  readonly id: string;
  readonly name: string;
  readonly imageId: string | null;
  readonly created: string | null;
  readonly state: { readonly status: string; readonly running: boolean; readonly exitCode: number | null; readonly oomKilled: boolean; readonly error: string | null };
  readonly labels: Readonly<Record<string, string>>;
}

export interface EngineVersion {
  readonly version: string | null;
  readonly apiVersion: string | null;
  readonly minApiVersion: string | null;
  readonly os: string | null;
  readonly arch: string | null;
}

export interface RequestOptionsExtra {
  readonly query?: Readonly<Record<string, string | number | boolean | undefined>>;
  /** JSON request body. */
  readonly json?: unknown;
  /** Streamed request body (image load). */
  readonly body?: Readable;
  readonly contentType?: string;
  readonly signal?: AbortSignal;
  /** Socket idle time before the request fails; 0 = none (long polls). */
  readonly idleTimeoutMs?: number;
  /** The error code of a 404 answer (an image that is not there is IMAGE_NOT_FOUND). */
  readonly notFound?: TallyErrorCode;
}

export interface DockerClientOptions extends DockerEndpointOptions {
  /** Idle timeout of ordinary requests (default 60 s). */
  readonly idleTimeoutMs?: number;
}

const MAX_JSON_ANSWER = 64 * 1024 * 1024;
const MAX_ERROR_BODY = 64 * 1024;

function labelsOf(o: JsonObject | null): Record<string, string> {
  const out: Record<string, string> = {};
  if (!o) return out;
  for (const [k, v] of Object.entries(o)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** Engine 20 lists untagged images with `<none>:<none>` / `<none>@<none>` placeholders; they are not names. */
function realNames(names: string[]): string[] {
  return names.filter((n) => !n.startsWith('<none>'));
}

function stringListOrNull(o: JsonObject, key: string): string[] | null {
  return arr(o, key) === null ? null : strings(o, key);
}

function compareApiVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

export async function readBody(res: Readable, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  for await (const chunk of res) {
    const buf = chunk as Buffer;
    total += buf.length;
    if (total > max) {
      res.destroy();
      throw new TallyError('TARGET_UNREADABLE', `${what}: the answer is over ${max} bytes`);
    }
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

export class DockerEngineClient {
  private negotiated: Promise<void> | null = null;
  private readonly idleTimeoutMs: number;

  constructor(readonly endpoint: DockerEndpoint, options: { idleTimeoutMs?: number } = {}) {
    this.idleTimeoutMs = options.idleTimeoutMs ?? 60_000;
  }

  static fromOptions(options: DockerClientOptions = {}): DockerEngineClient {
    return new DockerEngineClient(resolveDockerEndpoint(options), options.idleTimeoutMs !== undefined ? { idleTimeoutMs: options.idleTimeoutMs } : {});
  }

  get display(): string {
    return this.endpoint.display;
  }

  /**
   * Send one request; resolves with the response once its headers are in (the body is the caller's to read).
   * Non-2xx answers become DockerApiError with the engine's message. Connection failures name the endpoint.
   */
  async send(method: string, path: string, opts: RequestOptionsExtra = {}): Promise<IncomingMessage> {
    const ep = this.endpoint;
    const query = new URLSearchParams();
    for (const [k, v] of Object.entries(opts.query ?? {})) if (v !== undefined) query.set(k, String(v));
    const qs = query.toString();
    const fullPath = `${ep.kind === 'tcp' ? ep.basePath : ''}${path}${qs ? `?${qs}` : ''}`;
    const headers: Record<string, string> = { Host: ep.kind === 'unix' ? 'docker' : `${ep.hostname}:${ep.port}` };
    let payload: Buffer | null = null;
    if (opts.json !== undefined) {
      payload = Buffer.from(JSON.stringify(opts.json));
      headers['Content-Type'] = 'application/json';
      headers['Content-Length'] = String(payload.length);
    } else if (opts.body) {
      headers['Content-Type'] = opts.contentType ?? 'application/octet-stream';
    }
    const base: RequestOptions = { method, path: fullPath, headers, ...(opts.signal ? { signal: opts.signal } : {}) };
    const idle = opts.idleTimeoutMs ?? this.idleTimeoutMs;
    const what = `Docker engine at ${ep.display}: ${method} ${path}`;

    const res = await new Promise<IncomingMessage>((resolve, reject) => {
      const fail = (err: unknown): void => {
        if (opts.signal?.aborted) return reject(opts.signal.reason);
        if (err instanceof TallyError) return reject(err);
        const message = err instanceof Error ? err.message : String(err);
        reject(new TallyError('TARGET_UNREADABLE', `${what}: ${message}${/ENOENT|ECONNREFUSED|EACCES/.test(message) ? ' (is the engine running? set DOCKER_HOST or --docker-host)' : ''}`, { cause: err }));
      };
      const req =
        ep.kind === 'unix'
          ? httpRequest({ ...base, socketPath: ep.socketPath })
          : ep.tls
            ? httpsRequest({
                ...base,
                host: ep.hostname,
                port: ep.port,
                rejectUnauthorized: ep.tls.verify,
                ...(ep.tls.ca ? { ca: ep.tls.ca } : {}),
                ...(ep.tls.cert ? { cert: ep.tls.cert } : {}),
                ...(ep.tls.key ? { key: ep.tls.key } : {}),
              })
            : httpRequest({ ...base, host: ep.hostname, port: ep.port });
      if (idle > 0) req.setTimeout(idle, () => req.destroy(new TallyError('TARGET_UNREADABLE', `${what}: no answer for ${Math.round(idle / 1000)} s`)));
      req.once('error', fail);
      req.once('response', resolve);
      if (payload) req.end(payload);
      else if (opts.body) {
        opts.body.once('error', (err) => req.destroy(err));
        opts.body.pipe(req);
      } else req.end();
    });

    const status = res.statusCode ?? 0;
    if (status >= 200 && status < 300) return res;
    const body = await readBody(res, MAX_ERROR_BODY, what).catch(() => Buffer.alloc(0));
    let message = body.toString('utf8').trim();
    try {
      const json: unknown = JSON.parse(message);
      if (isObject(json)) message = str(json, 'message') ?? str(json, 'cause') ?? message;
    } catch {
      // not JSON: keep the text
    }
    const code: TallyErrorCode = status === 404 ? (opts.notFound ?? 'TARGET_NOT_FOUND') : 'TARGET_UNREADABLE';
    throw new DockerApiError(code, status, `${what}: ${status} ${message || res.statusMessage || ''}`.trim());
  }

  /** The versioned path; the first call checks once that the engine speaks API 1.41 or later. */
  private async api(path: string, signal?: AbortSignal): Promise<string> {
    this.negotiated ??= this.ping(signal).then((p) => {
      if (p.apiVersion && compareApiVersions(p.apiVersion, DOCKER_API_VERSION) < 0) {
        throw new TallyError('TARGET_UNREADABLE', `Docker engine at ${this.display} speaks API ${p.apiVersion}; Tally needs ${DOCKER_API_VERSION} or later`);
      }
    });
    try {
      await this.negotiated;
    } catch (err) {
      this.negotiated = null; // a failed probe (engine not up yet) is retried by the next call
      throw err;
    }
    return `/v${DOCKER_API_VERSION}${path}`;
  }

  async json(method: string, path: string, opts: RequestOptionsExtra = {}): Promise<unknown> {
    const res = await this.send(method, await this.api(path, opts.signal), opts);
    const body = await readBody(res, MAX_JSON_ANSWER, `Docker engine at ${this.display}: ${path}`);
    if (body.length === 0) return null;
    return parseJson(body, `Docker engine at ${this.display}: ${path}`);
  }

  /** `GET /_ping` (unversioned, as the docker CLI does to negotiate). */
  async ping(signal?: AbortSignal): Promise<{ readonly apiVersion: string | null; readonly osType: string | null; readonly server: string | null }> {
    const res = await this.send('GET', '/_ping', signal ? { signal } : {});
    await readBody(res, MAX_ERROR_BODY, '/_ping');
    const header = (name: string): string | null => {
      const v = res.headers[name];
      return typeof v === 'string' ? v : null;
    };
    return { apiVersion: header('api-version'), osType: header('ostype'), server: header('server') };
  }

  async version(signal?: AbortSignal): Promise<EngineVersion> {
    const json = await this.json('GET', '/version', signal ? { signal } : {});
    const o = isObject(json) ? json : {};
    return { version: str(o, 'Version'), apiVersion: str(o, 'ApiVersion'), minApiVersion: str(o, 'MinAPIVersion'), os: str(o, 'Os'), arch: str(o, 'Arch') };
  }

  async listImages(signal?: AbortSignal): Promise<EngineImageSummary[]> {
    const json = await this.json('GET', '/images/json', signal ? { signal } : {});
    return (Array.isArray(json) ? json : []).filter(isObject).map((o) => ({
      id: str(o, 'Id') ?? '',
      repoTags: realNames(strings(o, 'RepoTags')),
      repoDigests: realNames(strings(o, 'RepoDigests')),
      created: num(o, 'Created'),
      size: num(o, 'Size'),
      labels: labelsOf(obj(o, 'Labels')),
    }));
  }

  /** All containers (running or not); `labels` narrows to containers carrying each `key=value`. */
  async listContainers(opts: { labels?: readonly string[]; signal?: AbortSignal } = {}): Promise<EngineContainerSummary[]> {
    const filters = opts.labels && opts.labels.length > 0 ? JSON.stringify({ label: opts.labels }) : undefined;
    const json = await this.json('GET', '/containers/json', { query: { all: 1, filters }, ...(opts.signal ? { signal: opts.signal } : {}) });
    return (Array.isArray(json) ? json : []).filter(isObject).map((o) => ({
      id: str(o, 'Id') ?? '',
      names: strings(o, 'Names').map((n) => n.replace(/^\//, '')),
      image: str(o, 'Image') ?? '',
      imageId: str(o, 'ImageID'),
      state: str(o, 'State') ?? '',
      status: str(o, 'Status') ?? '',
      created: num(o, 'Created'),
      ports: (arr(o, 'Ports') ?? []).filter(isObject).map((p) => ({
        ip: str(p, 'IP'),
        privatePort: num(p, 'PrivatePort') ?? 0,
        publicPort: num(p, 'PublicPort'),
        type: str(p, 'Type') ?? 'tcp',
      })),
      labels: labelsOf(obj(o, 'Labels')),
    }));
  }

  async inspectImage(name: string, signal?: AbortSignal): Promise<EngineImageInspect> {
    const json = await this.json('GET', `/images/${encodeURIComponent(name)}/json`, { notFound: 'IMAGE_NOT_FOUND', ...(signal ? { signal } : {}) });
    if (!isObject(json)) throw new TallyError('TARGET_UNREADABLE', `Docker engine at ${this.display}: image ${name}: inspect answer is not an object`);
    const config = obj(json, 'Config');
    const rootfs = obj(json, 'RootFS');
    return {
      id: str(json, 'Id') ?? '',
      repoTags: realNames(strings(json, 'RepoTags')),
      repoDigests: realNames(strings(json, 'RepoDigests')),
      created: str(json, 'Created'),
      size: num(json, 'Size'),
      os: str(json, 'Os'),
      architecture: str(json, 'Architecture'),
      variant: str(json, 'Variant'),
      diffIds: rootfs ? strings(rootfs, 'Layers') : [],
      user: config ? str(config, 'User') : null,
      entrypoint: config ? stringListOrNull(config, 'Entrypoint') : null,
      cmd: config ? stringListOrNull(config, 'Cmd') : null,
    };
  }

  async inspectContainer(id: string, signal?: AbortSignal): Promise<EngineContainerInspect> {
    const json = await this.json('GET', `/containers/${encodeURIComponent(id)}/json`, signal ? { signal } : {});
    if (!isObject(json)) throw new TallyError('TARGET_UNREADABLE', `Docker engine at ${this.display}: container ${id}: inspect answer is not an object`);
    const state = obj(json, 'State') ?? {};
    const config = obj(json, 'Config');
    return {
      id: str(json, 'Id') ?? '',
      name: (str(json, 'Name') ?? '').replace(/^\//, ''),
      imageId: str(json, 'Image'),
      created: str(json, 'Created'),
      state: {
        status: str(state, 'Status') ?? '',
        running: state['Running'] === true,
        exitCode: num(state, 'ExitCode'),
        oomKilled: state['OOMKilled'] === true,
        error: str(state, 'Error') || null,
      },
      labels: labelsOf(config ? obj(config, 'Labels') : null),
    };
  }

  /**
   * `GET /images/{name}/get`: the image as a `docker save` tar, as a stream. The caller must consume or destroy
   * it. The idle timeout is long: Engine 20 prepares the whole export before the first byte.
   */
  async exportImage(name: string, opts: { signal?: AbortSignal; idleTimeoutMs?: number } = {}): Promise<IncomingMessage> {
    const path = await this.api(`/images/${encodeURIComponent(name)}/get`, opts.signal);
    return this.send('GET', path, { notFound: 'IMAGE_NOT_FOUND', idleTimeoutMs: opts.idleTimeoutMs ?? 10 * 60_000, ...(opts.signal ? { signal: opts.signal } : {}) });
  }

  /** `POST /images/load` from a `docker save` stream; returns the engine's progress lines (errors throw). */
  async loadImage(body: Readable, signal?: AbortSignal): Promise<string[]> {
    const path = await this.api('/images/load', signal);
    const res = await this.send('POST', path, { query: { quiet: 1 }, body, contentType: 'application/x-tar', idleTimeoutMs: 10 * 60_000, ...(signal ? { signal } : {}) });
    const text = (await readBody(res, MAX_JSON_ANSWER, 'image load')).toString('utf8');
    const out: string[] = [];
    for (const line of text.split('\n')) {
      if (line.trim() === '') continue;
      let json: unknown;
      try {
        json = JSON.parse(line);
      } catch {
        out.push(line);
        continue;
      }
      if (!isObject(json)) continue;
      const error = str(json, 'error') ?? (obj(json, 'errorDetail') ? str(obj(json, 'errorDetail')!, 'message') : null);
      if (error) throw new DockerApiError('INVALID_IMAGE', 200, `Docker engine at ${this.display}: image load: ${error}`);
      const stream = str(json, 'stream');
      if (stream) out.push(stream.trim());
    }
    return out;
  }

  async removeImage(id: string, signal?: AbortSignal): Promise<void> {
    await this.json('DELETE', `/images/${encodeURIComponent(id)}`, { query: { noprune: 0 }, ...(signal ? { signal } : {}) });
  }

  async createContainer(body: JsonObject, name: string | null, signal?: AbortSignal): Promise<string> {
    const json = await this.json('POST', '/containers/create', {
      json: body,
      // with the vfs storage driver, creating copies the image's whole rootfs: minutes for a big image
      idleTimeoutMs: 10 * 60_000,
      notFound: 'IMAGE_NOT_FOUND',
      query: { name: name ?? undefined },
      ...(signal ? { signal } : {}),
    });
    const id = isObject(json) ? str(json, 'Id') : null;
    if (!id) throw new TallyError('TARGET_UNREADABLE', `Docker engine at ${this.display}: container create: no Id in the answer`);
    return id;
  }

  async startContainer(id: string, signal?: AbortSignal): Promise<void> {
    await this.json('POST', `/containers/${encodeURIComponent(id)}/start`, signal ? { signal } : {});
  }

  /**
   * Long poll until the container is not running; abort with `signal` for a time limit. (podman 4.3 answers this
   * only ~20 s after the exit: dynamic/container.ts polls the container's state instead.)
   */
  async waitContainer(id: string, signal?: AbortSignal): Promise<{ readonly statusCode: number; readonly error: string | null }> {
    const json = await this.json('POST', `/containers/${encodeURIComponent(id)}/wait`, { query: { condition: 'not-running' }, idleTimeoutMs: 0, ...(signal ? { signal } : {}) });
    const o = isObject(json) ? json : {};
    const err = obj(o, 'Error');
    return { statusCode: num(o, 'StatusCode') ?? -1, error: err ? str(err, 'Message') || null : null };
  }

  async killContainer(id: string, signal?: AbortSignal): Promise<void> {
    await this.json('POST', `/containers/${encodeURIComponent(id)}/kill`, signal ? { signal } : {});
  }

  /** Removes the container, its anonymous volumes too; a container already gone is not an error. */
  async removeContainer(id: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.json('DELETE', `/containers/${encodeURIComponent(id)}`, { query: { force: 1, v: 1 }, idleTimeoutMs: 10 * 60_000, ...(signal ? { signal } : {}) });
    } catch (err) {
      if (err instanceof DockerApiError && err.status === 404) return;
      throw err;
    }
  }

  /**
   * stdout and stderr of a container started without a TTY: the engine multiplexes them in frames of an 8-byte
   * header (stream id, 3 zero bytes, big-endian length) and the payload. Each stream keeps at most `maxBytes`.
   */
  async containerLogs(id: string, maxBytes: number, signal?: AbortSignal): Promise<{ stdout: Buffer; stderr: Buffer; truncated: boolean }> {
    const path = await this.api(`/containers/${encodeURIComponent(id)}/logs`, signal);
    const res = await this.send('GET', path, { query: { stdout: 1, stderr: 1, follow: 0 }, ...(signal ? { signal } : {}) });
    const demux = new LogDemuxer(maxBytes);
    for await (const chunk of res) demux.push(chunk as Buffer);
    return demux.finish();
  }
}

/**
 * Splits the engine's multiplexed log stream, frame by frame as chunks arrive (a frame's payload is never
 * gathered whole, so a huge frame costs no memory); each stream keeps at most `maxBytes`.
 */
export class LogDemuxer {
  private header = Buffer.alloc(8);
  private headerFill = 0;
  private stream: 1 | 2 = 1;
  private remaining = 0;
  private readonly out: { 1: Buffer[]; 2: Buffer[] } = { 1: [], 2: [] };
  private readonly sizes = { 1: 0, 2: 0 };
  private truncated = false;
  /** A stream that does not start with a frame header is raw (a TTY container, or an engine that does not frame). */
  private raw: boolean | null = null;
  private head: Buffer[] = [];

  constructor(private readonly maxBytes: number) {}

  private keep(stream: 1 | 2, data: Buffer): void {
    if (data.length === 0) return;
    const room = this.maxBytes - this.sizes[stream];
    if (room < data.length) this.truncated = true;
    if (room <= 0) return;
    const part = data.length > room ? data.subarray(0, room) : data;
    this.out[stream].push(Buffer.from(part));
    this.sizes[stream] += part.length;
  }

  push(chunk: Buffer): void {
    if (this.raw === null) {
      // classify on the first 8 bytes: a frame header is [1|2, 0, 0, 0, len(4)]
      this.head.push(chunk);
      const b = Buffer.concat(this.head);
      if (b.length < 8) return;
      this.head = [];
      this.raw = !((b[0] === 1 || b[0] === 2) && b[1] === 0 && b[2] === 0 && b[3] === 0);
      chunk = b;
    }
    if (this.raw) {
      this.keep(1, chunk);
      return;
    }
    let pos = 0;
    while (pos < chunk.length) {
      if (this.remaining > 0) {
        const take = Math.min(this.remaining, chunk.length - pos);
        this.keep(this.stream, chunk.subarray(pos, pos + take));
        this.remaining -= take;
        pos += take;
        continue;
      }
      const take = Math.min(8 - this.headerFill, chunk.length - pos);
      chunk.copy(this.header, this.headerFill, pos, pos + take);
      this.headerFill += take;
      pos += take;
      if (this.headerFill === 8) {
        this.stream = this.header[0] === 2 ? 2 : 1;
        this.remaining = this.header.readUInt32BE(4);
        this.headerFill = 0;
      }
    }
  }

  finish(): { stdout: Buffer; stderr: Buffer; truncated: boolean } {
    // A stream shorter than a header was never classified: it can only be raw text.
    if (this.raw === null) this.keep(1, Buffer.concat(this.head));
    if (this.remaining > 0 || this.headerFill > 0) this.truncated = true;
    return { stdout: Buffer.concat(this.out[1]), stderr: Buffer.concat(this.out[2]), truncated: this.truncated };
  }
}

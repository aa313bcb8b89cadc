/**
 * `tally db update`: fetch the live feeds and swap a new database in atomically.
 *
 * Feeds (origin → mirror path; a mirror is an http(s) base URL or a local directory with this layout):
 *   osv.dev        https://osv-vulnerabilities.storage.googleapis.com/<ECO>/all.zip   osv/<ECO>/all.zip
 *                  (incremental) …/<ECO>/modified_id.csv, …/<ECO>/<ID>.json         osv/<ECO>/modified_id.csv, osv/<ECO>/<ID>.json
 *   Debian         https://security-tracker.debian.org/tracker/data/json              debian/json
 *   Alpine secdb   https://secdb.alpinelinux.org/<branch>/<repo>.json                alpine/<branch>/<repo>.json
 *   CISA KEV       https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json   kev/known_exploited_vulnerabilities.json
 *   EPSS           https://epss.empiricalsecurity.com/epss_scores-current.csv.gz      epss/epss_scores-current.csv.gz
 *
 * Per feed: a conditional request (If-None-Match / If-Modified-Since from the stored ETag / Last-Modified; for a
 * local mirror, size+mtime) → 304 means unchanged. Otherwise the body streams to a temp file while it is counted
 * and hashed: more than `maxBytes` aborts it, fewer than the feed's minimum or fewer than Content-Length (a
 * truncated transfer) fails it, and the MD5 that Google Cloud Storage publishes in `x-goog-hash` (osv.dev) or a
 * `<file>.sha256` next to a mirrored file is checked. A body whose SHA-256 equals the last import's is unchanged.
 * osv.dev feeds with a stored cursor update incrementally from `modified_id.csv` (newest first) when few records
 * changed, else from `all.zip`. A full import that would shrink a feed below half its previous record count is
 * refused (an upstream outage serving a stub must not empty the database).
 *
 * Everything is written to a copy of the live database, which is renamed over it at the end (store.ts explains why
 * that is safe under concurrent scans). By default any failed feed abandons the whole update and the old database
 * stays; `allowPartial` keeps the feeds that succeeded (a failed feed keeps its previous records).
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve as resolvePath } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import { TOOL_VERSION } from '../tool.js';
import { VulnDbError, describeError, isVulnDbError, throwIfAborted } from './errors.js';
import { lines } from './importers/bytes.js';
import { importFile, type FeedFormat, type FileImport } from './importers/import.js';
import { parseOsv } from './importers/osv.js';
import { isSkipped } from './importers/types.js';
import { VulnDbWriter, vulndbPath, type SourceRow } from './store.js';
import { eachLimit } from '../util/each-limit.js';

export const DEFAULT_ORIGINS = {
  osv: 'https://osv-vulnerabilities.storage.googleapis.com',
  debianTracker: 'https://security-tracker.debian.org/tracker/data/json',
  alpine: 'https://secdb.alpinelinux.org',
  kev: 'https://www.cisa.gov/sites/default/files/feeds/known_exploited_vulnerabilities.json',
  epss: 'https://epss.empiricalsecurity.com/epss_scores-current.csv.gz',
} as const;

export type FeedOrigins = { readonly [K in keyof typeof DEFAULT_ORIGINS]: string };

/** The language ecosystems Tally inventories, plus the RPM distros osv.dev publishes in full. */
export const DEFAULT_OSV_ECOSYSTEMS: readonly string[] = ['npm', 'PyPI', 'Maven', 'Go', 'NuGet', 'AlmaLinux', 'Rocky Linux'];
export const DEFAULT_ALPINE_BRANCHES: readonly string[] = ['v3.18', 'v3.19', 'v3.20', 'v3.21', 'v3.22'];
export const DEFAULT_ALPINE_REPOS: readonly string[] = ['main', 'community'];

/** Relative paths of a mirror (see the module comment). Tests and `tools/` build mirrors from these. */
export const MIRROR_LAYOUT = {
  osvZip: (eco: string) => `osv/${eco}/all.zip`,
  osvModifiedIds: (eco: string) => `osv/${eco}/modified_id.csv`,
  osvRecord: (eco: string, id: string) => `osv/${eco}/${id}.json`,
  debianTracker: 'debian/json',
  alpine: (branch: string, repo: string) => `alpine/${branch}/${repo}.json`,
  kev: 'kev/known_exploited_vulnerabilities.json',
  epss: 'epss/epss_scores-current.csv.gz',
} as const;

export interface FeedSelection {
  readonly osv?: boolean;
  readonly debian?: boolean;
  readonly alpine?: boolean;
  readonly kev?: boolean;
  readonly epss?: boolean;
}

export interface UpdateOptions {
  /** Tally's cache directory; the database is `<cacheDir>/db/tally.db`. One of cacheDir / dbPath is required. */
  readonly cacheDir?: string;
  readonly dbPath?: string;
  /** An http(s) base URL or a local directory with MIRROR_LAYOUT; replaces every origin. */
  readonly mirror?: string;
  /** Override single origins (e.g. the FIRST EPSS URL `https://epss.cyentia.com/epss_scores-current.csv.gz`). */
  readonly origins?: Partial<FeedOrigins>;
  readonly feeds?: FeedSelection;
  readonly osvEcosystems?: readonly string[];
  readonly alpineBranches?: readonly string[];
  readonly alpineRepos?: readonly string[];
  /** Use osv.dev `modified_id.csv` to fetch only changed records (default true). */
  readonly incremental?: boolean;
  /** More changed records than this → download all.zip instead (default 2000). */
  readonly maxIncrementalRecords?: number;
  /** Commit the feeds that succeeded even if others failed (default false: all or nothing). */
  readonly allowPartial?: boolean;
  /** Refuse a full import with fewer records than this share of the previous import (default 0.5; 0 disables). */
  readonly shrinkGuard?: number;
  /** Rebuild from an empty database instead of updating a copy. */
  readonly fresh?: boolean;
  readonly limits?: {
    /** Per download (default 4 GiB). */
    readonly maxBytes?: number;
    /** Per-format minimum download sizes, over the defaults. */
    readonly minBytes?: Partial<Record<FeedFormat, number>>;
    /** Per request, headers to last byte (default 30 min). */
    readonly timeoutMs?: number;
  };
  readonly signal?: AbortSignal;
  readonly onProgress?: (e: UpdateProgress) => void;
  readonly now?: () => Date;
}

export interface UpdateProgress {
  readonly feed: string;
  readonly phase: 'download' | 'import' | 'done';
  readonly status?: FeedChange['status'];
}

export interface RecordCounts {
  readonly advisories: number;
  readonly kev: number;
  readonly epss: number;
}

export interface FeedChange {
  /** `sources.name`: osv:npm, debian-tracker, alpine:v3.20/main, kev, epss. */
  readonly name: string;
  readonly kind: FeedFormat;
  readonly url: string;
  readonly status: 'unchanged' | 'updated' | 'failed' | 'skipped';
  /** not-modified (304), same-checksum, no-changes (modified_id.csv), full, incremental. */
  readonly how: 'not-modified' | 'same-checksum' | 'no-changes' | 'full' | 'incremental' | null;
  readonly reason: string | null;
  readonly before: RecordCounts | null;
  readonly after: RecordCounts | null;
  readonly delta: RecordCounts;
  /** Incremental updates: records fetched / removed (withdrawn). */
  readonly changedRecords: number;
  readonly bytes: number;
  readonly withdrawn: number;
  readonly invalid: number;
  readonly ms: number;
}

export interface UpdateResult {
  readonly dbPath: string;
  /** True when a new database was renamed over the old one. */
  readonly swapped: boolean;
  /** False when any feed failed. */
  readonly ok: boolean;
  readonly feeds: readonly FeedChange[];
  readonly ms: number;
}

const MIN_BYTES: Readonly<Record<FeedFormat, number>> = {
  osv: 512,
  'debian-tracker': 64 << 10,
  'debian-dsa': 1 << 10,
  'debian-dla': 1 << 10,
  'alpine-secdb': 64,
  kev: 4 << 10,
  epss: 1 << 10,
  csaf: 1 << 10,
  'nodejs-security-wg': 1 << 10,
  'json-schema': 0,
};

type Location = { readonly kind: 'http'; readonly url: string } | { readonly kind: 'file'; readonly path: string };

function describeLocation(l: Location): string {
  return l.kind === 'http' ? l.url : l.path;
}

function locate(mirror: string | undefined, rel: string, origin: string): Location {
  if (mirror === undefined) return { kind: 'http', url: origin };
  if (/^https?:\/\//i.test(mirror)) return { kind: 'http', url: `${mirror.replace(/\/+$/, '')}/${rel.split('/').map(encodeURIComponent).join('/')}` };
  const dir = mirror.startsWith('file://') ? new URL(mirror).pathname : mirror;
  return { kind: 'file', path: join(resolvePath(dir), ...rel.split('/')) };
}

interface FeedSpec {
  readonly name: string;
  readonly kind: FeedFormat;
  readonly location: Location;
  /** osv.dev incremental support. */
  readonly osv?: { readonly modifiedIds: Location; readonly record: (id: string) => Location };
}

function feedSpecs(o: UpdateOptions): FeedSpec[] {
  const origins: FeedOrigins = { ...DEFAULT_ORIGINS, ...o.origins };
  const sel = o.feeds ?? {};
  const on = (k: keyof FeedSelection): boolean => sel[k] ?? true;
  const specs: FeedSpec[] = [];
  const m = o.mirror;
  if (on('osv')) {
    for (const eco of o.osvEcosystems ?? DEFAULT_OSV_ECOSYSTEMS) {
      const base = `${origins.osv.replace(/\/+$/, '')}/${encodeURIComponent(eco)}`;
      specs.push({
        name: `osv:${eco}`,
        kind: 'osv',
        location: locate(m, MIRROR_LAYOUT.osvZip(eco), `${base}/all.zip`),
        osv: {
          modifiedIds: locate(m, MIRROR_LAYOUT.osvModifiedIds(eco), `${base}/modified_id.csv`),
          record: (id) => locate(m, MIRROR_LAYOUT.osvRecord(eco, id), `${base}/${encodeURIComponent(id)}.json`),
        },
      });
    }
  }
  if (on('debian')) specs.push({ name: 'debian-tracker', kind: 'debian-tracker', location: locate(m, MIRROR_LAYOUT.debianTracker, origins.debianTracker) });
  if (on('alpine')) {
    for (const branch of o.alpineBranches ?? DEFAULT_ALPINE_BRANCHES) {
      for (const repo of o.alpineRepos ?? DEFAULT_ALPINE_REPOS) {
        specs.push({
          name: `alpine:${branch}/${repo}`,
          kind: 'alpine-secdb',
          location: locate(m, MIRROR_LAYOUT.alpine(branch, repo), `${origins.alpine.replace(/\/+$/, '')}/${branch}/${repo}.json`),
        });
      }
    }
  }
  if (on('kev')) specs.push({ name: 'kev', kind: 'kev', location: locate(m, MIRROR_LAYOUT.kev, origins.kev) });
  if (on('epss')) specs.push({ name: 'epss', kind: 'epss', location: locate(m, MIRROR_LAYOUT.epss, origins.epss) });
  return specs;
}

// ---------------------------------------------------------------------------------------------------------------
// Downloads

interface Conditional {
  readonly etag: string | null;
  readonly lastModified: string | null;
}

type Download =
  | { readonly status: 'not-modified' }
  | { readonly status: 'ok'; readonly file: string; readonly bytes: number; readonly sha256: string; readonly etag: string | null; readonly lastModified: string | null };

interface DownloadLimits {
  readonly minBytes: number;
  readonly maxBytes: number;
  readonly timeoutMs: number;
}

/** Counts and hashes bytes on their way to disk; refuses more than `max`. */
class Meter extends Transform {
  bytes = 0;
  readonly sha256 = createHash('sha256');
  readonly md5 = createHash('md5');
  constructor(private readonly max: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.bytes > this.max) {
      cb(new VulnDbError('FEED_FAILED', `download exceeds ${this.max} bytes (limit)`));
      return;
    }
    this.sha256.update(chunk);
    this.md5.update(chunk);
    cb(null, chunk);
  }
}

function feedError(what: string, message: string, cause?: unknown): VulnDbError {
  return new VulnDbError('FEED_FAILED', `${what}: ${message}`, cause === undefined ? undefined : { cause });
}

function requestSignal(signal: AbortSignal | undefined, timeoutMs: number): AbortSignal {
  const timeout = AbortSignal.timeout(timeoutMs);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

/** A `.sha256` next to a mirrored file (`<hex>  <name>` or just `<hex>`); null when the mirror has none. */
async function mirrorChecksum(loc: Location, signal: AbortSignal): Promise<string | null> {
  let text: string | null = null;
  if (loc.kind === 'file') {
    text = existsSync(`${loc.path}.sha256`) ? await readFile(`${loc.path}.sha256`, 'utf8') : null;
  } else {
    const res = await fetch(`${loc.url}.sha256`, { signal, headers: { 'user-agent': `tally/${TOOL_VERSION}` } }).catch(() => null);
    if (res?.ok) text = (await res.text()).slice(0, 1000);
    else await res?.body?.cancel();
  }
  const hex = text?.trim().split(/\s+/)[0]?.toLowerCase() ?? null;
  return hex !== null && /^[0-9a-f]{64}$/.test(hex) ? hex : null;
}

async function download(loc: Location, dest: string, cond: Conditional, limits: DownloadLimits, mirrored: boolean, signal: AbortSignal | undefined): Promise<Download> {
  const what = describeLocation(loc);
  const sig = requestSignal(signal, limits.timeoutMs);
  const meter = new Meter(limits.maxBytes);
  let etag: string | null = null;
  let lastModified: string | null = null;
  let expected: number | null = null;
  let googMd5: string | null = null;
  try {
    if (loc.kind === 'file') {
      const st = await stat(loc.path).catch((err: unknown) => {
        throw feedError(what, 'not found in the mirror', err);
      });
      // A local mirror's validator: size and mtime, compared like an ETag.
      etag = `"${st.size}-${Math.trunc(st.mtimeMs)}"`;
      if (cond.etag === etag) return { status: 'not-modified' };
      expected = st.size;
      await pipeline(createReadStream(loc.path), meter, createWriteStream(dest), { signal: sig });
    } else {
      const headers: Record<string, string> = { 'user-agent': `tally/${TOOL_VERSION}` };
      if (cond.etag) headers['if-none-match'] = cond.etag;
      if (cond.lastModified) headers['if-modified-since'] = cond.lastModified;
      const res = await fetch(loc.url, { headers, signal: sig, redirect: 'follow' });
      if (res.status === 304) {
        await res.body?.cancel();
        return { status: 'not-modified' };
      }
      if (!res.ok || res.body === null) {
        await res.body?.cancel();
        throw feedError(what, `HTTP ${res.status} ${res.statusText}`);
      }
      etag = res.headers.get('etag');
      lastModified = res.headers.get('last-modified');
      // With Content-Encoding, fetch hands over decoded bytes: the length and the stored-object hash then describe
      // something else, so they are only checked for identity-encoded bodies.
      const encoded = (res.headers.get('content-encoding') ?? 'identity') !== 'identity';
      const len = Number(res.headers.get('content-length') ?? NaN);
      if (!encoded && Number.isSafeInteger(len)) {
        if (len > limits.maxBytes) {
          await res.body.cancel();
          throw feedError(what, `Content-Length ${len} exceeds the ${limits.maxBytes}-byte limit`);
        }
        expected = len;
      }
      if (!encoded) googMd5 = /(?:^|,)\s*md5=([A-Za-z0-9+/=]+)/.exec(res.headers.get('x-goog-hash') ?? '')?.[1] ?? null;
      await pipeline(Readable.fromWeb(res.body as WebReadableStream<Uint8Array>), meter, createWriteStream(dest), { signal: sig });
    }
  } catch (err) {
    await rm(dest, { force: true });
    if (signal?.aborted) throw new VulnDbError('ABORTED', 'aborted', { cause: signal.reason });
    if (isVulnDbError(err)) throw err.message.startsWith(what) ? err : feedError(what, err.message, err);
    if (sig.aborted) throw feedError(what, `timed out after ${limits.timeoutMs} ms`, err);
    throw feedError(what, `download failed (${describeError(err)})`, err);
  }
  const sha256 = meter.sha256.digest('hex');
  const fail = async (message: string): Promise<never> => {
    await rm(dest, { force: true });
    throw feedError(what, message);
  };
  if (expected !== null && meter.bytes !== expected) await fail(`truncated: received ${meter.bytes} of ${expected} bytes`);
  if (meter.bytes < limits.minBytes) await fail(`only ${meter.bytes} bytes (expected at least ${limits.minBytes}): refusing a suspiciously small feed`);
  if (googMd5 !== null && meter.md5.digest('base64') !== googMd5) await fail('MD5 does not match x-goog-hash');
  if (mirrored) {
    const published = await mirrorChecksum(loc, requestSignal(signal, limits.timeoutMs));
    if (published !== null && published !== sha256) await fail('SHA-256 does not match the mirror\'s .sha256 file');
  }
  return { status: 'ok', file: dest, bytes: meter.bytes, sha256, etag, lastModified };
}

// ---------------------------------------------------------------------------------------------------------------
// osv.dev incremental updates

interface ModifiedIds {
  /** Newest timestamp in the listing (the next cursor). */
  readonly newest: string | null;
  /** Ids modified after the cursor; null when there are more than the limit. */
  readonly changed: string[] | null;
}

/**
 * Read `modified_id.csv` ("<RFC 3339 modified>,<id>", newest first) until the cursor; stops reading as soon as it
 * is passed, so a large listing costs only its head.
 */
async function readModifiedIds(loc: Location, cursor: string | null, max: number, limits: DownloadLimits, signal: AbortSignal | undefined): Promise<ModifiedIds | null> {
  const cursorMs = cursor === null ? null : Date.parse(cursor);
  const sig = requestSignal(signal, limits.timeoutMs);
  let body: AsyncIterable<Buffer>;
  let cancel: () => Promise<void>;
  if (loc.kind === 'file') {
    if (!existsSync(loc.path)) return null;
    const s = createReadStream(loc.path);
    body = s;
    cancel = async () => {
      s.destroy();
    };
  } else {
    const res = await fetch(loc.url, { signal: sig, headers: { 'user-agent': `tally/${TOOL_VERSION}` } }).catch(() => null);
    if (!res?.ok || res.body === null) {
      await res?.body?.cancel();
      return null;
    }
    const r = Readable.fromWeb(res.body as WebReadableStream<Uint8Array>);
    body = r;
    cancel = async () => {
      r.destroy();
    };
  }
  let newest: string | null = null;
  let newestMs = -Infinity;
  const changed: string[] = [];
  try {
    for await (const line of lines(body, 4096)) {
      const text = line.text?.trim() ?? '';
      if (text === '') continue;
      const comma = text.indexOf(',');
      const ts = comma > 0 ? text.slice(0, comma) : '';
      const id = comma > 0 ? text.slice(comma + 1).trim() : '';
      const ms = Date.parse(ts);
      if (!Number.isFinite(ms) || !/^[A-Za-z][A-Za-z0-9._:-]{1,127}$/.test(id)) continue; // a header or junk line
      if (ms > newestMs) {
        newestMs = ms;
        newest = ts;
      }
      if (cursorMs === null || !Number.isFinite(cursorMs)) break; // no cursor: only the newest timestamp is needed
      if (ms <= cursorMs) break; // sorted newest first: everything below is already imported
      if (changed.length >= max) return { newest, changed: null };
      changed.push(id);
    }
  } catch (err) {
    if (signal?.aborted) throw new VulnDbError('ABORTED', 'aborted', { cause: signal.reason });
    return null;
  } finally {
    await cancel();
  }
  return { newest, changed };
}

// ---------------------------------------------------------------------------------------------------------------
// The update

function countsOf(s: SourceRow | null): RecordCounts | null {
  return s ? { advisories: s.advisories, kev: s.kev, epss: s.epss } : null;
}

function deltaOf(before: RecordCounts | null, after: RecordCounts | null): RecordCounts {
  return {
    advisories: (after?.advisories ?? 0) - (before?.advisories ?? 0),
    kev: (after?.kev ?? 0) - (before?.kev ?? 0),
    epss: (after?.epss ?? 0) - (before?.epss ?? 0),
  };
}

function total(c: RecordCounts | null): number {
  return c ? c.advisories + c.kev + c.epss : 0;
}

export async function updateVulnDb(options: UpdateOptions): Promise<UpdateResult> {
  const t0 = performance.now();
  const dbPath = options.dbPath ?? (options.cacheDir !== undefined ? vulndbPath(options.cacheDir) : null);
  if (dbPath === null) throw new VulnDbError('FEED_FAILED', 'updateVulnDb needs cacheDir or dbPath');
  const signal = options.signal;
  throwIfAborted(signal);
  const specs = feedSpecs(options);
  const limitsFor = (kind: FeedFormat): DownloadLimits => ({
    minBytes: options.limits?.minBytes?.[kind] ?? MIN_BYTES[kind],
    maxBytes: options.limits?.maxBytes ?? 4 * 1024 ** 3,
    timeoutMs: options.limits?.timeoutMs ?? 30 * 60_000,
  });
  const mirrored = options.mirror !== undefined;
  const incremental = options.incremental ?? true;
  const maxIncremental = options.maxIncrementalRecords ?? 2000;
  const shrinkGuard = options.shrinkGuard ?? 0.5;

  const writer = VulnDbWriter.beginSwap(dbPath, { fresh: options.fresh ?? false, ...(options.now ? { now: options.now } : {}) });
  const downloads = join(dirname(dbPath), `downloads-${process.pid}-${randomBytes(4).toString('hex')}`);
  const changes: FeedChange[] = [];
  let committed = false;
  try {
    await mkdir(downloads, { recursive: true });
    let failed = false;
    for (const [i, spec] of specs.entries()) {
      throwIfAborted(signal);
      const started = performance.now();
      const prev = writer.source(spec.name);
      const before = countsOf(prev);
      const base = { name: spec.name, kind: spec.kind, url: describeLocation(spec.location), before };
      const done = (c: FeedChange): void => {
        changes.push(c);
        options.onProgress?.({ feed: spec.name, phase: 'done', status: c.status });
      };
      if (failed && !(options.allowPartial ?? false)) {
        done({ ...base, status: 'skipped', how: null, reason: 'an earlier feed failed', after: before, delta: deltaOf(before, before), changedRecords: 0, bytes: 0, withdrawn: 0, invalid: 0, ms: 0 });
        continue;
      }
      const limits = limitsFor(spec.kind);
      try {
        options.onProgress?.({ feed: spec.name, phase: 'download' });
        // osv.dev: read the head of modified_id.csv first. Taken BEFORE the zip, so a cursor never runs ahead of
        // the data it stands for.
        let listing: ModifiedIds | null = null;
        if (spec.osv && incremental) listing = await readModifiedIds(spec.osv.modifiedIds, prev?.cursor ?? null, maxIncremental, limits, signal);
        if (spec.osv && listing && prev && prev.cursor !== null && listing.changed !== null) {
          if (listing.changed.length === 0) {
            done({ ...base, status: 'unchanged', how: 'no-changes', reason: null, after: before, delta: deltaOf(before, before), changedRecords: 0, bytes: 0, withdrawn: 0, invalid: 0, ms: Math.round(performance.now() - started) });
            continue;
          }
          const r = await incrementalOsv(writer, spec, prev, listing, downloads, limits, signal);
          const after = countsOf(writer.source(spec.name));
          done({ ...base, status: 'updated', how: 'incremental', reason: null, after, delta: deltaOf(before, after), changedRecords: r.changed, bytes: r.bytes, withdrawn: r.withdrawn, invalid: r.invalid, ms: Math.round(performance.now() - started) });
          continue;
        }
        const dest = join(downloads, `${i}.download`);
        const d = await download(spec.location, dest, { etag: prev?.etag ?? null, lastModified: prev?.lastModified ?? null }, limits, mirrored, signal);
        if (d.status === 'not-modified') {
          done({ ...base, status: 'unchanged', how: 'not-modified', reason: null, after: before, delta: deltaOf(before, before), changedRecords: 0, bytes: 0, withdrawn: 0, invalid: 0, ms: Math.round(performance.now() - started) });
          continue;
        }
        if (prev !== null && prev.sha256 === d.sha256) {
          writer.touchSource(spec.name, { etag: d.etag, lastModified: d.lastModified });
          await rm(d.file, { force: true });
          done({ ...base, status: 'unchanged', how: 'same-checksum', reason: null, after: before, delta: deltaOf(before, before), changedRecords: 0, bytes: d.bytes, withdrawn: 0, invalid: 0, ms: Math.round(performance.now() - started) });
          continue;
        }
        options.onProgress?.({ feed: spec.name, phase: 'import' });
        const minRecords = shrinkGuard > 0 && before !== null && total(before) >= 50 ? Math.ceil(total(before) * shrinkGuard) : 0;
        const imported: FileImport = await importFile(writer, d.file, {
          sourceName: spec.name,
          origin: describeLocation(spec.location),
          expect: spec.kind,
          facts: { etag: d.etag, lastModified: d.lastModified, sha256: d.sha256, sizeBytes: d.bytes },
          minRecords,
          cursor: listing?.newest ?? null,
          ...(signal ? { signal } : {}),
        });
        await rm(d.file, { force: true });
        if (imported.status !== 'imported') throw feedError(describeLocation(spec.location), imported.reason ?? imported.status);
        const after = countsOf(writer.source(spec.name));
        done({ ...base, status: 'updated', how: 'full', reason: null, after, delta: deltaOf(before, after), changedRecords: 0, bytes: d.bytes, withdrawn: imported.withdrawn, invalid: imported.invalid, ms: Math.round(performance.now() - started) });
      } catch (err) {
        if (isVulnDbError(err) && err.code === 'ABORTED') throw err;
        if (signal?.aborted) throw new VulnDbError('ABORTED', 'aborted', { cause: signal.reason });
        failed = true;
        done({ ...base, status: 'failed', how: null, reason: describeError(err), after: before, delta: deltaOf(before, before), changedRecords: 0, bytes: 0, withdrawn: 0, invalid: 0, ms: Math.round(performance.now() - started) });
      }
    }
    const anyUpdated = changes.some((c) => c.status === 'updated');
    const ok = !changes.some((c) => c.status === 'failed');
    throwIfAborted(signal);
    if (anyUpdated && (ok || (options.allowPartial ?? false))) {
      writer.commit();
      committed = true;
    } else writer.abort();
    return { dbPath, swapped: committed, ok, feeds: changes, ms: Math.round(performance.now() - t0) };
  } catch (err) {
    if (!committed) writer.abort();
    throw err;
  } finally {
    await rm(downloads, { recursive: true, force: true });
  }
}

async function incrementalOsv(
  writer: VulnDbWriter,
  spec: FeedSpec,
  prev: SourceRow,
  listing: ModifiedIds,
  downloads: string,
  limits: DownloadLimits,
  signal: AbortSignal | undefined,
): Promise<{ changed: number; bytes: number; withdrawn: number; invalid: number }> {
  const osv = spec.osv;
  const ids = listing.changed ?? [];
  if (!osv) throw new Error('not an osv feed');
  // Fetch every changed record first (a few at a time), then apply them in one transaction.
  const files = new Map<string, string>();
  let bytes = 0;
  let n = 0;
  await eachLimit(ids, 8, async (id) => {
    throwIfAborted(signal);
    const dest = join(downloads, `rec-${(n += 1)}.json`);
    const d = await download(osv.record(id), dest, { etag: null, lastModified: null }, { ...limits, minBytes: 2 }, false, signal);
    if (d.status === 'ok') {
      files.set(id, d.file);
      bytes += d.bytes;
    }
  });
  const r = await writer.importSource(
    { name: spec.name, kind: 'osv', origin: prev.origin, etag: prev.etag, lastModified: prev.lastModified, sha256: prev.sha256, sizeBytes: prev.sizeBytes },
    'merge',
    async (sink) => {
      for (const id of ids) {
        const file = files.get(id);
        if (file === undefined) continue;
        let v: unknown;
        try {
          v = JSON.parse(await readFile(file, 'utf8'));
        } catch (err) {
          sink.skip({ skip: 'invalid', reason: `${id}: malformed JSON (${describeError(err).slice(0, 80)})`, id });
          continue;
        }
        const p = parseOsv(v);
        if (isSkipped(p)) {
          sink.skip(p);
          // A withdrawn record leaves the database; other skips keep whatever was there.
          if (p.skip === 'withdrawn') sink.remove(id);
          continue;
        }
        sink.advisory(p.key, p.advisory);
      }
      sink.cursor = listing.newest;
      return null;
    },
  );
  return { changed: ids.length, bytes, withdrawn: r.counts.withdrawn, invalid: r.counts.invalid };
}

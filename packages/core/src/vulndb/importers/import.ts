/**
 * `tally db import PATH`: import a file, a directory (recursively), a zip or a .gz, recognising each file's format
 * by its CONTENT, never by its name:
 *
 *   gzip magic                                  → decompress, then look again
 *   zip magic                                   → each entry (osv.dev all.zip: one OSV record per entry)
 *   `{ "pkg": { "CVE-…": {`                     → Debian security tracker JSON (streamed per package)
 *   first line is a JSON object or array        → JSON lines; each line classified (OSV, Alpine secdb document, CSAF, …)
 *   `[` …                                       → JSON array, streamed per element
 *   `{` … (a multi-line document)               → one document: OSV record, KEV catalog, Alpine secdb, CSAF, …
 *   `#model_version…` / `cve,epss,percentile`   → EPSS CSV
 *   `[DD Mon YYYY] DSA-…` / `DLA-…`             → Debian DSA/DLA list
 *   JSON Schema documents                        → skipped (not data)
 *
 * Each file becomes one source (`file:<abs path>`); loose single-record OSV files of one directory together form one
 * source (`dir:<abs dir>`). A file imports inside one transaction: a file that cannot be read (truncated gzip,
 * broken JSON structure) rolls back alone and is reported as failed; bad records inside a readable file are counted
 * and skipped. Nothing aborts the whole import except the abort signal.
 */
import { createReadStream } from 'node:fs';
import { lstat, readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { isObject } from '../../util/json.js';
import { forEachJsonPiece } from '../../util/json-stream.js';
import { VulnDbError, describeError, throwIfAborted } from '../errors.js';
import type { SourceSink, SourceSpec, VulnDbWriter, ImportMode } from '../store.js';
import { looksLikeAlpineSecdb, parseAlpineSecdb } from './alpine-secdb.js';
import { Peekable, firstNonSpace, gunzip, isGzip, isZip, lines, readAll } from './bytes.js';
import { looksLikeCsaf, parseCsaf } from './csaf.js';
import { DebianListParser, looksLikeDebianList } from './debian-list.js';
import { looksLikeDebianTracker, parseDebianTrackerPackage } from './debian-tracker.js';
import { EpssParser, looksLikeEpss } from './epss.js';
import { looksLikeKev, parseKev } from './kev.js';
import { looksLikeNswg, parseNswg } from './nswg.js';
import { looksLikeOsv, parseOsv } from './osv.js';
import { isSkipped, skip, type Parsed, type Skip } from './types.js';
import { zipEntries } from './zip.js';

export type FeedFormat =
  | 'osv'
  | 'debian-tracker'
  | 'debian-dsa'
  | 'debian-dla'
  | 'alpine-secdb'
  | 'kev'
  | 'epss'
  | 'csaf'
  | 'nodejs-security-wg'
  | 'json-schema';

/** How the records were packed: outermost first (`['gzip', 'ndjson']`). */
export type Container = 'gzip' | 'zip' | 'ndjson' | 'json' | 'json-array' | 'text' | 'directory';

export interface ImportLimits {
  /** One NDJSON/CSV/list line. */
  readonly maxLineBytes: number;
  /** A whole JSON document read at once (KEV catalog, one OSV file, one CSAF document). */
  readonly maxDocumentBytes: number;
  /** One package of the streamed Debian tracker document. */
  readonly maxTrackerEntryBytes: number;
  /** Output of one gzip stream. */
  readonly maxDecompressedBytes: number;
  readonly maxZipEntries: number;
  readonly maxZipEntryBytes: number;
  readonly maxZipTotalBytes: number;
  readonly maxZipRatio: number;
  /** Loose .json files up to this size are candidates for a directory's OSV group. */
  readonly maxLooseJsonBytes: number;
}

export const DEFAULT_IMPORT_LIMITS: ImportLimits = {
  maxLineBytes: 32 << 20,
  maxDocumentBytes: 512 << 20,
  maxTrackerEntryBytes: 64 << 20,
  maxDecompressedBytes: 4 * 1024 ** 3,
  maxZipEntries: 2_000_000,
  maxZipEntryBytes: 32 << 20,
  maxZipTotalBytes: 16 * 1024 ** 3,
  maxZipRatio: 1000,
  maxLooseJsonBytes: 8 << 20,
};

const PEEK_BYTES = 64 << 10;

export interface FileImport {
  /** The file, or the directory for a group of loose OSV files. */
  readonly path: string;
  readonly status: 'imported' | 'skipped' | 'failed' | 'unrecognised';
  readonly format: FeedFormat | null;
  readonly container: readonly Container[];
  /** The `sources.name` written; null when nothing was. */
  readonly source: string | null;
  /** Advisories + KEV + EPSS rows written. */
  readonly imported: number;
  /** Records listed more than once in the file (kept once, the newest). */
  readonly duplicates: number;
  readonly withdrawn: number;
  readonly invalid: number;
  readonly ignored: number;
  /** The first skipped records, with their reasons. */
  readonly reasons: readonly Skip[];
  /** Skipped records per reason. */
  readonly reasonCounts: Readonly<Record<string, number>>;
  /** Why a file was skipped, failed or not recognised. */
  readonly reason: string | null;
  /** Files in a directory group. */
  readonly files: number;
  readonly ms: number;
}

export interface ImportSummary {
  readonly files: readonly FileImport[];
  readonly totals: {
    readonly imported: number;
    readonly withdrawn: number;
    readonly invalid: number;
    readonly ignored: number;
    readonly filesImported: number;
    readonly filesSkipped: number;
    readonly filesFailed: number;
    readonly filesUnrecognised: number;
  };
  readonly ms: number;
}

export interface ImportOptions {
  readonly signal?: AbortSignal;
  readonly limits?: Partial<ImportLimits>;
  /** Called after each file (progress output). */
  readonly onFile?: (f: FileImport) => void;
}

export interface ImportFileOptions extends ImportOptions {
  /** `sources.name` to write (default `file:<abs path>`). */
  readonly sourceName?: string;
  /** `sources.origin` (default the path). */
  readonly origin?: string;
  /** Conditional-update facts recorded with the source (feeds). */
  readonly facts?: Pick<SourceSpec, 'etag' | 'lastModified' | 'sha256' | 'sizeBytes'>;
  /** Fail unless the content is this format (feeds: a mirror that serves an HTML error page must not import). */
  readonly expect?: FeedFormat;
  readonly mode?: ImportMode;
  /** Roll back unless at least this many records were written (feeds: refuse a feed that shrank absurdly). */
  readonly minRecords?: number;
  /** Incremental cursor to record with the source (osv.dev: newest modified_id.csv timestamp). */
  readonly cursor?: string | null;
}

/** Raised inside an import to roll it back and report the file as skipped or unrecognised (not failed). */
class NotImported extends Error {
  constructor(
    readonly status: 'skipped' | 'unrecognised',
    readonly format: FeedFormat | null,
    readonly container: readonly Container[],
    reason: string,
  ) {
    super(reason);
  }
}

type ValueKind = FeedFormat | 'debian-tracker-doc' | 'unknown';

/** What a parsed JSON value is. */
export function classifyJson(v: unknown): ValueKind {
  if (!isObject(v)) return 'unknown';
  if (looksLikeOsv(v)) return 'osv';
  if (looksLikeAlpineSecdb(v)) return 'alpine-secdb';
  if (looksLikeKev(v)) return 'kev';
  if (looksLikeCsaf(v)) return 'csaf';
  if (looksLikeNswg(v)) return 'nodejs-security-wg';
  if (typeof v['$schema'] === 'string' && ('properties' in v || '$defs' in v || 'definitions' in v || 'type' in v)) return 'json-schema';
  // A small tracker document the byte-level test did not see (keys in another order): values are CVE maps.
  const first = Object.values(v)[0];
  if (isObject(first) && Object.keys(first).some((k) => /^(CVE-\d{4}-\d+|TEMP-\d+-[0-9A-Fa-f]+)$/.test(k))) return 'debian-tracker-doc';
  return 'unknown';
}

function describeShape(v: unknown): string {
  if (Array.isArray(v)) return 'a JSON array';
  if (!isObject(v)) return `a JSON ${v === null ? 'null' : typeof v}`;
  const keys = Object.keys(v).slice(0, 6).map((k) => JSON.stringify(k.slice(0, 40)));
  return `a JSON object with keys ${keys.join(', ')}`;
}

const FORMAT_OF_KIND: Readonly<Record<Exclude<ValueKind, 'unknown'>, FeedFormat>> = {
  osv: 'osv',
  'alpine-secdb': 'alpine-secdb',
  kev: 'kev',
  csaf: 'csaf',
  'nodejs-security-wg': 'nodejs-security-wg',
  'json-schema': 'json-schema',
  'debian-tracker': 'debian-tracker',
  'debian-tracker-doc': 'debian-tracker',
  'debian-dsa': 'debian-dsa',
  'debian-dla': 'debian-dla',
  epss: 'epss',
};

/** Per-file import state: the sink plus the format decided by the first record. */
class Run {
  format: FeedFormat | null = null;
  container: Container[] = [];
  constructor(
    readonly sink: SourceSink,
    readonly limits: ImportLimits,
    readonly signal: AbortSignal | undefined,
    readonly filePath: string | null,
    readonly expect: FeedFormat | undefined,
  ) {}

  setFormat(f: FeedFormat): void {
    if (this.format !== null) return;
    if (f === 'json-schema') throw new NotImported('skipped', f, this.container, 'a JSON Schema document, not advisory data');
    if (this.expect !== undefined && f !== this.expect) throw new Error(`expected ${this.expect} content, found ${f}`);
    this.format = f;
  }

  put(p: Parsed): void {
    if (isSkipped(p)) this.sink.skip(p);
    else this.sink.advisory(p.key, p.advisory);
  }

  /** One parsed JSON value (a document, a line, an array element, a zip entry). */
  value(v: unknown, where: string): void {
    const kind = classifyJson(v);
    if (kind === 'unknown') {
      if (this.format === null) throw new NotImported('unrecognised', null, this.container, `${where}: ${describeShape(v)}, not a known feed format`);
      this.sink.skip(skip('invalid', `${where}: record of unknown shape (${describeShape(v)})`));
      return;
    }
    this.setFormat(FORMAT_OF_KIND[kind]);
    switch (kind) {
      case 'osv':
        this.put(parseOsv(v));
        return;
      case 'alpine-secdb':
        for (const p of parseAlpineSecdb(v)) this.put(p);
        return;
      case 'kev': {
        const doc = parseKev(v);
        if (doc.catalogVersion) this.sink.dataAsOf = doc.catalogVersion;
        for (const e of doc.entries) {
          if ('skip' in e) this.sink.skip(e);
          else this.sink.kev(e);
        }
        return;
      }
      case 'csaf':
        for (const p of parseCsaf(v)) this.put(p);
        return;
      case 'nodejs-security-wg':
        this.put(parseNswg(v));
        return;
      case 'debian-tracker-doc':
        if (isObject(v)) for (const [pkg, value] of Object.entries(v)) for (const p of parseDebianTrackerPackage(pkg, value)) this.put(p);
        return;
      case 'json-schema':
      case 'debian-tracker':
      case 'debian-dsa':
      case 'debian-dla':
      case 'epss':
        this.sink.skip(skip('invalid', `${where}: unexpected ${kind} record here`));
        return;
    }
  }

  check(): void {
    throwIfAborted(this.signal);
  }
}

function parseJsonText(text: string, where: string, run: Run): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    run.sink.skip(skip('invalid', `${where}: malformed JSON (${describeError(err).slice(0, 80)})`));
    return undefined;
  }
}

/**
 * The first line of the stream (from `start`), peeking further as needed up to `max` bytes: NDJSON lines can be far
 * longer than the detection window (a CSAF document per line is half a megabyte). Null when no newline within `max`.
 */
async function firstLineOf(content: Peekable, start: number, max: number): Promise<string | null> {
  let size = PEEK_BYTES;
  for (;;) {
    const buf = await content.peek(size);
    const nl = buf.indexOf(0x0a, start);
    if (nl >= 0) return buf.toString('utf8', start, nl);
    if (buf.length < size) return buf.toString('utf8', start); // the whole stream is one line
    if (size >= max) return null;
    size = Math.min(size * 4, max);
  }
}

/** Import the records of one byte stream into the run's sink. `depth` bounds gzip-in-gzip nesting. */
async function importContent(content: Peekable, run: Run, depth: number): Promise<void> {
  const head = await content.peek(PEEK_BYTES);
  if (isGzip(head)) {
    if (depth >= 2) throw new NotImported('unrecognised', null, run.container, 'gzip nested more than twice');
    run.container.push('gzip');
    await importContent(new Peekable(gunzip(content, run.limits.maxDecompressedBytes)), run, depth + 1);
    return;
  }
  if (isZip(head)) {
    await content.close();
    if (run.filePath === null || depth > 0) throw new NotImported('unrecognised', null, run.container, 'a zip inside a compressed stream is not supported');
    run.container.push('zip');
    await importZip(run.filePath, run);
    return;
  }
  const start = firstNonSpace(head);
  if (start >= head.length) throw new NotImported('unrecognised', null, run.container, 'empty file');
  const text = head.toString('utf8', start, Math.min(head.length, start + PEEK_BYTES));
  const c = head[start];

  // Text formats first: a DSA list line starts with "[" too.
  if (looksLikeEpss(text)) {
    run.container.push('text');
    run.setFormat('epss');
    const parser = new EpssParser();
    let n = 0;
    for await (const line of lines(content, run.limits.maxLineBytes)) {
      if ((++n & 4095) === 0) run.check();
      if (line.text === null) {
        run.sink.skip(skip('invalid', `line ${line.no}: longer than ${run.limits.maxLineBytes} bytes`));
        continue;
      }
      const r = parser.line(line.text);
      if (r === null) continue;
      if ('skip' in r) run.sink.skip(r);
      else run.sink.epss(r);
    }
    run.sink.dataAsOf = parser.date;
    return;
  }

  const list = looksLikeDebianList(text);
  if (list) {
    run.container.push('text');
    run.setFormat(list === 'DSA' ? 'debian-dsa' : 'debian-dla');
    const parser = new DebianListParser(list);
    let n = 0;
    for await (const line of lines(content, run.limits.maxLineBytes)) {
      if ((++n & 4095) === 0) run.check();
      if (line.text === null) {
        run.sink.skip(skip('invalid', `line ${line.no}: longer than ${run.limits.maxLineBytes} bytes`));
        continue;
      }
      for (const p of parser.line(line.text)) run.put(p);
    }
    for (const p of parser.end()) run.put(p);
    return;
  }

  if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
    if (looksLikeDebianTracker(text)) {
      run.container.push('json');
      run.setFormat('debian-tracker');
      const max = run.limits.maxTrackerEntryBytes;
      await forEachJsonPiece(content, { document: 'the Debian tracker document', root: 'object', maxMemberBytes: max, maxElementBytes: max, oversized: 'skip' }, (e) => {
        if (e.kind !== 'member') return;
        run.check();
        const pkg = e.key;
        if (e.raw === null) {
          run.sink.skip(skip('invalid', `${pkg.slice(0, 60)}: package entry larger than ${max} bytes`));
          return;
        }
        const v = parseJsonText(e.raw.toString('utf8'), pkg.slice(0, 60), run);
        if (v !== undefined) for (const p of parseDebianTrackerPackage(pkg, v)) run.put(p);
      });
      return;
    }
    const firstLine = await firstLineOf(content, start, run.limits.maxLineBytes);
    let first: unknown;
    let firstLineParses = false;
    if (firstLine !== null) {
      try {
        first = JSON.parse(firstLine);
        firstLineParses = true;
      } catch {
        firstLineParses = false;
      }
    }
    if (firstLineParses && isObject(first)) {
      // JSON lines (or a single-line document, which is the same thing with one line).
      run.container.push('ndjson');
      let n = 0;
      for await (const line of lines(content, run.limits.maxLineBytes)) {
        if ((++n & 1023) === 0) run.check();
        if (line.text === null) {
          run.sink.skip(skip('invalid', `line ${line.no}: longer than ${run.limits.maxLineBytes} bytes`));
          continue;
        }
        if (line.text.trim() === '') continue;
        const v = parseJsonText(line.text, `line ${line.no}`, run);
        if (v !== undefined) run.value(v, `line ${line.no}`);
      }
      return;
    }
    if (c === 0x5b) {
      run.container.push('json-array');
      const max = run.limits.maxLineBytes;
      await forEachJsonPiece(content, { document: 'the JSON array', root: 'array', maxMemberBytes: max, maxElementBytes: max, oversized: 'skip' }, (e) => {
        if (e.kind !== 'element') return;
        if ((e.index & 1023) === 1023) run.check();
        if (e.raw === null) {
          run.sink.skip(skip('invalid', `element ${e.index}: larger than ${max} bytes`));
          return;
        }
        const v = parseJsonText(e.raw.toString('utf8'), `element ${e.index}`, run);
        if (v !== undefined) run.value(v, `element ${e.index}`);
      });
      return;
    }
    // One (pretty-printed) document.
    run.container.push('json');
    const buf = await readAll(content, run.limits.maxDocumentBytes);
    let doc: unknown;
    try {
      doc = JSON.parse(buf.toString('utf8'));
    } catch (err) {
      throw new Error(`invalid JSON document: ${describeError(err)}`);
    }
    run.value(doc, 'document');
    return;
  }

  await content.close();
  const binary = head.subarray(start, start + 512).includes(0);
  const firstTextLine = text.split('\n')[0]?.slice(0, 60) ?? '';
  throw new NotImported('unrecognised', null, run.container, binary ? 'binary data of an unknown format' : `text of an unknown format (starts ${JSON.stringify(firstTextLine)})`);
}

async function importZip(path: string, run: Run): Promise<void> {
  const limits = {
    maxEntries: run.limits.maxZipEntries,
    maxEntryBytes: run.limits.maxZipEntryBytes,
    maxTotalBytes: run.limits.maxZipTotalBytes,
    maxRatio: run.limits.maxZipRatio,
  };
  let n = 0;
  for await (const item of zipEntries(path, limits, run.signal)) {
    if ((++n & 1023) === 0) run.check();
    if ('skipped' in item) {
      run.sink.skip(skip('invalid', `${item.name.slice(0, 80)}: ${item.skipped}`));
      continue;
    }
    const start = firstNonSpace(item.data);
    const c = item.data[start];
    if (c !== 0x7b && c !== 0x5b) {
      run.sink.skip(skip('ignored', `${item.name.slice(0, 80)}: not a JSON entry`));
      continue;
    }
    const v = parseJsonText(item.data.toString('utf8'), item.name.slice(0, 80), run);
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const [i, x] of v.entries()) run.value(x, `${item.name.slice(0, 80)}[${i}]`);
    else run.value(v, item.name.slice(0, 80));
  }
  // An archive of nothing usable: keep it visible as unrecognised rather than an empty "imported" source.
  if (run.format === null) throw new NotImported('unrecognised', null, run.container, 'zip without any recognised record');
}

function resolveLimits(options: ImportOptions): ImportLimits {
  return { ...DEFAULT_IMPORT_LIMITS, ...options.limits };
}

function reasonRecord(m: ReadonlyMap<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of m) Object.defineProperty(out, k, { value: v, enumerable: true, writable: true, configurable: true });
  return out;
}

function emptyResult(path: string, status: FileImport['status'], format: FeedFormat | null, container: readonly Container[], reason: string, ms: number): FileImport {
  return { path, status, format, container, source: null, imported: 0, duplicates: 0, withdrawn: 0, invalid: 0, ignored: 0, reasons: [], reasonCounts: {}, reason, files: 1, ms };
}

/** Import one file as one source. Never throws for bad content (the result says why); throws only on abort. */
export async function importFile(db: VulnDbWriter, path: string, options: ImportFileOptions = {}): Promise<FileImport> {
  const t0 = performance.now();
  const abs = resolve(path);
  const limits = resolveLimits(options);
  const state: { run: Run | null } = { run: null };
  const spec: SourceSpec = { name: options.sourceName ?? `file:${abs}`, kind: options.expect ?? 'unknown', origin: options.origin ?? abs, ...options.facts };
  try {
    throwIfAborted(options.signal);
    const r = await db.importSource(spec, options.mode ?? 'replace', async (sink) => {
      const run = new Run(sink, limits, options.signal, abs, options.expect);
      state.run = run;
      await importContent(new Peekable(createReadStream(abs, { highWaterMark: 256 << 10 })), run, 0);
      if (run.format === null) throw new NotImported('unrecognised', null, run.container, 'no records');
      const written = sink.counts.advisories + sink.counts.kev + sink.counts.epss;
      if (options.minRecords !== undefined && written < options.minRecords) {
        throw new Error(`only ${written} records, fewer than ${options.minRecords} (half of the previous import): refusing a feed that shrank`);
      }
      if (options.cursor !== undefined && options.cursor !== null) sink.cursor = options.cursor;
      // The kind is only known now that the content has been read: record it on the source.
      sink.kind = run.format;
      return run.format;
    });
    const c = r.counts;
    return {
      path: abs,
      status: 'imported',
      format: r.value,
      container: state.run?.container ?? [],
      source: r.source.name,
      imported: c.advisories + c.kev + c.epss,
      duplicates: c.duplicates,
      withdrawn: c.withdrawn,
      invalid: c.invalid,
      ignored: c.ignored,
      reasons: r.reasons,
      reasonCounts: reasonRecord(r.reasonCounts),
      reason: null,
      files: 1,
      ms: Math.round(performance.now() - t0),
    };
  } catch (err) {
    const ms = Math.round(performance.now() - t0);
    if (err instanceof VulnDbError && err.code === 'ABORTED') throw err;
    if (options.signal?.aborted) throw new VulnDbError('ABORTED', 'aborted', { cause: options.signal.reason });
    if (err instanceof NotImported) return emptyResult(abs, err.status, err.format, err.container, err.message, ms);
    const container = state.run?.container ?? [];
    return emptyResult(abs, 'failed', state.run?.format ?? null, container, describeError(err), ms);
  }
}

interface Walked {
  readonly path: string;
  readonly size: number;
}

async function walk(root: string, out: Walked[], signal: AbortSignal | undefined): Promise<void> {
  throwIfAborted(signal);
  const entries = await readdir(root, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const p = join(root, e.name);
    if (e.isDirectory()) await walk(p, out, signal);
    else if (e.isFile()) out.push({ path: p, size: (await stat(p)).size });
    else if (e.isSymbolicLink()) {
      // Followed only to files: a symlinked directory could loop.
      const s = await stat(p).catch(() => null);
      if (s?.isFile()) out.push({ path: p, size: s.size });
    }
  }
}

/**
 * Loose single-record OSV files of one directory (an osv.dev bucket mirror, a git checkout of an advisory
 * database): one source for the directory, so ten thousand files do not make ten thousand sources. Files that turn
 * out not to be OSV are returned for individual import.
 */
async function importOsvGroup(db: VulnDbWriter, dir: string, files: readonly Walked[], options: ImportOptions): Promise<{ result: FileImport | null; leftovers: Walked[] }> {
  const t0 = performance.now();
  const leftovers: Walked[] = [];
  const limits = resolveLimits(options);
  try {
    const r = await db.importSource({ name: `dir:${dir}`, kind: 'osv', origin: dir }, 'replace', async (sink) => {
      let osv = 0;
      for (const f of files) {
        throwIfAborted(options.signal);
        let v: unknown;
        try {
          v = JSON.parse(await readFile(f.path, 'utf8'));
        } catch {
          leftovers.push(f); // reported by its own import, with the parse error
          continue;
        }
        if (classifyJson(v) !== 'osv') {
          leftovers.push(f);
          continue;
        }
        osv += 1;
        const p = parseOsv(v);
        if (isSkipped(p)) sink.skip({ ...p, reason: `${basename(f.path)}: ${p.reason}` });
        else sink.advisory(p.key, p.advisory);
      }
      if (osv === 0) throw new NotImported('unrecognised', null, ['directory'], 'no OSV files');
      return osv;
    });
    const c = r.counts;
    return {
      leftovers,
      result: {
        path: dir,
        status: 'imported',
        format: 'osv',
        container: ['directory', 'json'],
        source: r.source.name,
        imported: c.advisories,
        duplicates: c.duplicates,
        withdrawn: c.withdrawn,
        invalid: c.invalid,
        ignored: c.ignored,
        reasons: r.reasons,
        reasonCounts: reasonRecord(r.reasonCounts),
        reason: null,
        files: r.value,
        ms: Math.round(performance.now() - t0),
      },
    };
  } catch (err) {
    if (err instanceof NotImported) return { result: null, leftovers: [...files] };
    throw err;
  }
}

/**
 * Import a file, or every file under a directory. Returns a per-file summary: the detected format, records
 * imported, skipped (withdrawn / invalid / ignored) with reasons, and files not recognised with why.
 */
export async function importPath(db: VulnDbWriter, path: string, options: ImportOptions = {}): Promise<ImportSummary> {
  const t0 = performance.now();
  const abs = resolve(path);
  const info = await lstat(abs).catch((err: unknown) => {
    throw new VulnDbError('IMPORT_FAILED', `cannot read ${abs}: ${describeError(err)}`, { cause: err });
  });
  const results: FileImport[] = [];
  const report = (f: FileImport): void => {
    results.push(f);
    options.onFile?.(f);
  };
  const limits = resolveLimits(options);
  if (info.isDirectory()) {
    const files: Walked[] = [];
    await walk(abs, files, options.signal);
    // Group loose .json files per directory; the rest imports one by one.
    const byDir = new Map<string, Walked[]>();
    const singles: Walked[] = [];
    for (const f of files) {
      if (f.path.endsWith('.json') && f.size <= limits.maxLooseJsonBytes) {
        const d = f.path.slice(0, f.path.lastIndexOf('/'));
        const list = byDir.get(d) ?? [];
        list.push(f);
        byDir.set(d, list);
      } else singles.push(f);
    }
    for (const [dir, group] of byDir) {
      if (group.length < 2) {
        singles.push(...group);
        continue;
      }
      const { result, leftovers } = await importOsvGroup(db, dir, group, options);
      if (result) report(result);
      singles.push(...leftovers);
    }
    singles.sort((a, b) => (a.path < b.path ? -1 : 1));
    for (const f of singles) report(await importFile(db, f.path, options));
  } else {
    report(await importFile(db, abs, options));
  }
  const sum = (k: 'imported' | 'withdrawn' | 'invalid' | 'ignored'): number => results.reduce((n, f) => n + f[k], 0);
  const countStatus = (s: FileImport['status']): number => results.filter((f) => f.status === s).length;
  return {
    files: results,
    totals: {
      imported: sum('imported'),
      withdrawn: sum('withdrawn'),
      invalid: sum('invalid'),
      ignored: sum('ignored'),
      filesImported: countStatus('imported'),
      filesSkipped: countStatus('skipped'),
      filesFailed: countStatus('failed'),
      filesUnrecognised: countStatus('unrecognised'),
    },
    ms: Math.round(performance.now() - t0),
  };
}


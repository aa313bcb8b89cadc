/**
 * The SQLite vulnerability database (better-sqlite3): a read-only `SqliteVulnDb` for scans and a `VulnDbWriter` for
 * importers and `db update`.
 *
 * Update protocol (why it is safe under a concurrent scan):
 *  - The live file `<cacheDir>/db/tally.db` is never written in place by an update or import. A writer takes a lock
 *    file, copies the live database to `tally.db.tmp-<pid>-<rand>` (so conditional and incremental updates keep what
 *    did not change), writes there, then fsyncs and `rename()`s the copy over the live path.
 *  - A scan opens the live file read-only and keeps its file descriptor: after the rename it still reads the old
 *    inode, so one scan sees either all-old or all-new data, never a mix. New scans open the new file.
 *  - An interrupted writer (error, abort signal, kill -9) leaves the live file untouched; its temp file and lock
 *    are removed by the next writer (the owner pid is dead).
 *  - The live file is always left in rollback-journal mode (`journal_mode=DELETE`), never WAL: a `-wal`/`-shm`
 *    sidecar is named by path, so after a rename it would be applied to the wrong file. The temp file is built with
 *    an in-memory journal and `synchronous=OFF` (a crash discards it anyway); durability comes from the fsync before
 *    the rename. `VulnDbWriter.create()` (in-place, for tests and tools building a fresh file) uses WAL with
 *    `synchronous=NORMAL` while open and switches back to DELETE on close.
 */
import { closeSync, copyFileSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { openDatabase } from '../util/sqlite.js';
import { TOOL_VERSION } from '../tool.js';
import { VulnDbError, describeError } from './errors.js';
import type { Advisory, EpssEntry, KevEntry, VulnDb } from './model.js';
import { migrate, readSchemaVersion, SCHEMA_VERSION } from './schema.js';
import type { Skip, SkipCategory } from './importers/types.js';
import { pidAlive } from '../util/process.js';

export const VULNDB_FILE = 'tally.db';

/** Where the database lives inside Tally's cache directory: `<cacheDir>/db/tally.db`. */
export function vulndbPath(cacheDir: string): string {
  return join(cacheDir, 'db', VULNDB_FILE);
}

/** Where `tally serve` keeps its database inside its data directory (`tally db … --server-data DIR` writes it). */
export function serverVulnDbPath(dataDir: string): string {
  return join(dataDir, 'vulndb', VULNDB_FILE);
}

// ---------------------------------------------------------------------------------------------------------------
// Reader

export interface SqliteVulnDbOptions {
  /** Parsed advisories kept in memory (an advisory is parsed once per process however many packages it affects). */
  readonly cacheEntries?: number;
}

/**
 * Same-origin duplicates (one OSV id imported from two files) collapse to the newest `modified`, then the newest
 * row (the higher pk).
 */
function newer(a: Advisory, apk: number, b: Advisory, bpk: number): boolean {
  const am = a.modified ?? '';
  const bm = b.modified ?? '';
  return am !== bm ? am > bm : apk > bpk;
}

export class SqliteVulnDb implements VulnDb {
  readonly path: string;
  readonly schemaVersion: number;
  private readonly db: Database.Database;
  private readonly inode: number;
  private readonly cache = new Map<number, Advisory>();
  private readonly cacheEntries: number;
  private readonly stmts: {
    affecting: Database.Statement<[string, string]>;
    json: Database.Statement<[number]>;
    byId: Database.Statement<[string]>;
    byAlias: Database.Statement<[string]>;
    kev: Database.Statement<[string]>;
    epss: Database.Statement<[string]>;
  };

  private constructor(path: string, db: Database.Database, inode: number, schemaVersion: number, options: SqliteVulnDbOptions) {
    this.path = path;
    this.db = db;
    this.inode = inode;
    this.schemaVersion = schemaVersion;
    this.cacheEntries = options.cacheEntries ?? 50_000;
    this.stmts = {
      // Only the advisory keys, straight from the covering primary key: parsed advisories come from the cache.
      affecting: db.prepare(`SELECT advisory FROM affected WHERE ecosystem = ? AND package = ?`).pluck(),
      json: db.prepare(`SELECT json FROM advisories WHERE pk = ?`).pluck(),
      byId: db.prepare(`SELECT pk FROM advisories WHERE id = ? ORDER BY pk`).pluck(),
      byAlias: db.prepare(`SELECT DISTINCT advisory FROM aliases WHERE alias = ? ORDER BY advisory`).pluck(),
      kev: db.prepare(`SELECT cve, date_added, due_date, ransomware FROM kev WHERE cve = ?`),
      epss: db.prepare(`SELECT cve, score, percentile, date FROM epss WHERE cve = ?`),
    };
  }

  /**
   * Open read-only. Throws VulnDbError VULNDB_NOT_FOUND (no file), VULNDB_CORRUPT (not a Tally database) or
   * VULNDB_SCHEMA (a schema version this build does not read).
   */
  static open(path: string, options: SqliteVulnDbOptions = {}): SqliteVulnDb {
    if (!existsSync(path)) throw new VulnDbError('VULNDB_NOT_FOUND', `no vulnerability database at ${path}: run "tally db update" or "tally db import"`);
    let db: Database.Database | null = null;
    try {
      // The inode identifies the file we hold, for isStale(). Taken BEFORE opening: if an update swaps the file in
      // between, we hold the newer file and merely report ourselves stale (a harmless reopen), never the reverse.
      const inode = statSync(path).ino;
      db = openDatabase(path, { readonly: true, fileMustExist: true });
      db.pragma('query_only = ON');
      db.pragma('cache_size = -65536'); // 64 MiB page cache: the working set of a scan
      db.pragma('mmap_size = 268435456');
      const version = readSchemaVersion(db);
      if (version === null || version === 0) throw new VulnDbError('VULNDB_CORRUPT', `${path} is not a Tally vulnerability database`);
      if (version !== SCHEMA_VERSION) {
        throw new VulnDbError(
          'VULNDB_SCHEMA',
          version < SCHEMA_VERSION
            ? `vulnerability database schema ${version} is older than this Tally reads (${SCHEMA_VERSION}): run "tally db update"`
            : `vulnerability database schema ${version} is newer than this Tally reads (${SCHEMA_VERSION}): upgrade Tally`,
        );
      }
      return new SqliteVulnDb(path, db, inode, version, options);
    } catch (err) {
      db?.close();
      if (err instanceof VulnDbError) throw err;
      throw new VulnDbError('VULNDB_CORRUPT', `cannot read vulnerability database ${path}: ${describeError(err)}`, { cause: err });
    }
  }

  private load(pk: number): Advisory | null {
    const hit = this.cache.get(pk);
    if (hit) return hit;
    const json = this.stmts.json.get(pk);
    if (typeof json !== 'string') return null;
    // Written by VulnDbWriter from a validated Advisory; the schema version guards its shape.
    const advisory = JSON.parse(json) as Advisory;
    if (this.cache.size >= this.cacheEntries) this.cache.clear(); // crude bound; a scan's working set is far smaller
    this.cache.set(pk, advisory);
    return advisory;
  }

  private resolve(pks: readonly number[]): Advisory[] {
    const out: Advisory[] = [];
    const outPks: number[] = [];
    let seen: Map<string, number> | null = null;
    for (const pk of pks) {
      const a = this.load(pk);
      if (a === null) continue;
      if (pks.length > 1) {
        seen ??= new Map();
        const k = `${a.source}\0${a.id}`;
        const at = seen.get(k);
        if (at !== undefined) {
          const cur = out[at];
          const curPk = outPks[at];
          if (cur !== undefined && curPk !== undefined && newer(a, pk, cur, curPk)) {
            out[at] = a;
            outPks[at] = pk;
          }
          continue;
        }
        seen.set(k, out.length);
      }
      out.push(a);
      outPks.push(pk);
    }
    return out;
  }

  // Lookups repeat across packages and findings (the same CVE's KEV and EPSS for every package it hits); the file
  // is immutable while open (updates swap a new file in), so answers are memoised for the life of this handle.
  private readonly memo = {
    affecting: new Map<string, readonly Advisory[]>(),
    kev: new Map<string, KevEntry | null>(),
    epss: new Map<string, EpssEntry | null>(),
  };

  affecting(ecosystem: string, packageName: string): readonly Advisory[] {
    const key = `${ecosystem}\0${packageName}`;
    let hit = this.memo.affecting.get(key);
    if (hit === undefined) {
      hit = this.resolve(this.stmts.affecting.all(ecosystem, packageName) as number[]);
      this.memo.affecting.set(key, hit);
    }
    return hit;
  }

  /** Every advisory with this id (an OSV record, a DSA; for per-package distro records, one per package). */
  advisoriesById(id: string): readonly Advisory[] {
    return this.resolve(this.stmts.byId.all(id) as number[]);
  }

  /** The advisory with this id; when several sources carry it, the one from the earliest-imported row. */
  advisory(id: string): Advisory | null {
    return this.advisoriesById(id)[0] ?? null;
  }

  /** Advisories that list `id` among their aliases or related ids (GHSA → CVE joins, DSA → CVEs). */
  byAlias(id: string): readonly Advisory[] {
    return this.resolve(this.stmts.byAlias.all(id) as number[]);
  }

  kev(cve: string): KevEntry | null {
    let hit = this.memo.kev.get(cve);
    if (hit === undefined) {
      const r = this.stmts.kev.get(cve) as { cve: string; date_added: string; due_date: string | null; ransomware: string | null } | undefined;
      hit = r ? { cve: r.cve, dateAdded: r.date_added, dueDate: r.due_date, knownRansomwareCampaignUse: r.ransomware } : null;
      this.memo.kev.set(cve, hit);
    }
    return hit;
  }

  epss(cve: string): EpssEntry | null {
    let hit = this.memo.epss.get(cve);
    if (hit === undefined) {
      const r = this.stmts.epss.get(cve) as { cve: string; score: number; percentile: number; date: string | null } | undefined;
      hit = r ? { cve: r.cve, score: r.score, percentile: r.percentile, date: r.date } : null;
      this.memo.epss.set(cve, hit);
    }
    return hit;
  }

  /** Distinct ecosystems with at least one affected entry (e.g. to tell "no data for Alpine:v3.20" from "clean"). */
  ecosystems(): string[] {
    return (this.db.prepare(`SELECT DISTINCT ecosystem FROM affected ORDER BY ecosystem`).pluck().all() as string[]);
  }

  /** True when an update has swapped a new file in since this one was opened (long-running processes reopen). */
  isStale(): boolean {
    try {
      return statSync(this.path).ino !== this.inode;
    } catch {
      return true;
    }
  }

  close(): void {
    this.cache.clear();
    this.db.close();
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Writer

export interface SourceSpec {
  /** Stable name: `osv:npm`, `debian-tracker`, `file:/abs/path.json.gz`, `dir:/abs/dir`. */
  readonly name: string;
  /** The format: osv, debian-tracker, debian-dsa, debian-dla, alpine-secdb, kev, epss, csaf, ... */
  readonly kind: string;
  /** URL or path it came from. */
  readonly origin: string;
  readonly etag?: string | null;
  readonly lastModified?: string | null;
  readonly sha256?: string | null;
  readonly sizeBytes?: number | null;
}

export interface SourceRow {
  readonly id: number;
  readonly name: string;
  readonly kind: string;
  readonly origin: string;
  readonly importedAt: string;
  readonly advisories: number;
  readonly kev: number;
  readonly epss: number;
  readonly skippedWithdrawn: number;
  readonly skippedInvalid: number;
  readonly skippedIgnored: number;
  readonly etag: string | null;
  readonly lastModified: string | null;
  readonly sha256: string | null;
  readonly sizeBytes: number | null;
  readonly dataAsOf: string | null;
  readonly cursor: string | null;
}

interface SourceDbRow {
  id: number;
  name: string;
  kind: string;
  origin: string;
  imported_at: string;
  advisories: number;
  kev: number;
  epss: number;
  skipped_withdrawn: number;
  skipped_invalid: number;
  skipped_ignored: number;
  etag: string | null;
  last_modified: string | null;
  sha256: string | null;
  size_bytes: number | null;
  data_as_of: string | null;
  cursor: string | null;
}

export function toSourceRow(r: SourceDbRow): SourceRow {
  return {
    id: r.id,
    name: r.name,
    kind: r.kind,
    origin: r.origin,
    importedAt: r.imported_at,
    advisories: r.advisories,
    kev: r.kev,
    epss: r.epss,
    skippedWithdrawn: r.skipped_withdrawn,
    skippedInvalid: r.skipped_invalid,
    skippedIgnored: r.skipped_ignored,
    etag: r.etag,
    lastModified: r.last_modified,
    sha256: r.sha256,
    sizeBytes: r.size_bytes,
    dataAsOf: r.data_as_of,
    cursor: r.cursor,
  };
}

export function readSources(db: Database.Database): SourceRow[] {
  return (db.prepare(`SELECT * FROM sources ORDER BY name`).all() as SourceDbRow[]).map(toSourceRow);
}

/** Counts of one source import. */
export interface SinkCounts {
  /** Advisories written: inserted, or (merge mode) updated. */
  advisories: number;
  /** Replace mode: records whose key appeared again in the same import (the newer `modified` is kept). */
  duplicates: number;
  /** Advisories deleted by key (incremental updates: withdrawn records). */
  removed: number;
  kev: number;
  epss: number;
  withdrawn: number;
  invalid: number;
  ignored: number;
}

/** The first skipped records of an import, with reasons, for the summary. */
export const MAX_REASONS = 5;

/** Where an importer writes one source's records. Only valid inside `VulnDbWriter.importSource`. */
export class SourceSink {
  readonly counts: SinkCounts = { advisories: 0, duplicates: 0, removed: 0, kev: 0, epss: 0, withdrawn: 0, invalid: 0, ignored: 0 };
  /** The first few skips, verbatim. */
  readonly reasons: Skip[] = [];
  /** Skips per reason text with ids stripped, so "why" is countable ("no numbered Debian release": 812). */
  readonly reasonCounts = new Map<string, number>();
  dataAsOf: string | null = null;
  cursor: string | null = null;
  /** The format, when only the content tells (db import); overrides SourceSpec.kind. */
  kind: string | null = null;
  private closed = false;

  constructor(
    private readonly w: WriterStatements,
    readonly sourceId: number,
    readonly mode: ImportMode,
  ) {}

  advisory(key: string, a: Advisory): void {
    this.check();
    const json = JSON.stringify(a);
    const ins = this.w.insertAdvisory.run(this.sourceId, key, a.id, a.source, a.published, a.modified, json);
    let pk: number;
    if (ins.changes === 1) {
      pk = Number(ins.lastInsertRowid);
      this.counts.advisories += 1;
    } else {
      // The key exists: in replace mode the source was emptied first, so it is a duplicate inside this import (a
      // feed that lists a record twice); in merge mode it is the update of a stored record. Newer `modified` wins.
      const cur = this.w.findAdvisory.get(this.sourceId, key) as { pk: number; modified: string | null } | undefined;
      if (!cur) throw new Error(`advisory ${key}: insert conflict without a row`);
      const older = cur.modified !== null && a.modified !== null && a.modified < cur.modified;
      if (this.mode === 'replace') this.counts.duplicates += 1;
      if (older) {
        if (this.mode === 'merge') this.skip({ skip: 'ignored', reason: 'older than the stored record', id: a.id });
        return;
      }
      if (this.mode === 'merge') this.counts.advisories += 1;
      pk = cur.pk;
      this.w.deleteAffected.run(pk);
      this.w.deleteAliases.run(pk);
      this.w.updateAdvisory.run(a.id, a.source, a.published, a.modified, json, pk);
    }
    for (const f of a.affected) this.w.insertAffected.run(f.ecosystem, f.package, pk);
    for (const alias of a.aliases) if (alias !== a.id) this.w.insertAlias.run(alias, pk, 'alias');
    for (const rel of a.related) if (rel !== a.id) this.w.insertAlias.run(rel, pk, 'related');
  }

  /** Delete one advisory of this source by key (merge mode); true when it existed. */
  remove(key: string): boolean {
    this.check();
    const cur = this.w.findAdvisory.get(this.sourceId, key) as { pk: number } | undefined;
    if (!cur) return false;
    this.w.deleteAffected.run(cur.pk);
    this.w.deleteAliases.run(cur.pk);
    this.w.deleteAdvisory.run(cur.pk);
    this.counts.removed += 1;
    return true;
  }

  kev(e: KevEntry): void {
    this.check();
    this.w.insertKev.run(e.cve, this.sourceId, e.dateAdded, e.dueDate, e.knownRansomwareCampaignUse);
    this.counts.kev += 1;
  }

  epss(e: EpssEntry): void {
    this.check();
    this.w.insertEpss.run(e.cve, this.sourceId, e.score, e.percentile, e.date);
    this.counts.epss += 1;
  }

  skip(s: Skip): void {
    const cat: SkipCategory = s.skip;
    this.counts[cat] += 1;
    if (this.reasons.length < MAX_REASONS) this.reasons.push(s);
    // Reason texts embed ids, paths, line numbers and quoted values; strip those to get a countable "why".
    const tail = s.reason.includes(': ') ? s.reason.slice(s.reason.lastIndexOf(': ') + 2) : s.reason;
    const generic = cat === 'withdrawn' ? 'withdrawn' : tail.replace(/"(?:[^"\\]|\\.)*"/g, '"…"').replace(/\d+/g, 'N');
    const k = `${cat}: ${generic.slice(0, 100)}`;
    if (this.reasonCounts.size < 200 || this.reasonCounts.has(k)) this.reasonCounts.set(k, (this.reasonCounts.get(k) ?? 0) + 1);
  }

  /** @internal */
  close(): void {
    this.closed = true;
  }

  private check(): void {
    if (this.closed) throw new Error('source sink used after its import finished');
  }
}

interface WriterStatements {
  insertAdvisory: Database.Statement<[number, string, string, string, string | null, string | null, string]>;
  findAdvisory: Database.Statement<[number, string]>;
  updateAdvisory: Database.Statement<[string, string, string | null, string | null, string, number]>;
  deleteAdvisory: Database.Statement<[number]>;
  deleteAffected: Database.Statement<[number]>;
  deleteAliases: Database.Statement<[number]>;
  insertAffected: Database.Statement<[string, string, number]>;
  insertAlias: Database.Statement<[string, number, string]>;
  insertKev: Database.Statement<[string, number, string, string | null, string | null]>;
  insertEpss: Database.Statement<[string, number, number, number, string | null]>;
}

export type ImportMode =
  /** Drop the source's previous records first: a full feed or file re-import (records that vanished go away). */
  | 'replace'
  /** Keep previous records; upsert and remove by key: incremental updates. */
  | 'merge';

export interface ImportResult<T> {
  readonly value: T;
  readonly source: SourceRow;
  readonly counts: SinkCounts;
  readonly reasons: readonly Skip[];
  readonly reasonCounts: ReadonlyMap<string, number>;
}

interface Lock {
  readonly path: string;
}

/** A lock older than this is stale even if its pid is alive (pid reuse, or a different host sharing the cache dir). */
const LOCK_STALE_MS = 6 * 3600_000;

function acquireLock(livePath: string): Lock {
  const path = `${livePath}.lock`;
  for (let attempt = 0; attempt < 2; attempt += 1) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, JSON.stringify({ pid: process.pid, host: hostname(), started: new Date().toISOString() }));
      closeSync(fd);
      return { path };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      let holder: { pid?: unknown; host?: unknown; started?: unknown } = {};
      try {
        const parsed: unknown = JSON.parse(readFileSync(path, 'utf8'));
        if (typeof parsed === 'object' && parsed !== null) holder = parsed;
      } catch {
        // unreadable or half-written lock: judged by age below
      }
      const started = typeof holder.started === 'string' ? Date.parse(holder.started) : NaN;
      const age = Number.isFinite(started) ? Date.now() - started : Date.now() - statSync(path).mtimeMs;
      const sameHost = holder.host === hostname();
      const alive = sameHost && typeof holder.pid === 'number' && pidAlive(holder.pid);
      if (!alive && (sameHost || age > LOCK_STALE_MS)) {
        rmSync(path, { force: true });
        continue;
      }
      throw new VulnDbError('VULNDB_LOCKED', `another vulnerability database update holds ${path} (pid ${String(holder.pid)})`);
    }
  }
  throw new VulnDbError('VULNDB_LOCKED', `cannot take ${path}`);
}

function releaseLock(lock: Lock | null): void {
  if (lock) rmSync(lock.path, { force: true });
}

const TEMP_MARK = '.tmp-';

/** Remove temp databases (and download dirs) left by writers that died; never those of a live process. */
export function cleanStaleTemps(livePath: string): string[] {
  const dir = dirname(livePath);
  const base = basename(livePath);
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return removed;
  }
  for (const name of names) {
    const rest = name.startsWith(base + TEMP_MARK) ? name.slice(base.length + TEMP_MARK.length) : name.startsWith('downloads-') ? name.slice('downloads-'.length) : null;
    if (rest === null) continue;
    const pid = Number(rest.split('-')[0]);
    if (pid === process.pid || pidAlive(pid)) continue;
    rmSync(join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

function fsyncPath(path: string, flags: 'r' | 'r+'): void {
  const fd = openSync(path, flags);
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

export interface WriterOptions {
  /** Build from an empty database instead of a copy of the live one (a full rebuild). */
  readonly fresh?: boolean;
  /** Injected clock for tests. */
  readonly now?: () => Date;
}

export class VulnDbWriter {
  /** The file being written (the temp copy in swap mode). */
  readonly path: string;
  /** The live path this writer will replace on commit (swap mode), or its own path (in-place mode). */
  readonly livePath: string;
  private db: Database.Database | null;
  private readonly stmts: WriterStatements;
  private readonly lock: Lock | null;
  private readonly swap: boolean;
  private readonly now: () => Date;
  private busy = false;

  private constructor(db: Database.Database, path: string, livePath: string, lock: Lock | null, swap: boolean, now: () => Date) {
    this.db = db;
    this.path = path;
    this.livePath = livePath;
    this.lock = lock;
    this.swap = swap;
    this.now = now;
    this.stmts = {
      insertAdvisory: db.prepare(
        `INSERT INTO advisories (source_id, key, id, origin, published, modified, json) VALUES (?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (source_id, key) DO NOTHING`,
      ),
      findAdvisory: db.prepare(`SELECT pk, modified FROM advisories WHERE source_id = ? AND key = ?`),
      updateAdvisory: db.prepare(`UPDATE advisories SET id = ?, origin = ?, published = ?, modified = ?, json = ? WHERE pk = ?`),
      deleteAdvisory: db.prepare(`DELETE FROM advisories WHERE pk = ?`),
      deleteAffected: db.prepare(`DELETE FROM affected WHERE advisory = ?`),
      deleteAliases: db.prepare(`DELETE FROM aliases WHERE advisory = ?`),
      insertAffected: db.prepare(`INSERT OR IGNORE INTO affected (ecosystem, package, advisory) VALUES (?, ?, ?)`),
      insertAlias: db.prepare(`INSERT OR IGNORE INTO aliases (alias, advisory, relation) VALUES (?, ?, ?)`),
      insertKev: db.prepare(`INSERT OR REPLACE INTO kev (cve, source_id, date_added, due_date, ransomware) VALUES (?, ?, ?, ?, ?)`),
      insertEpss: db.prepare(`INSERT OR REPLACE INTO epss (cve, source_id, score, percentile, date) VALUES (?, ?, ?, ?, ?)`),
    };
  }

  private static prepareFile(db: Database.Database, path: string, now: string): void {
    const version = readSchemaVersion(db);
    if (version === null) throw new VulnDbError('VULNDB_CORRUPT', `${path} is not a Tally vulnerability database`);
    if (version > SCHEMA_VERSION) throw new VulnDbError('VULNDB_SCHEMA', `${path} has schema ${version}, newer than this Tally (${SCHEMA_VERSION})`);
    migrate(db, now);
  }

  /** Open (creating if needed) a database file in place. For fresh builds, tests and benchmarks; not for the live DB under scans. */
  static create(path: string, options: WriterOptions = {}): VulnDbWriter {
    const now = options.now ?? (() => new Date());
    mkdirSync(dirname(path), { recursive: true });
    if (options.fresh) rmSync(path, { force: true });
    const db = openDatabase(path);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = NORMAL');
      db.pragma('busy_timeout = 5000');
      db.pragma('cache_size = -131072');
      VulnDbWriter.prepareFile(db, path, now().toISOString());
    } catch (err) {
      db.close();
      throw err;
    }
    return new VulnDbWriter(db, path, path, null, false, now);
  }

  /**
   * Start an atomic update of the live database at `livePath`: lock, copy, open the copy. Finish with `commit()`
   * (swap in) or `abort()` (discard). A live file that is not a readable Tally database is replaced by a fresh one.
   */
  static beginSwap(livePath: string, options: WriterOptions = {}): VulnDbWriter {
    const now = options.now ?? (() => new Date());
    mkdirSync(dirname(livePath), { recursive: true });
    const lock = acquireLock(livePath);
    const tmp = `${livePath}${TEMP_MARK}${process.pid}-${randomBytes(4).toString('hex')}`;
    try {
      cleanStaleTemps(livePath);
      if (!options.fresh && existsSync(livePath)) copyFileSync(livePath, tmp);
      const openTemp = (): Database.Database => {
        const d = openDatabase(tmp);
        try {
          d.pragma('journal_mode = MEMORY');
          d.pragma('synchronous = OFF');
          d.pragma('cache_size = -131072');
          VulnDbWriter.prepareFile(d, tmp, now().toISOString());
          return d;
        } catch (err) {
          d.close();
          throw err;
        }
      };
      let db: Database.Database;
      try {
        db = openTemp();
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        const damaged = code === 'VULNDB_CORRUPT' || code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT';
        if (!damaged) throw err;
        // The live file is damaged or foreign: rebuild from nothing rather than refuse to ever update.
        rmSync(tmp, { force: true });
        db = openTemp();
      }
      return new VulnDbWriter(db, tmp, livePath, lock, true, now);
    } catch (err) {
      // openTemp() closes its own handle on failure; only the files and the lock remain to clean.
      rmSync(tmp, { force: true });
      releaseLock(lock);
      if (err instanceof VulnDbError) throw err;
      throw new VulnDbError('VULNDB_CORRUPT', `cannot prepare an update of ${livePath}: ${describeError(err)}`, { cause: err });
    }
  }

  private get conn(): Database.Database {
    if (this.db === null) throw new Error('vulnerability database writer is closed');
    return this.db;
  }

  source(name: string): SourceRow | null {
    const r = this.conn.prepare(`SELECT * FROM sources WHERE name = ?`).get(name) as SourceDbRow | undefined;
    return r ? toSourceRow(r) : null;
  }

  sources(): SourceRow[] {
    return readSources(this.conn);
  }

  /**
   * Import one source inside one transaction: the source's rows change all at once or not at all (an error or an
   * abort inside `fill` rolls back to the previous records). `fill` may be async (it reads streams); the writer is
   * exclusive, so nothing else runs on the connection meanwhile.
   */
  async importSource<T>(spec: SourceSpec, mode: ImportMode, fill: (sink: SourceSink) => Promise<T>): Promise<ImportResult<T>> {
    const db = this.conn;
    if (this.busy) throw new Error('one import at a time per writer');
    this.busy = true;
    db.exec('BEGIN');
    let sink: SourceSink | null = null;
    try {
      const importedAt = this.now().toISOString();
      const existing = db.prepare(`SELECT id, skipped_withdrawn, skipped_invalid, skipped_ignored FROM sources WHERE name = ?`).get(spec.name) as
        | { id: number; skipped_withdrawn: number; skipped_invalid: number; skipped_ignored: number }
        | undefined;
      let sourceId: number;
      if (existing) {
        sourceId = existing.id;
        if (mode === 'replace') {
          db.prepare(`DELETE FROM affected WHERE advisory IN (SELECT pk FROM advisories WHERE source_id = ?)`).run(sourceId);
          db.prepare(`DELETE FROM aliases WHERE advisory IN (SELECT pk FROM advisories WHERE source_id = ?)`).run(sourceId);
          db.prepare(`DELETE FROM advisories WHERE source_id = ?`).run(sourceId);
          db.prepare(`DELETE FROM kev WHERE source_id = ?`).run(sourceId);
          db.prepare(`DELETE FROM epss WHERE source_id = ?`).run(sourceId);
        }
      } else {
        sourceId = Number(
          db.prepare(`INSERT INTO sources (name, kind, origin, imported_at) VALUES (?, ?, ?, ?)`).run(spec.name, spec.kind, spec.origin, importedAt).lastInsertRowid,
        );
      }
      sink = new SourceSink(this.stmts, sourceId, mode);
      const value = await fill(sink);
      sink.close();
      const carried = mode === 'merge' && existing ? existing : { skipped_withdrawn: 0, skipped_invalid: 0, skipped_ignored: 0 };
      const count = (table: string): number => (db.prepare(`SELECT count(*) FROM ${table} WHERE source_id = ?`).pluck().get(sourceId) as number);
      db.prepare(
        `UPDATE sources SET kind = ?, origin = ?, imported_at = ?, advisories = ?, kev = ?, epss = ?,
           skipped_withdrawn = ?, skipped_invalid = ?, skipped_ignored = ?,
           etag = ?, last_modified = ?, sha256 = ?, size_bytes = ?, data_as_of = ?, cursor = COALESCE(?, cursor)
         WHERE id = ?`,
      ).run(
        sink.kind ?? spec.kind,
        spec.origin,
        importedAt,
        count('advisories'),
        count('kev'),
        count('epss'),
        carried.skipped_withdrawn + sink.counts.withdrawn,
        carried.skipped_invalid + sink.counts.invalid,
        carried.skipped_ignored + sink.counts.ignored,
        spec.etag ?? null,
        spec.lastModified ?? null,
        spec.sha256 ?? null,
        spec.sizeBytes ?? null,
        sink.dataAsOf,
        sink.cursor,
        sourceId,
      );
      db.exec('COMMIT');
      const row = this.source(spec.name);
      if (!row) throw new Error(`source ${spec.name} vanished`);
      return { value, source: row, counts: sink.counts, reasons: sink.reasons, reasonCounts: sink.reasonCounts };
    } catch (err) {
      sink?.close();
      if (db.inTransaction) db.exec('ROLLBACK');
      throw err;
    } finally {
      this.busy = false;
    }
  }

  /** Record new conditional-request facts for a source whose content did not change (a 304). */
  touchSource(name: string, facts: { etag?: string | null; lastModified?: string | null }): void {
    this.conn
      .prepare(`UPDATE sources SET etag = COALESCE(?, etag), last_modified = COALESCE(?, last_modified) WHERE name = ?`)
      .run(facts.etag ?? null, facts.lastModified ?? null, name);
  }

  removeSource(name: string): boolean {
    const db = this.conn;
    const row = db.prepare(`SELECT id FROM sources WHERE name = ?`).get(name) as { id: number } | undefined;
    if (!row) return false;
    db.transaction(() => {
      db.prepare(`DELETE FROM affected WHERE advisory IN (SELECT pk FROM advisories WHERE source_id = ?)`).run(row.id);
      db.prepare(`DELETE FROM aliases WHERE advisory IN (SELECT pk FROM advisories WHERE source_id = ?)`).run(row.id);
      db.prepare(`DELETE FROM advisories WHERE source_id = ?`).run(row.id);
      db.prepare(`DELETE FROM kev WHERE source_id = ?`).run(row.id);
      db.prepare(`DELETE FROM epss WHERE source_id = ?`).run(row.id);
      db.prepare(`DELETE FROM sources WHERE id = ?`).run(row.id);
    })();
    return true;
  }

  private finalizeFile(db: Database.Database): void {
    const set = db.prepare(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`);
    set.run('updated_at', this.now().toISOString());
    set.run('tool_version', TOOL_VERSION);
    // Replaced sources leave free pages behind; reclaim them when they are a sizeable share of the file.
    const pages = db.pragma('page_count', { simple: true }) as number;
    const free = db.pragma('freelist_count', { simple: true }) as number;
    if (pages > 0 && free / pages > 0.25) db.exec('VACUUM');
    db.pragma('optimize');
    db.pragma('journal_mode = DELETE');
  }

  /** Finish: in swap mode, atomically replace the live database; in place, just close cleanly. */
  commit(): void {
    const db = this.conn;
    if (this.busy) throw new Error('commit during an import');
    try {
      this.finalizeFile(db);
    } catch (err) {
      this.abort();
      throw err;
    }
    db.close();
    this.db = null;
    if (!this.swap) return;
    try {
      fsyncPath(this.path, 'r+');
      renameSync(this.path, this.livePath);
      fsyncPath(dirname(this.livePath), 'r');
    } catch (err) {
      rmSync(this.path, { force: true });
      throw err;
    } finally {
      releaseLock(this.lock);
    }
  }

  /** Discard everything written (swap mode: the live database stays as it was). */
  abort(): void {
    if (this.db !== null) {
      try {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
      } catch {
        // closing discards it anyway
      }
      if (!this.swap) {
        try {
          this.db.pragma('journal_mode = DELETE');
        } catch {
          // best effort: an in-place file keeps WAL mode until its next clean close
        }
      }
      this.db.close();
      this.db = null;
    }
    if (this.swap) {
      rmSync(this.path, { force: true });
      releaseLock(this.lock);
    }
  }

  /** In-place writers: same as commit(). */
  close(): void {
    if (this.db !== null) this.commit();
  }
}

/** Used by feeds.ts: whether a swap-mode writer still owns its temp file (for tests of interrupted updates). */
export function tempFilesOf(livePath: string): string[] {
  try {
    return readdirSync(dirname(livePath)).filter((n) => n.startsWith(basename(livePath) + TEMP_MARK));
  } catch {
    return [];
  }
}

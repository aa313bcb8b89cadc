/**
 * The vulnerability database schema, as an ordered list of migrations. `meta.schema_version` is the number of the
 * last one applied. Writers migrate forward; the read-only reader refuses any version but its own (it cannot
 * migrate, and a newer file may mean things an older Tally would misread).
 *
 * Tables
 *   meta        key → value: schema_version, created_at, updated_at, tool_version
 *   sources     one row per feed or imported file: kind (format), origin (URL/path), imported_at, counts,
 *               etag / last_modified / sha256 / size_bytes for conditional updates, data_as_of (the feed's own
 *               date), cursor (incremental position: newest `modified` seen, for osv.dev modified_id.csv)
 *   advisories  the normalised Advisory as JSON, with the columns queries need: (source_id, key) is unique, so
 *               re-importing a source replaces its rows; `id` is indexed for advisory(id)
 *   affected    (ecosystem, package, advisory): the lookup the matcher makes for every package; a covering
 *               WITHOUT ROWID primary key, so affecting() is one index range scan
 *   aliases     (alias, advisory, relation): alias/related ids → advisory, for joins (GHSA ↔ CVE, DSA → CVEs)
 *   kev, epss   keyed by CVE
 */
import type Database from 'better-sqlite3';

export interface Migration {
  readonly version: number;
  readonly description: string;
  readonly up: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    description: 'initial schema: meta, sources, advisories, affected, aliases, kev, epss',
    up: `
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE sources (
        id INTEGER PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        origin TEXT NOT NULL,
        imported_at TEXT NOT NULL,
        advisories INTEGER NOT NULL DEFAULT 0,
        kev INTEGER NOT NULL DEFAULT 0,
        epss INTEGER NOT NULL DEFAULT 0,
        skipped_withdrawn INTEGER NOT NULL DEFAULT 0,
        skipped_invalid INTEGER NOT NULL DEFAULT 0,
        skipped_ignored INTEGER NOT NULL DEFAULT 0,
        etag TEXT,
        last_modified TEXT,
        sha256 TEXT,
        size_bytes INTEGER,
        data_as_of TEXT,
        cursor TEXT
      );
      CREATE TABLE advisories (
        pk INTEGER PRIMARY KEY,
        source_id INTEGER NOT NULL REFERENCES sources(id),
        key TEXT NOT NULL,
        id TEXT NOT NULL,
        origin TEXT NOT NULL,
        published TEXT,
        modified TEXT,
        json TEXT NOT NULL,
        UNIQUE (source_id, key)
      );
      CREATE INDEX advisories_by_id ON advisories(id);
      CREATE TABLE affected (
        ecosystem TEXT NOT NULL,
        package TEXT NOT NULL,
        advisory INTEGER NOT NULL,
        PRIMARY KEY (ecosystem, package, advisory)
      ) WITHOUT ROWID;
      CREATE INDEX affected_by_advisory ON affected(advisory);
      CREATE TABLE aliases (
        alias TEXT NOT NULL,
        advisory INTEGER NOT NULL,
        relation TEXT NOT NULL CHECK (relation IN ('alias', 'related')),
        PRIMARY KEY (alias, advisory, relation)
      ) WITHOUT ROWID;
      CREATE INDEX aliases_by_advisory ON aliases(advisory);
      CREATE TABLE kev (
        cve TEXT PRIMARY KEY,
        source_id INTEGER NOT NULL,
        date_added TEXT NOT NULL,
        due_date TEXT,
        ransomware TEXT
      ) WITHOUT ROWID;
      CREATE INDEX kev_by_source ON kev(source_id);
      CREATE TABLE epss (
        cve TEXT PRIMARY KEY,
        source_id INTEGER NOT NULL,
        score REAL NOT NULL,
        percentile REAL NOT NULL,
        date TEXT
      ) WITHOUT ROWID;
      CREATE INDEX epss_by_source ON epss(source_id);
    `,
  },
];

export const SCHEMA_VERSION: number = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

/** The schema version recorded in the file; 0 for an empty file, null when it is not a Tally database. */
export function readSchemaVersion(db: Database.Database): number | null {
  const hasMeta = db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'`).get();
  if (!hasMeta) {
    const objects = db.prepare(`SELECT count(*) AS n FROM sqlite_master`).get() as { n: number };
    return objects.n === 0 ? 0 : null;
  }
  const row = db.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).get() as { value: string } | undefined;
  const v = row ? Number(row.value) : NaN;
  return Number.isSafeInteger(v) ? v : null;
}

/** Apply the migrations the file lacks, each in its own transaction. Returns the versions applied. */
export function migrate(db: Database.Database, now: string): number[] {
  const current = readSchemaVersion(db);
  if (current === null) throw new Error('not a Tally vulnerability database (no schema_version)');
  if (current > SCHEMA_VERSION) throw new Error(`database schema ${current} is newer than this Tally (${SCHEMA_VERSION})`);
  const applied: number[] = [];
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue;
    db.transaction(() => {
      db.exec(m.up);
      const set = db.prepare(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`);
      set.run('schema_version', String(m.version));
      if (m.version === 1) set.run('created_at', now);
    })();
    applied.push(m.version);
  }
  return applied;
}

/**
 * `tally db status`: what the database holds and how old it is. Read-only; safe while scans and updates run.
 */
import { existsSync, statSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { openDatabase } from '../util/sqlite.js';
import { VulnDbError, describeError } from './errors.js';
import { readSchemaVersion, SCHEMA_VERSION } from './schema.js';
import { readSources, type SourceRow } from './store.js';

export interface EcosystemCount {
  readonly ecosystem: string;
  readonly advisories: number;
  readonly packages: number;
}

export interface SourceStatus extends SourceRow {
  /** Advisories per ecosystem for this source. */
  readonly ecosystems: readonly EcosystemCount[];
  /** Seconds since this source was imported. */
  readonly ageSeconds: number | null;
}

export interface VulnDbStatus {
  readonly path: string;
  readonly sizeBytes: number;
  readonly schemaVersion: number;
  /** The schema version this build reads; when different, scans refuse the file. */
  readonly supportedSchemaVersion: number;
  readonly createdAt: string | null;
  /** Last commit of an update or import. */
  readonly updatedAt: string | null;
  readonly ageSeconds: number | null;
  readonly toolVersion: string | null;
  readonly totals: { readonly advisories: number; readonly affected: number; readonly aliases: number; readonly kev: number; readonly epss: number };
  /** Distinct advisories per ecosystem across all sources. */
  readonly ecosystems: readonly EcosystemCount[];
  readonly sources: readonly SourceStatus[];
}

function ageOf(iso: string | null, now: number): number | null {
  if (iso === null) return null;
  const t = Date.parse(iso);
  return Number.isFinite(t) ? Math.max(0, Math.round((now - t) / 1000)) : null;
}

export function vulndbStatus(path: string, now: Date = new Date()): VulnDbStatus {
  if (!existsSync(path)) throw new VulnDbError('VULNDB_NOT_FOUND', `no vulnerability database at ${path}`);
  let db: Database.Database | null = null;
  try {
    db = openDatabase(path, { readonly: true, fileMustExist: true });
    const version = readSchemaVersion(db);
    if (version === null || version === 0) throw new VulnDbError('VULNDB_CORRUPT', `${path} is not a Tally vulnerability database`);
    const meta = new Map((db.prepare(`SELECT key, value FROM meta`).all() as { key: string; value: string }[]).map((r) => [r.key, r.value]));
    const count = (sql: string): number => db?.prepare(sql).pluck().get() as number;
    const t = now.getTime();
    const perSource = db
      .prepare(
        `SELECT a.source_id AS source, f.ecosystem AS ecosystem, count(DISTINCT a.pk) AS advisories, count(DISTINCT f.package) AS packages
           FROM affected f JOIN advisories a ON a.pk = f.advisory
          GROUP BY a.source_id, f.ecosystem ORDER BY a.source_id, f.ecosystem`,
      )
      .all() as { source: number; ecosystem: string; advisories: number; packages: number }[];
    const bySource = new Map<number, EcosystemCount[]>();
    for (const r of perSource) {
      const list = bySource.get(r.source) ?? [];
      list.push({ ecosystem: r.ecosystem, advisories: r.advisories, packages: r.packages });
      bySource.set(r.source, list);
    }
    const ecosystems = (
      db
        .prepare(`SELECT ecosystem, count(DISTINCT advisory) AS advisories, count(DISTINCT package) AS packages FROM affected GROUP BY ecosystem ORDER BY ecosystem`)
        .all() as { ecosystem: string; advisories: number; packages: number }[]
    ).map((r) => ({ ecosystem: r.ecosystem, advisories: r.advisories, packages: r.packages }));
    const updatedAt = meta.get('updated_at') ?? null;
    return {
      path,
      sizeBytes: statSync(path).size,
      schemaVersion: version,
      supportedSchemaVersion: SCHEMA_VERSION,
      createdAt: meta.get('created_at') ?? null,
      updatedAt,
      ageSeconds: ageOf(updatedAt, t),
      toolVersion: meta.get('tool_version') ?? null,
      totals: {
        advisories: count(`SELECT count(*) FROM advisories`),
        affected: count(`SELECT count(*) FROM affected`),
        aliases: count(`SELECT count(*) FROM aliases`),
        kev: count(`SELECT count(*) FROM kev`),
        epss: count(`SELECT count(*) FROM epss`),
      },
      ecosystems,
      sources: readSources(db).map((s) => ({ ...s, ecosystems: bySource.get(s.id) ?? [], ageSeconds: ageOf(s.importedAt, t) })),
    };
  } catch (err) {
    if (err instanceof VulnDbError) throw err;
    throw new VulnDbError('VULNDB_CORRUPT', `cannot read vulnerability database ${path}: ${describeError(err)}`, { cause: err });
  } finally {
    db?.close();
  }
}

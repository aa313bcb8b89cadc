/**
 * Opening the store: SQLite (the embedded default) or PostgreSQL, both behind the same Kysely<Tables>.
 *
 * SQLite: WAL (readers do not block the writer and vice versa), synchronous=NORMAL (durable across a process kill;
 * only an OS crash may lose the last transactions, never corrupt), busy_timeout (another process, e.g. `tally token
 * create`, may hold the write lock briefly). Two connections: `db` for writes and the reads that must see them,
 * `read` for API queries, so a long ingestion transaction (a million-package report) does not queue every GET behind
 * it: WAL gives the reader the last committed snapshot.
 *
 * PostgreSQL: one pool for both; int8 and numeric come back as numbers (the pool's own type parsers, not pg's
 * global ones, so nothing else in the process is affected). Counts and ids here stay far below 2^53.
 */
import { mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import Database from 'better-sqlite3';
import { Kysely, PostgresDialect, SqliteDialect, type LogEvent, type SqliteDatabase, type SqliteStatement } from 'kysely';
import { startCheckpointer } from './checkpointer.js';
import { BATCH_MARKER } from './bulk.js';
import pg from 'pg';
import { migrateToLatest } from './migrations.js';
import type { Tables } from './schema.js';

export type Dialect = 'sqlite' | 'postgres';

export interface Store {
  readonly dialect: Dialect;
  /** Writes, and reads that must see the caller's own writes. */
  readonly db: Kysely<Tables>;
  /** API reads (on SQLite a second connection reading the last committed snapshot). */
  readonly read: Kysely<Tables>;
  /** For logs: the SQLite path, or the PostgreSQL URL without its password. */
  readonly description: string;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** `postgres://…` / `postgresql://…`, `sqlite:PATH`, or a file path; default `<dataDir>/tally.sqlite`. */
  readonly database?: string | undefined;
  readonly dataDir: string;
  /** Run migrations on open (default true). */
  readonly migrate?: boolean;
  /** PostgreSQL pool size (default 10). */
  readonly poolSize?: number;
  /** Kysely's query log hook (benchmarks and debugging: durations per statement). */
  readonly log?: (event: LogEvent) => void;
}

export const SQLITE_FILE = 'tally.sqlite';

export function isPostgresUrl(database: string | undefined): database is string {
  return database !== undefined && /^postgres(ql)?:\/\//i.test(database);
}

/** The PostgreSQL URL with its password masked, for logs and error messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparsable URL)';
  }
}

function sqlitePath(options: StoreOptions): string {
  const db = options.database;
  if (db === undefined || db === '') return resolve(join(options.dataDir, SQLITE_FILE));
  return resolve(db.startsWith('sqlite:') ? db.slice('sqlite:'.length) : db);
}

/**
 * better-sqlite3 behind Kysely's SqliteDatabase interface, with prepared statements cached by SQL text: Kysely
 * prepares every query anew, and for the wide multi-row inserts of an upload preparing costs as much as running.
 * Safe on one connection: a statement is fully consumed (all/run) before the next query runs; Kysely's streaming
 * (iterate) is not used by the server.
 */
function cachingDatabase(db: Database.Database, size = 256): SqliteDatabase {
  const cache = new Map<string, SqliteStatement>();
  const prepareOne = (text: string): SqliteStatement => {
    if (!text.startsWith(BATCH_MARKER)) return db.prepare(text);
    // A batch (store/bulk.ts): one prepared single-row statement run for every row of the parameter list, inside
    // one call, so Kysely's per-query overhead is paid once per batch instead of once per row.
    // Each row gives its rowid as `pk`, or, for a statement with RETURNING, the row it returned (if any).
    const one = db.prepare(text.slice(BATCH_MARKER.length));
    const run = (parameters: ReadonlyArray<unknown>): unknown[] => {
      const out: unknown[] = [];
      const reader = one.reader;
      for (const row of parameters as readonly (readonly unknown[])[]) {
        if (!reader) out.push({ pk: Number(one.run(row as unknown[]).lastInsertRowid) });
        else {
          const returned: unknown = one.get(row as unknown[]);
          if (returned !== undefined) out.push(returned);
        }
      }
      return out;
    };
    return {
      reader: true,
      all: run,
      run: (parameters) => {
        const rows = run(parameters);
        return { changes: rows.length, lastInsertRowid: (rows[rows.length - 1] as { pk?: number } | undefined)?.pk ?? 0 };
      },
      iterate: (parameters) => run(parameters)[Symbol.iterator](),
    };
  };
  return {
    close: () => db.close(),
    prepare: (text: string) => {
      let stmt = cache.get(text);
      if (stmt !== undefined) {
        cache.delete(text);
        cache.set(text, stmt);
        return stmt;
      }
      stmt = prepareOne(text);
      cache.set(text, stmt);
      if (cache.size > size) cache.delete(cache.keys().next().value as string);
      return stmt;
    },
  };
}

function openSqliteConnection(path: string, readonly: boolean): Database.Database {
  const conn = new Database(path, { fileMustExist: readonly });
  conn.pragma('busy_timeout = 10000');
  if (!readonly) {
    // 4 KiB pages (new databases only; SQLite's default, set here as the choice it is). 1 KiB pages wrote fewer bytes
    // to the WAL, but an upload's CPU in SQLite is per page (b-tree depth, splits, balancing, one WAL frame each),
    // and the writer's CPU is what bounds ingestion: see docs/server.md, Throughput.
    conn.pragma('page_size = 4096');
    conn.pragma('journal_mode = WAL');
    conn.pragma('synchronous = NORMAL');
    // The checkpointer worker does the regular checkpoints; this is the fallback (64 MiB of WAL).
    conn.pragma('wal_autocheckpoint = 65536');
  }
  conn.pragma('cache_size = -65536'); // 64 MiB of page cache per connection: the hot indexes of a fleet-size store
  conn.pragma('temp_store = MEMORY');
  if (readonly) conn.pragma('query_only = ON');
  return conn;
}

/** int8 (20) and numeric (1700) as JS numbers; everything else as pg parses it by default. */
const pgTypes: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
    if (oid === 20 || oid === 1700) return (value: string) => Number(value);
    return format === undefined ? pg.types.getTypeParser(oid) : pg.types.getTypeParser(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

export async function openStore(options: StoreOptions): Promise<Store> {
  const migrate = options.migrate ?? true;
  if (isPostgresUrl(options.database)) {
    const pool = new pg.Pool({ connectionString: options.database, max: options.poolSize ?? 10, types: pgTypes });
    // A dropped idle connection must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool }), ...(options.log ? { log: options.log } : {}) });
    try {
      if (migrate) await migrateToLatest(db, 'postgres');
    } catch (err) {
      await db.destroy();
      throw err;
    }
    return { dialect: 'postgres', db, read: db, description: redactUrl(options.database), close: () => db.destroy() };
  }
  const path = sqlitePath(options);
  mkdirSync(dirname(path), { recursive: true });
  const writer = openSqliteConnection(path, false);
  const db = new Kysely<Tables>({ dialect: new SqliteDialect({ database: cachingDatabase(writer) }), ...(options.log ? { log: options.log } : {}) });
  try {
    if (migrate) await migrateToLatest(db, 'sqlite');
  } catch (err) {
    await db.destroy();
    throw err;
  }
  const read = new Kysely<Tables>({ dialect: new SqliteDialect({ database: cachingDatabase(openSqliteConnection(path, true)) }) });
  const checkpointer = startCheckpointer(path);
  return {
    dialect: 'sqlite',
    db,
    read,
    description: path,
    close: async () => {
      await checkpointer.stop();
      await read.destroy();
      // Fold the WAL back into the main file so a stopped server leaves one self-contained file behind.
      try {
        writer.pragma('wal_checkpoint(TRUNCATE)');
      } catch {
        // Another process holds a read lock: the WAL is folded in on the next open.
      }
      await db.destroy();
    },
  };
}

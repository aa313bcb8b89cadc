/**
 * Rows that never change once committed (the package dictionary's pks, finding data hashes, pairs recorded in
 * agreement with the matcher) are remembered per store for the life of the process, so that an upload looks up only
 * what it has not met before. Two rules keep those caches true:
 *
 * - A write transaction looks the rows up where it sees every committed one (`committedSource`). PostgreSQL: on
 *   the read pool first (no locks held), then inside the transaction for what that missed (rows committed by a
 *   concurrent upload since, or written by this transaction). SQLite has a single writer, whose transaction sees
 *   every committed row, so it looks there only: on the read connection these lookups cost more than they found,
 *   because SQLite empties a connection's page cache whenever another connection has written to the WAL since its
 *   last read, so after every group commit each lookup read its pages back from the file. Moving them into the
 *   writer's transaction, alternated over 2,000 uploads (bench/backend.mjs): 42.8 and 33.9 uploads/s against 39.6 and
 *   31.1, the main thread 18.1 and 23.0 ms an upload against 20.0 and 25.9.
 * - What a transaction found or wrote enters a cache only once it has committed (`Learned`): a row it reads may be
 *   its own or an earlier grouped upload's, and rolls back with it.
 */
import type { Kysely, Transaction } from 'kysely';
import type { Store } from './database.js';
import type { Tables } from './schema.js';

/** What one transaction learned for the caches, applied by its caller once it has committed. */
export class Learned {
  private readonly pending: (() => void)[] = [];

  /** Run `remember` when the transaction has committed (never, if it rolls back). */
  later(remember: () => void): void {
    this.pending.push(remember);
  }

  /** The transaction has committed. */
  committed(): void {
    for (const remember of this.pending.splice(0)) remember();
  }
}

/**
 * Where a write transaction looks up committed rows first: the transaction itself on SQLite (then nothing is left to
 * look for inside it), the read pool on PostgreSQL.
 */
export function committedSource(store: Store, trx: Transaction<Tables>): Kysely<Tables> {
  return store.dialect === 'sqlite' ? trx : store.read;
}

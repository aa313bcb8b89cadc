/**
 * The write queue on SQLite: uploads that reach the queue while a group is running join its transaction, up to the
 * group's bound.
 *
 * On PostgreSQL: a transaction PostgreSQL aborted to break a deadlock (40P01) or a serialisation
 * conflict (40001) runs again; any other error, or a conflict that keeps coming back, reaches the caller. On a real
 * PostgreSQL: two transactions that lock two rows in opposite orders (one of them is always chosen as the victim).
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { startTestPostgres, type TestPostgres } from '../testing/postgres.js';
import { openStore, type Store } from './database.js';
import { WriteQueue } from './write-queue.js';
import { scratchDir } from '../testing/backend.js';

describe('write queue on SQLite: an open-ended group commit', () => {
  let store: Store;
  before(async () => {
    store = await openStore({ dataDir: scratchDir() });
    await sql`create table wq_test (k int primary key)`.execute(store.db);
  });
  after(async () => {
    await store?.close();
  });

  /** Queue `count` pieces of work, each queued by the event loop turn after the previous one ran (an upload arriving mid-group). */
  const chain = (queue: WriteQueue, count: number, first: number): Promise<unknown[]> => {
    const transactions: unknown[] = [];
    return new Promise((resolve, reject) => {
      const results: Promise<unknown>[] = [];
      const next = (i: number): void => {
        results.push(
          queue.run(async (trx) => {
            transactions.push(trx);
            await sql`insert into wq_test values (${first + i})`.execute(trx);
            if (i + 1 < count) setImmediate(() => next(i + 1));
            else setImmediate(() => void Promise.all(results).then(() => resolve(transactions), reject));
          }, true),
        );
      };
      next(0);
    });
  };

  it('uploads arriving while a group runs join its transaction', async () => {
    const transactions = await chain(new WriteQueue(store), 5, 0);
    assert.equal(transactions.length, 5);
    assert.equal(new Set(transactions).size, 1, 'one transaction for the five');
    const rows = await sql<{ n: number }>`select count(*) as n from wq_test`.execute(store.read);
    assert.equal(Number(rows.rows[0]?.n), 5, 'all committed');
  });

  it('a group takes at most maxGroup uploads', async () => {
    const transactions = await chain(new WriteQueue(store, 2), 5, 100);
    assert.deepEqual(
      transactions.map((t) => transactions.indexOf(t)),
      [0, 0, 2, 2, 4],
      'groups of two, two and one',
    );
  });
});

describe('write queue on PostgreSQL: conflicts are retried', { timeout: 120_000 }, () => {
  let pg: TestPostgres;
  let store: Store;
  before(async () => {
    pg = await startTestPostgres();
    store = await openStore({ dataDir: scratchDir(), database: pg.url });
    await sql`create table wq_test (k int primary key, v int not null)`.execute(store.db);
    await sql`insert into wq_test values (1, 0), (2, 0)`.execute(store.db);
  });
  after(async () => {
    await store?.close();
    await pg?.stop();
  });

  it('a deadlock victim runs again and both transactions commit', async () => {
    const queue = new WriteQueue(store);
    let runs = 0;
    // Each holds its first row until the other has taken its own: then each waits on the other's.
    let arrived = 0;
    let release!: () => void;
    const bothHold = new Promise<void>((resolve) => (release = resolve));
    const crossing = (first: number, second: number) =>
      queue.run(async (trx) => {
        runs++;
        await sql`update wq_test set v = v + 1 where k = ${first}`.execute(trx);
        if (++arrived === 2) release();
        await bothHold;
        await sql`update wq_test set v = v + 1 where k = ${second}`.execute(trx);
      }, true);
    await Promise.all([crossing(1, 2), crossing(2, 1)]);
    assert.equal(runs, 3, 'one of the two ran twice');
    const rows = await sql<{ k: number; v: number }>`select k, v from wq_test order by k`.execute(store.db);
    assert.deepEqual(rows.rows.map((r) => Number(r.v)), [2, 2], 'each transaction applied once');
  });

  it('other errors are not retried; a conflict that keeps coming back is given up after four runs', async () => {
    const queue = new WriteQueue(store);
    /** How many times the queue ran a transaction that always throws `error`, before giving it to the caller. */
    const runsBeforeRejecting = async (error: Error): Promise<number> => {
      let runs = 0;
      await assert.rejects(
        queue.run(async () => {
          runs++;
          throw error;
        }, true),
        error,
      );
      return runs;
    };
    assert.equal(await runsBeforeRejecting(Object.assign(new Error('no'), { code: '23505' })), 1);
    assert.equal(await runsBeforeRejecting(Object.assign(new Error('again'), { code: '40001' })), 4);
  });
});

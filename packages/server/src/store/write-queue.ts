/**
 * Group commit for uploads on SQLite.
 *
 * SQLite has one writer; each upload's transaction ends in a COMMIT that writes every page it touched to the WAL,
 * and an upload touches hundreds of random index pages (a new image's packages land all over the package_pk and
 * vulnerability indexes). When several uploads wait for the writer, running them in one transaction writes each
 * shared page once and pays one COMMIT: measured with 500-package uploads into a 200-image store, 2,900 WAL frames
 * per upload one at a time, 1,400 in groups of eight.
 *
 * A group is open-ended: after each upload the event loop runs once (better-sqlite3 is synchronous, so otherwise
 * nothing else would run until the COMMIT), and the uploads that became ready meanwhile join the same transaction, up
 * to 16 uploads or 250 ms. Groups formed only from the uploads already waiting when one started were mostly of one
 * upload over HTTP: while a group ran, the uploads behind it could not be read off their sockets, inflated, or handed
 * to the inspection worker, so they reached the writer one by one. Measured over HTTP (bench/backend.mjs, 1,500
 * uploads): with 8 clients, a mean group of 6.4 uploads (79% of them in groups of eight) instead of 2.6 (none).
 *
 * Each upload still succeeds or fails on its own: it runs inside a SAVEPOINT, and an upload that throws is rolled
 * back to its savepoint and gets its error, while the others commit. The fleet lists' counters move once per group,
 * by the sum of what its uploads changed (store/fleet-aggregates.ts, FleetGroup). Nobody gets a response before the COMMIT, so
 * a kill at any point loses the whole group, which each client then retries (idempotently).
 *
 * Only small uploads are grouped (a big one would hold the others' responses back); PostgreSQL runs every upload in
 * its own transaction, since there concurrent transactions proceed in parallel anyway, and runs it again when
 * PostgreSQL aborted it to break a deadlock or a serialisation conflict (the work is the whole transaction).
 */
import { sql, type Transaction } from 'kysely';
import type { Store } from './database.js';
import { FleetGroup } from './fleet-aggregates.js';
import type { Tables } from './schema.js';

interface Item {
  readonly work: (trx: Transaction<Tables>) => Promise<unknown>;
  readonly resolve: (v: unknown) => void;
  readonly reject: (e: unknown) => void;
}

export class WriteQueue {
  private readonly queue: Item[] = [];
  private running = false;
  private seq = 0;

  constructor(
    private readonly store: Store,
    private readonly maxGroup = 16,
    /** A group stops taking uploads after this long: its first upload's response waits for the COMMIT. */
    private readonly maxGroupMs = 250,
  ) {}

  /** Run `work` in a transaction; grouped with other waiting work when `groupable` and the store is SQLite. */
  run<T>(work: (trx: Transaction<Tables>) => Promise<T>, groupable: boolean): Promise<T> {
    if (this.store.dialect === 'postgres') return retryConflicts(() => this.store.db.transaction().execute(work));
    if (!groupable) return this.store.db.transaction().execute(work);
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (v: unknown) => void, reject });
      if (!this.running) {
        this.running = true;
        setImmediate(() => void this.pump());
      }
    });
  }

  /**
   * better-sqlite3 is synchronous, so a transaction runs as one chain of microtasks and never lets the event loop
   * read other requests: uploads that arrived meanwhile would only queue up after it. Each group therefore starts
   * from a fresh macrotask (setImmediate), after the I/O callbacks already pending have run and queued their work.
   */
  private async pump(): Promise<void> {
    try {
      while (this.queue.length > 0) {
        const group: Item[] = [];
        const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
        try {
          await this.store.db.transaction().execute(async (trx) => {
            const fleet = new FleetGroup(trx, this.store.dialect);
            const started = performance.now();
            for (let item = this.queue.shift(); item !== undefined; item = this.queue.shift()) {
              group.push(item);
              const name = `upload_${++this.seq}`;
              await sql`savepoint ${sql.id(name)}`.execute(trx);
              try {
                const value = await item.work(trx);
                await sql`release savepoint ${sql.id(name)}`.execute(trx);
                fleet.settle(true);
                outcomes.push({ ok: true, value });
              } catch (error) {
                await sql`rollback to savepoint ${sql.id(name)}`.execute(trx);
                await sql`release savepoint ${sql.id(name)}`.execute(trx);
                fleet.settle(false);
                outcomes.push({ ok: false, error });
              }
              if (group.length >= this.maxGroup || performance.now() - started >= this.maxGroupMs) break;
              // Let the event loop run before the next upload: it reads the requests that arrived, hands their bodies
              // to the inspection workers and takes their replies, and the uploads that are ready join this group.
              await new Promise<void>((r) => setImmediate(r));
            }
            await fleet.apply();
          });
        } catch (error) {
          // The COMMIT itself failed: nothing of the group was stored.
          for (const item of group) item.reject(error);
          continue;
        }
        group.forEach((item, i) => {
          const o = outcomes[i];
          if (o === undefined) item.reject(new Error('upload not run'));
          else if (o.ok) item.resolve(o.value);
          else item.reject(o.error);
        });
        await new Promise<void>((r) => setImmediate(r));
      }
    } finally {
      this.running = false;
    }
  }
}

/** deadlock_detected, serialization_failure: PostgreSQL rolled the transaction back; running it again may succeed. */
const CONFLICTS = new Set(['40P01', '40001']);
const ATTEMPTS = 4;

/** Run a PostgreSQL transaction (the whole of it: `run`) again when PostgreSQL aborted it for a deadlock or a conflict. */
export async function retryConflicts<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (err) {
      const code = (err as { code?: unknown } | null)?.code;
      if (attempt >= ATTEMPTS || typeof code !== 'string' || !CONFLICTS.has(code)) throw err;
      // A short random pause, growing: the other transaction usually commits meanwhile.
      await new Promise((resolve) => setTimeout(resolve, attempt * 20 + Math.random() * 50));
    }
  }
}

const queues = new WeakMap<Store, WriteQueue>();

export function writeQueueOf(store: Store): WriteQueue {
  let q = queues.get(store);
  if (q === undefined) queues.set(store, (q = new WriteQueue(store)));
  return q;
}

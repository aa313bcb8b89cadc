/**
 * The fleet's shared layer-result cache in the store (table `layer_cache`): one gzipped LayerResult per layer cache
 * key, bounded in total size by evicting the least recently used entries in the transaction that inserts.
 *
 * Reads refresh `last_used` at most once a minute per entry (LRU order to the minute), and that refresh is not
 * waited for: a read never queues behind SQLite's writer. Inserts on PostgreSQL take a transaction-scoped advisory
 * lock, so concurrent inserts from many API servers evict one after another and the bound holds exactly.
 */
import { sql, type Transaction } from 'kysely';
import { decodeLayerEntry, encodeLayerEntry, MAX_ENTRY_BYTES, type LayerCache, type LayerResult } from '@tally/core';
import type { Store } from './database.js';
import type { Tables } from './schema.js';

export const DEFAULT_LAYER_CACHE_MAX_BYTES = 2048 * 1024 * 1024;
/** A read older than this refreshes the entry's last_used. */
const TOUCH_AFTER_MS = 60_000;
/** pg_advisory_xact_lock key serialising inserts ('tall' in ASCII). */
const PG_LOCK = 0x74616c6c;

const count = (v: unknown): number => (typeof v === 'number' ? v : Number(v ?? 0));

/** The stored entry (gzip bytes, checked when stored), or null. */
export async function readLayerCacheEntry(store: Store, key: string): Promise<Buffer | null> {
  const row = await store.read.selectFrom('layer_cache').select(['result', 'last_used']).where('key', '=', key).executeTakeFirst();
  if (row === undefined) return null;
  const now = Date.now();
  const stale = new Date(now - TOUCH_AFTER_MS).toISOString();
  if (row.last_used < stale) {
    // Best effort: a lost refresh only makes the LRU order a little less exact.
    void store.db
      .updateTable('layer_cache')
      .set({ last_used: new Date(now).toISOString() })
      .where('key', '=', key)
      .where('last_used', '<', stale)
      .execute()
      .catch(() => undefined);
  }
  return Buffer.from(row.result);
}

export interface StoreOutcome {
  /** False when the key was already stored (the first entry is kept: keys name content). */
  readonly stored: boolean;
  /** Entries evicted to keep the bound. */
  readonly evicted: number;
}

/** Insert an entry (gzip bytes, already checked by the caller) and evict LRU entries past `maxBytes`. */
export async function storeLayerCacheEntry(store: Store, key: string, entry: Buffer, maxBytes: number): Promise<StoreOutcome> {
  if (entry.length > maxBytes) throw new RangeError(`a ${entry.length}-byte entry cannot fit a ${maxBytes}-byte layer cache`);
  const now = new Date().toISOString();
  return store.db.transaction().execute(async (trx) => {
    if (store.dialect === 'postgres') await sql`select pg_advisory_xact_lock(${PG_LOCK})`.execute(trx);
    const inserted = await trx
      .insertInto('layer_cache')
      .values({ key, result: entry, size: entry.length, created_at: now, last_used: now })
      .onConflict((oc) => oc.column('key').doNothing())
      .executeTakeFirst();
    if (count(inserted.numInsertedOrUpdatedRows) === 0) {
      await trx.updateTable('layer_cache').set({ last_used: now }).where('key', '=', key).execute();
      return { stored: false, evicted: 0 };
    }
    return { stored: true, evicted: await evict(trx, maxBytes, key) };
  });
}

/** Delete least-recently-used entries (never `keep`, the one just stored) until the total is within `maxBytes`. */
async function evict(trx: Transaction<Tables>, maxBytes: number, keep: string): Promise<number> {
  const total = await trx.selectFrom('layer_cache').select((eb) => eb.fn.sum<number>('size').as('bytes')).executeTakeFirst();
  let excess = count(total?.bytes) - maxBytes;
  let evicted = 0;
  while (excess > 0) {
    const oldest = await trx.selectFrom('layer_cache').select(['key', 'size']).where('key', '!=', keep).orderBy('last_used').orderBy('key').limit(500).execute();
    if (oldest.length === 0) break;
    const victims: string[] = [];
    for (const row of oldest) {
      if (excess <= 0) break;
      victims.push(row.key);
      excess -= count(row.size);
    }
    await trx.deleteFrom('layer_cache').where('key', 'in', victims).execute();
    evicted += victims.length;
  }
  return evicted;
}

/** Which of `keys` are stored. */
export async function presentLayerCacheKeys(store: Store, keys: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  for (let i = 0; i < keys.length; i += 500) {
    const rows = await store.read.selectFrom('layer_cache').select('key').where('key', 'in', keys.slice(i, i + 500)).execute();
    for (const r of rows) found.push(r.key);
  }
  return found;
}

export async function layerCacheUsage(store: Store): Promise<{ entries: number; bytes: number }> {
  const row = await store.read
    .selectFrom('layer_cache')
    .select((eb) => [eb.fn.countAll<number>().as('entries'), eb.fn.sum<number>('size').as('bytes')])
    .executeTakeFirst();
  return { entries: count(row?.entries), bytes: count(row?.bytes) };
}

/**
 * The shared cache as a LayerCache for processes that hold the store itself (workers on the same PostgreSQL):
 * the same table, bound and checks as the HTTP routes, without the HTTP.
 */
export class StoreLayerCache implements LayerCache {
  constructor(
    private readonly store: Store,
    private readonly maxBytes: number = DEFAULT_LAYER_CACHE_MAX_BYTES,
  ) {}

  async get(key: string): Promise<LayerResult | null> {
    const entry = await readLayerCacheEntry(this.store, key);
    if (entry === null) return null;
    try {
      return await decodeLayerEntry(entry);
    } catch {
      return null; // stored entries were checked on the way in; a damaged one is a miss
    }
  }

  async put(key: string, result: LayerResult): Promise<void> {
    const entry = await encodeLayerEntry(result);
    if (entry.length > Math.min(MAX_ENTRY_BYTES, this.maxBytes)) return; // too big to share
    await storeLayerCacheEntry(this.store, key, entry, this.maxBytes);
  }
}

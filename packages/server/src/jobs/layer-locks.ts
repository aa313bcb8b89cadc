/**
 * One pull per layer across every worker: a layer-cache wrapper that, on a miss, takes a PostgreSQL advisory lock
 * on the layer's cache key before the scan streams the blob. A second worker that misses the same layer meanwhile
 * waits for the lock, finds the first worker's result in the shared cache, and never pulls the blob. Images that
 * share base layers (most of a registry) are then pulled once per layer, not once per image per worker.
 *
 * The lock is a session lock held on its own pooled connection from the miss until the result is stored, or until
 * the scan ends (`release()`: a layer that failed to analyse must not stay locked). A worker killed mid-layer loses
 * its connection, and PostgreSQL drops the lock with it. Waiting is bounded (`waitMs`): past it the layer is pulled
 * anyway, so two scans that somehow wait on each other's layers cost a duplicate pull, never a deadlock.
 */
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { LayerCache } from '@tally/core';
import type pg from 'pg';

type LayerResult = NonNullable<Awaited<ReturnType<LayerCache['get']>>>;

/** A layer cache for one scan; `release()` frees whatever locks the scan still holds. */
export interface ScopedLayerCache extends LayerCache {
  release(): Promise<void>;
}

/** Two int4 advisory-lock keys from a cache key (64 bits of its sha256). */
export function advisoryKeys(text: string): [number, number] {
  const h = createHash('sha256').update(text).digest();
  return [h.readInt32BE(0), h.readInt32BE(4)];
}

export class LayerLocks {
  /** Layers this process pulled after taking the lock, and layers it found in the cache after waiting. */
  readonly stats = { locked: 0, waitedThenHit: 0, timedOut: 0 };

  constructor(
    private readonly pool: pg.Pool,
    private readonly waitMs = 10 * 60_000,
    private readonly pollMs = 100,
  ) {}

  scope(inner: LayerCache, signal?: AbortSignal): ScopedLayerCache {
    const held = new Map<string, pg.PoolClient>();
    const unlock = async (key: string): Promise<void> => {
      const client = held.get(key);
      if (client === undefined) return;
      held.delete(key);
      try {
        await client.query('select pg_advisory_unlock($1, $2)', advisoryKeys(key));
        client.release();
      } catch (err) {
        client.release(err instanceof Error ? err : true); // a broken connection is dropped, and its locks with it
      }
    };
    return {
      get: async (key: string): Promise<LayerResult | null> => {
        const hit = await inner.get(key);
        if (hit !== null || held.has(key)) return hit;
        const client = await this.pool.connect();
        const deadline = Date.now() + this.waitMs;
        let waited = false;
        try {
          for (;;) {
            const r = await client.query<{ ok: boolean }>('select pg_try_advisory_lock($1, $2) as ok', advisoryKeys(key));
            if (r.rows[0]?.ok === true) break;
            if (Date.now() > deadline || signal?.aborted === true) {
              this.stats.timedOut++;
              client.release();
              return null;
            }
            waited = true;
            await sleep(this.pollMs);
          }
        } catch (err) {
          client.release(err instanceof Error ? err : true);
          throw err;
        }
        held.set(key, client);
        // Whoever held the lock stored the result before letting go (also when that happened just before our try).
        const after = await inner.get(key);
        if (after !== null) {
          if (waited) this.stats.waitedThenHit++;
          await unlock(key);
          return after;
        }
        this.stats.locked++;
        return null;
      },
      put: async (key: string, result: LayerResult): Promise<void> => {
        try {
          await inner.put(key, result);
        } finally {
          await unlock(key);
        }
      },
      release: async () => {
        for (const key of [...held.keys()]) await unlock(key);
      },
    };
  }
}

/** The threads that serve the main thread run at the background priority; the main thread keeps its own. */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { BACKGROUND_NICE } from './background-thread.js';
import { InspectPool } from './ingest/inspect-pool.js';
import { openStore } from './store/database.js';
import { scratchDir } from './testing/backend.js';

/** tid → nice value of this process's threads (/proc/self/task/<tid>/stat, field 19). */
function niceByThread(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      out.set(Number(tid), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]));
    } catch {
      // The thread ended meanwhile.
    }
  }
  return out;
}

const backgroundThreads = (): number[] => [...niceByThread()].filter(([, nice]) => nice === BACKGROUND_NICE).map(([tid]) => tid);

async function eventually(predicate: () => boolean): Promise<void> {
  for (let i = 0; i < 100 && !predicate(); i++) await new Promise((r) => setTimeout(r, 50));
}

describe('background thread priority', { skip: process.platform !== 'linux' && 'nice values per thread: Linux' }, () => {
  it('runs the inspection worker and the WAL checkpointer at nice 10, the main thread at its own', async () => {
    const own = niceByThread().get(process.pid);
    assert.deepEqual(backgroundThreads(), []);
    const pool = new InspectPool(1);
    const store = await openStore({ dataDir: scratchDir() });
    try {
      await assert.rejects(pool.inspect({ bytes: Buffer.from('not json'), encoding: 'identity', limits: { maxCompressedBytes: 1 << 20, maxInflatedBytes: 1 << 20, memoryBytes: 1 << 20 } }), { statusCode: 400 });
      await eventually(() => backgroundThreads().length === 2);
      assert.equal(backgroundThreads().length, 2, 'one inspection worker and one checkpointer');
      assert.equal(niceByThread().get(process.pid), own);
    } finally {
      await pool.close();
      await store.close();
    }
  });
});

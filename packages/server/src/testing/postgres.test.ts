import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pg from 'pg';
import { startTestPostgres } from './postgres.js';

async function query<T extends pg.QueryResultRow>(url: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

describe('startTestPostgres', () => {
  it('starts a private cluster, and reuses a running server by creating and dropping a database in it', async () => {
    const own = await startTestPostgres({ url: null });
    try {
      assert.equal(own.reused, false);
      const [info] = await query<{ db: string; ctype: string }>(
        own.url,
        "select current_database() as db, (select datctype from pg_database where datname = current_database()) as ctype",
      );
      assert.deepEqual(info, { db: own.database, ctype: 'C' });

      const shared = await startTestPostgres({ url: own.url });
      assert.equal(shared.reused, true);
      assert.notEqual(shared.database, own.database);
      assert.equal((await query<{ one: number }>(shared.url, 'select 1 as one'))[0]?.one, 1);
      await shared.stop();
      await shared.stop();
      const left = await query(own.url, `select 1 from pg_database where datname = '${shared.database}'`);
      assert.equal(left.length, 0, 'the reused server keeps no test database');
    } finally {
      await own.stop();
    }
    await own.stop();
    await assert.rejects(query(own.url, 'select 1'), 'the cluster is gone after stop()');
  });
});

/**
 * ServerVulnDb: a swapped file is reopened, uploads still matching against the old one keep it open, and the
 * re-evaluation (drained()) and the change announcement (watch) wait for them, so nothing matched against an older
 * database commits after the re-evaluation has read the store.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { scratchDir, vulnDbFile } from '../testing/backend.js';
import { changeVulnDb } from './test-support.js';
import { ServerVulnDb } from './vulndb.js';

describe('ServerVulnDb', () => {
  const dir = join(scratchDir(), `vulndb-${process.pid}`);
  const path = join(dir, 'tally.db');
  let vulndb: ServerVulnDb;

  before(() => {
    mkdirSync(dir, { recursive: true });
    copyFileSync(vulnDbFile({ debian: false }), path);
    vulndb = new ServerVulnDb(path);
  });
  after(() => {
    vulndb.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('drained() waits for the leases on a replaced file; the old file stays readable until they end', async () => {
    const lease = vulndb.acquire();
    assert.ok(lease.matcher !== null && lease.db !== null);
    await changeVulnDb(path, () => undefined);
    assert.equal(vulndb.refresh(), true);
    let drained = false;
    const waiting = vulndb.drained().then(() => (drained = true));
    await sleep(100);
    assert.equal(drained, false, 'an upload still holds the old file');
    assert.ok(lease.db.advisory('GHSA-jfh8-c2jp-5v3q') !== null, 'and can still read it');
    lease.release();
    await waiting;
    assert.equal(drained, true);
  });

  it('drained() waits for uploads that started without a database once one is installed', async () => {
    renameSync(path, `${path}.away`);
    vulndb.refresh();
    const lease = vulndb.acquire();
    assert.equal(lease.matcher, null);
    await vulndb.drained(); // no database: nothing to wait for
    renameSync(`${path}.away`, path);
    vulndb.refresh();
    let drained = false;
    const waiting = vulndb.drained().then(() => (drained = true));
    await sleep(100);
    assert.equal(drained, false);
    lease.release();
    await waiting;
  });

  it('watch() announces a swap only once the uploads on the old file are done', async () => {
    let changes = 0;
    vulndb.watch(20, () => changes++);
    try {
      const lease = vulndb.acquire();
      await changeVulnDb(path, () => undefined);
      await sleep(200);
      assert.equal(changes, 0);
      lease.release();
      await sleep(200);
      assert.equal(changes, 1);
    } finally {
      vulndb.unwatch();
    }
  });

  it('drained() gives up when cancelled', async () => {
    const lease = vulndb.acquire();
    await changeVulnDb(path, () => undefined);
    vulndb.refresh();
    const stop = new AbortController();
    const waiting = vulndb.drained(stop.signal);
    stop.abort();
    await assert.rejects(waiting, /cancelled/);
    lease.release();
  });
});

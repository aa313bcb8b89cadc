import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { Advisory } from './model.js';
import { MIGRATIONS, SCHEMA_VERSION } from './schema.js';
import { vulndbStatus } from './status.js';
import { cleanStaleTemps, SqliteVulnDb, tempFilesOf, VulnDbWriter, vulndbPath } from './store.js';

let tmp = '';
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tally-store-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function adv(id: string, pkg: string, extra: Partial<Advisory> = {}): Advisory {
  return {
    id,
    aliases: [],
    related: [],
    source: 'osv:ghsa',
    summary: '',
    details: '',
    published: null,
    modified: '2024-01-01T00:00:00Z',
    cvss: [],
    severity: null,
    references: [],
    affected: [{ ecosystem: 'npm', package: pkg, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.0.0' }] }], versions: [] }],
    ...extra,
  };
}

async function put(w: VulnDbWriter, source: string, advisories: Advisory[], mode: 'replace' | 'merge' = 'replace'): Promise<void> {
  await w.importSource({ name: source, kind: 'osv', origin: `test:${source}` }, mode, async (sink) => {
    for (const a of advisories) sink.advisory(a.id, a);
  });
}

describe('schema', () => {
  it('has ordered, unique migrations and records the version', () => {
    assert.deepEqual(MIGRATIONS.map((m) => m.version), MIGRATIONS.map((_, i) => i + 1));
    const path = join(tmp, 'schema.db');
    VulnDbWriter.create(path).commit();
    const db = new Database(path, { readonly: true });
    assert.equal((db.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).get() as { value: string }).value, String(SCHEMA_VERSION));
    // The file at rest is in rollback-journal mode (header bytes 18/19 = 1), never WAL.
    db.close();
    const header = readFileSync(path).subarray(18, 20);
    assert.deepEqual([...header], [1, 1]);
    assert.equal(existsSync(`${path}-wal`), false);
  });
  it('places the database in the cache dir', () => {
    assert.equal(vulndbPath('/home/u/.cache/tally'), '/home/u/.cache/tally/db/tally.db');
  });
});

describe('SqliteVulnDb (read-only)', () => {
  it('refuses a missing file, a foreign file and an unknown schema version with typed errors', () => {
    assert.throws(() => SqliteVulnDb.open(join(tmp, 'nope.db')), { code: 'VULNDB_NOT_FOUND' });
    writeFileSync(join(tmp, 'junk.db'), 'this is not sqlite, just text that is long enough to be read as a header........');
    assert.throws(() => SqliteVulnDb.open(join(tmp, 'junk.db')), { code: 'VULNDB_CORRUPT' });
    const other = new Database(join(tmp, 'other.db'));
    other.exec('CREATE TABLE x (a)');
    other.close();
    assert.throws(() => SqliteVulnDb.open(join(tmp, 'other.db')), { code: 'VULNDB_CORRUPT' });
    const newer = join(tmp, 'newer.db');
    VulnDbWriter.create(newer).commit();
    const db = new Database(newer);
    db.prepare(`UPDATE meta SET value = '999' WHERE key = 'schema_version'`).run();
    db.close();
    assert.throws(() => SqliteVulnDb.open(newer), { code: 'VULNDB_SCHEMA' });
    assert.throws(() => VulnDbWriter.create(newer), { code: 'VULNDB_SCHEMA' });
  });

  it('answers affecting / advisory / byAlias / kev / epss, caches parsed advisories, and collapses duplicates', async () => {
    const path = join(tmp, 'read.db');
    const w = VulnDbWriter.create(path, { fresh: true });
    await put(w, 'a', [adv('GHSA-1', 'left-pad', { aliases: ['CVE-2020-1'], modified: '2024-01-01T00:00:00Z' }), adv('GHSA-2', 'left-pad')]);
    // The same record from a second file, newer: it wins; an older copy from a third file loses.
    await put(w, 'b', [adv('GHSA-1', 'left-pad', { aliases: ['CVE-2020-1'], summary: 'newer', modified: '2024-06-01T00:00:00Z' })]);
    await put(w, 'c', [adv('GHSA-1', 'left-pad', { summary: 'older', modified: '2023-01-01T00:00:00Z' })]);
    await w.importSource({ name: 'kev', kind: 'kev', origin: 'test' }, 'replace', async (sink) => {
      sink.kev({ cve: 'CVE-2020-1', dateAdded: '2021-01-01', dueDate: null, knownRansomwareCampaignUse: 'Unknown' });
      sink.epss({ cve: 'CVE-2020-1', score: 0.5, percentile: 0.9, date: '2025-01-01' });
    });
    w.commit();
    const before = readdirSync(tmp).filter((n) => n.startsWith('read.db'));
    const db = SqliteVulnDb.open(path);
    const got = db.affecting('npm', 'left-pad');
    assert.deepEqual(got.map((a) => [a.id, a.summary]).sort(), [['GHSA-1', 'newer'], ['GHSA-2', '']]);
    assert.equal(db.affecting('npm', 'left-pad')[1], got[1], 'the second lookup returns the cached object');
    assert.deepEqual(db.affecting('npm', 'right-pad'), []);
    assert.deepEqual(db.affecting('PyPI', 'left-pad'), []);
    assert.equal(db.advisoriesById('GHSA-1').length, 1);
    assert.deepEqual(db.byAlias('CVE-2020-1').map((a) => a.summary), ['newer']);
    assert.equal(db.kev('CVE-2020-1')?.knownRansomwareCampaignUse, 'Unknown');
    assert.equal(db.epss('CVE-2020-1')?.percentile, 0.9);
    assert.equal(db.kev('CVE-1999-1'), null);
    assert.deepEqual(db.ecosystems(), ['npm']);
    db.close();
    // Opening read-only leaves no journal or WAL file behind.
    assert.deepEqual(readdirSync(tmp).filter((n) => n.startsWith('read.db')), before);
  });
});

describe('VulnDbWriter', () => {
  it('replace drops vanished records; merge upserts and removes by key; a failed import rolls back', async () => {
    const path = join(tmp, 'modes.db');
    const w = VulnDbWriter.create(path, { fresh: true });
    await put(w, 's', [adv('GHSA-1', 'a'), adv('GHSA-2', 'b')]);
    await put(w, 's', [adv('GHSA-1', 'a')]);
    assert.equal(w.source('s')?.advisories, 1);
    await w.importSource({ name: 's', kind: 'osv', origin: 'x' }, 'merge', async (sink) => {
      sink.advisory('GHSA-3', adv('GHSA-3', 'c'));
      assert.equal(sink.remove('GHSA-1'), true);
      assert.equal(sink.remove('GHSA-404'), false);
    });
    assert.equal(w.source('s')?.advisories, 1);
    await assert.rejects(
      w.importSource({ name: 's', kind: 'osv', origin: 'x' }, 'replace', async (sink) => {
        sink.advisory('GHSA-9', adv('GHSA-9', 'z'));
        throw new Error('boom');
      }),
      /boom/,
    );
    assert.equal(w.source('s')?.advisories, 1);
    w.commit();
    const db = SqliteVulnDb.open(path);
    assert.deepEqual(db.affecting('npm', 'c').map((a) => a.id), ['GHSA-3']);
    assert.deepEqual(db.affecting('npm', 'a'), []);
    assert.deepEqual(db.affecting('npm', 'z'), []);
    db.close();
  });

  it('swaps atomically: an open reader keeps the old file, new readers see the new one', async () => {
    const live = vulndbPath(join(tmp, 'cache-swap'));
    const w1 = VulnDbWriter.beginSwap(live);
    await put(w1, 's', [adv('GHSA-OLD', 'pkg')]);
    w1.commit();
    const oldReader = SqliteVulnDb.open(live);
    assert.deepEqual(oldReader.affecting('npm', 'pkg').map((a) => a.id), ['GHSA-OLD']);

    const w2 = VulnDbWriter.beginSwap(live);
    assert.equal(w2.source('s')?.advisories, 1, 'the update starts from a copy of the live database');
    await put(w2, 's', [adv('GHSA-NEW', 'pkg'), adv('GHSA-NEW2', 'pkg')]);
    // Before the commit, the live file is untouched.
    const mid = SqliteVulnDb.open(live);
    assert.deepEqual(mid.affecting('npm', 'pkg').map((a) => a.id), ['GHSA-OLD']);
    mid.close();
    w2.commit();

    assert.equal(oldReader.isStale(), true);
    assert.deepEqual(oldReader.affecting('npm', 'pkg').map((a) => a.id), ['GHSA-OLD'], 'old data, never a mix');
    assert.equal(oldReader.advisory('GHSA-NEW'), null);
    oldReader.close();
    const newReader = SqliteVulnDb.open(live);
    assert.equal(newReader.isStale(), false);
    assert.deepEqual(newReader.affecting('npm', 'pkg').map((a) => a.id).sort(), ['GHSA-NEW', 'GHSA-NEW2']);
    newReader.close();
    assert.deepEqual(tempFilesOf(live), []);
    assert.equal(existsSync(`${live}.lock`), false);
    assert.equal(existsSync(`${live}-wal`), false);
  });

  it('abort leaves the live database as it was; a second writer is refused while one runs', async () => {
    const live = vulndbPath(join(tmp, 'cache-abort'));
    const w1 = VulnDbWriter.beginSwap(live);
    await put(w1, 's', [adv('GHSA-KEEP', 'pkg')]);
    w1.commit();
    const before = readFileSync(live);
    const w2 = VulnDbWriter.beginSwap(live);
    assert.throws(() => VulnDbWriter.beginSwap(live), { code: 'VULNDB_LOCKED' });
    await put(w2, 's', []);
    w2.abort();
    assert.deepEqual(readFileSync(live), before);
    assert.deepEqual(tempFilesOf(live), []);
    const w3 = VulnDbWriter.beginSwap(live); // the lock was released
    w3.abort();
  });

  it('takes over the lock and temp files of a writer that died', () => {
    const live = vulndbPath(join(tmp, 'cache-dead'));
    VulnDbWriter.beginSwap(live).commit();
    // A pid that cannot be alive (above the kernel's pid_max).
    const deadPid = 2 ** 30;
    writeFileSync(`${live}.lock`, JSON.stringify({ pid: deadPid, host: hostname(), started: new Date().toISOString() }));
    writeFileSync(`${live}.tmp-${deadPid}-abcd`, 'partial');
    const w = VulnDbWriter.beginSwap(live);
    assert.deepEqual(tempFilesOf(live).filter((n) => n.includes(String(deadPid))), []);
    w.abort();
    assert.deepEqual(cleanStaleTemps(live), []);
  });

  it('rebuilds when the live file is not a Tally database', async () => {
    const live = vulndbPath(join(tmp, 'cache-corrupt'));
    VulnDbWriter.beginSwap(live).commit();
    writeFileSync(live, 'garbage garbage garbage garbage garbage garbage garbage garbage garbage garbage');
    const w = VulnDbWriter.beginSwap(live);
    await put(w, 's', [adv('GHSA-1', 'x')]);
    w.commit();
    const db = SqliteVulnDb.open(live);
    assert.equal(db.affecting('npm', 'x').length, 1);
    db.close();
  });
});

describe('vulndbStatus', () => {
  it('reports sources, counts per ecosystem, ages and the schema version', async () => {
    const path = join(tmp, 'status.db');
    const now = new Date('2025-01-02T00:00:00Z');
    const w = VulnDbWriter.create(path, { fresh: true, now: () => new Date('2025-01-01T00:00:00Z') });
    await put(w, 'osv:npm', [adv('GHSA-1', 'a'), adv('GHSA-2', 'b', { affected: [{ ecosystem: 'npm', package: 'b', ranges: [], versions: [] }, { ecosystem: 'PyPI', package: 'b', ranges: [], versions: [] }] })]);
    w.commit();
    const s = vulndbStatus(path, now);
    assert.equal(s.schemaVersion, SCHEMA_VERSION);
    assert.equal(s.totals.advisories, 2);
    assert.equal(s.ageSeconds, 86_400);
    assert.deepEqual(s.ecosystems, [
      { ecosystem: 'PyPI', advisories: 1, packages: 1 },
      { ecosystem: 'npm', advisories: 2, packages: 2 },
    ]);
    const src = s.sources[0];
    assert.equal(src?.name, 'osv:npm');
    assert.equal(src?.importedAt, '2025-01-01T00:00:00.000Z');
    assert.equal(src?.ageSeconds, 86_400);
    assert.deepEqual(src?.ecosystems.map((e) => e.ecosystem), ['PyPI', 'npm']);
    assert.throws(() => vulndbStatus(join(tmp, 'missing.db')), { code: 'VULNDB_NOT_FOUND' });
  });
});

/**
 * The incremental re-evaluation against a from-scratch evaluation, on SQLite and on a real PostgreSQL: after each
 * real change to the server's vulnerability database (made with core's writer, as `tally db update` makes them),
 * the detections the live store holds must equal those of a new store that ingested the same reports against the
 * changed database. Reports: the real test images (scanned by the real CLI) plus synthetic images drawn from their
 * packages (testing/synth.ts); database: ../shared/vulndb plus the Debian 12 tracker fixture.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Advisory, ScanReport } from '@tally/core';
import { openStore, type Store } from '../store/database.js';
import { scanReport, scratchDir, vulnDbFile, type StoreKind } from '../testing/backend.js';
import { startTestPostgres, type TestPostgres } from '../testing/postgres.js';
import { poolFrom, synthReport } from '../testing/synth.js';
import { reevaluateAll, type ReevaluateResult } from './reevaluate.js';
import { ServerVulnDb, serverVulnDbPath } from './vulndb.js';
import { advisoriesAffecting, advisoriesWithId, allAdvisories, changeVulnDb, detectionState, uploadReport, type StoredAdvisory } from './test-support.js';

const REAL = ['debian12', 'debian11-dsa', 'rpm-sqlite', 'sca-node', 'sca-python', 'sca-java', 'sca-go', 'sca-dotnet'];

let fleet: ScanReport[] | null = null;
/** The real reports, then synthetic images from their packages (computed once per process). */
function reports(): ScanReport[] {
  if (fleet === null) {
    const real = REAL.map((name) => JSON.parse(scanReport(name, { sca: true, match: false }).toString('utf8')) as ScanReport);
    const pool = poolFrom(real);
    fleet = [...real, ...Array.from({ length: 24 }, (_, i) => synthReport(pool, i, { packages: 200, seed: 11 }))];
  }
  return fleet;
}

let scratchCount = 0;
/** A new SQLite store that ingests `uploaded` against a copy of `dbFile`: the from-scratch evaluation. */
async function fromScratch(dbFile: string, uploaded: readonly ScanReport[]): Promise<string[]> {
  const dir = join(scratchDir(), `reeval-scratch-${process.pid}-${++scratchCount}`);
  mkdirSync(join(dir, 'vulndb'), { recursive: true });
  copyFileSync(dbFile, serverVulnDbPath(dir));
  const store = await openStore({ dataDir: dir });
  const vulndb = new ServerVulnDb(serverVulnDbPath(dir));
  try {
    for (const r of uploaded) await uploadReport(store, vulndb, r, join(dir, 'tmp'));
    return await detectionState(store);
  } finally {
    vulndb.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Lookup keys the live store's pairs use that have advisories (from its evaluation records). */
async function fleetKeys(store: Store): Promise<string[]> {
  const rows = await store.read.selectFrom('evaluation_keys').select('lookup_key').distinct().where('fingerprint', 'not in', ['-', '']).execute();
  return rows.map((r) => r.lookup_key).sort();
}

/** Advisories behind detections the store holds: changing one of them changes what some image shows. */
async function detectedAdvisories(store: Store, dbFile: string): Promise<StoredAdvisory[]> {
  const ids = new Set((await store.read.selectFrom('detections').select('vuln_id').distinct().execute()).map((r) => r.vuln_id));
  return advisoriesAffecting(dbFile, await fleetKeys(store))
    .filter((s) => ids.has(s.advisory.id) || s.advisory.aliases.some((a) => ids.has(a)) || s.advisory.related.some((a) => ids.has(a)))
    .sort((a, b) => (a.advisory.id < b.advisory.id ? -1 : a.advisory.id > b.advisory.id ? 1 : a.key < b.key ? -1 : 1));
}

/** Up to `n` advisories, taken in turn from each source (so a change spans feeds and ecosystems). */
function spread(list: readonly StoredAdvisory[], n: number): StoredAdvisory[] {
  const bySource = new Map<string, StoredAdvisory[]>();
  for (const s of list) bySource.set(s.source.name, [...(bySource.get(s.source.name) ?? []), s]);
  const out: StoredAdvisory[] = [];
  for (let round = 0; out.length < n && round < list.length; round++) {
    for (const l of bySource.values()) if (l[round] !== undefined && out.length < n) out.push(l[round] as StoredAdvisory);
  }
  return out;
}

for (const kind of ['sqlite', 'postgres'] as StoreKind[]) {
  describe(`incremental re-evaluation equals a from-scratch evaluation (${kind})`, () => {
    const dataDir = join(scratchDir(), `reeval-live-${kind}-${process.pid}`);
    const dbPath = serverVulnDbPath(dataDir);
    const uploaded: ScanReport[] = [];
    let pg: TestPostgres | null = null;
    let store: Store;
    let vulndb: ServerVulnDb;

    const open = async (): Promise<void> => {
      store = await openStore({ dataDir, ...(pg !== null ? { database: pg.url } : {}) });
      vulndb = new ServerVulnDb(dbPath);
    };
    const close = async (): Promise<void> => {
      vulndb.close();
      await store.close();
    };
    const upload = async (r: ScanReport, via: ServerVulnDb = vulndb): Promise<boolean> => {
      uploaded.push(r);
      return (await uploadReport(store, via, r, join(dataDir, 'tmp'))).evaluated;
    };
    /** Re-evaluate the live store and check it against a from-scratch evaluation of the current database. */
    const reevaluate = async (): Promise<ReevaluateResult> => {
      vulndb.refresh();
      const result = await reevaluateAll(store, vulndb, { pairChunk: 97, imageChunk: 7 });
      assert.deepEqual(await detectionState(store), await fromScratch(dbPath, uploaded), 'the stored detections equal a from-scratch evaluation');
      return result;
    };

    before(async () => {
      mkdirSync(join(dataDir, 'vulndb'), { recursive: true });
      copyFileSync(vulnDbFile({ debian: true }), dbPath);
      if (kind === 'postgres') pg = await startTestPostgres();
      await open();
      for (const r of reports()) assert.ok(await upload(r), 'matched as it was stored');
    });
    after(async () => {
      await close();
      await pg?.stop();
    });

    it('starts with a full pass that records every pair; the next run with the same database matches nothing', async () => {
      const first = await reevaluate();
      assert.equal(first.mode, 'full');
      assert.equal(first.changedPairs, 0, 'ingestion already stored what a full pass computes');
      assert.ok(first.pairs > 500, `pairs: ${first.pairs}`);
      const again = await reevaluate();
      assert.equal(again.mode, 'incremental');
      assert.equal(again.pairs, 0);
    });

    it('ten advisories revised: only the pairs of their packages are matched, and their images rewritten', async () => {
      const before = await detectionState(store);
      copyFileSync(dbPath, join(dataDir, 'previous.db'));
      const ten = spread(await detectedAdvisories(store, dbPath), 10);
      assert.equal(ten.length, 10);
      await changeVulnDb(dbPath, (e) => {
        for (const s of ten) {
          const a: Advisory = { ...s.advisory, summary: `${s.advisory.summary} (revised)`, severity: { level: 'CRITICAL', source: 'test' }, modified: '2099-01-01T00:00:00Z' };
          e.revise(s, a);
        }
      });
      const r = await reevaluate();
      assert.equal(r.mode, 'incremental');
      assert.ok(r.changedKeys > 0 && r.changedKeys < 100, `changed keys: ${r.changedKeys}`);
      assert.ok(r.changedPairs > 0, 'the revision reached some detections');
      assert.ok(r.changedImages > 0 && r.changedImages <= r.images);
      assert.notDeepEqual(await detectionState(store), before);
    });

    it('an upload matched against the previous database after the run is rewritten by the next run', async () => {
      // Another server process whose file is not updated yet: the pairs it stores disagree with the records.
      const other = new ServerVulnDb(join(dataDir, 'previous.db'));
      try {
        const copy: ScanReport = { ...reports()[0]!, image: { ...reports()[0]!.image, imageId: `sha256:${'e'.repeat(64)}`, ref: 'late-upload:1', repoTags: ['late-upload:1'] } };
        assert.ok(await upload(copy, other));
      } finally {
        other.close();
      }
      const unsettled = await store.read.selectFrom('evaluation_keys').select('package_pk').distinct().where('fingerprint', '=', '').execute();
      assert.ok(unsettled.length > 0, 'pairs whose findings differ between the databases are marked');
      const r = await reevaluate();
      assert.ok(r.changedPairs >= unsettled.length);
    });

    it('an advisory removed', async () => {
      const before = await detectionState(store);
      // One that no other advisory speaks for (same id or alias), so its vulnerability leaves the images.
      const all = await detectedAdvisories(store, dbPath);
      const idsOf = (s: StoredAdvisory): string[] => [s.advisory.id, ...s.advisory.aliases, ...s.advisory.related];
      const gone = all.find((s) => all.every((o) => o === s || !idsOf(o).some((id) => idsOf(s).includes(id))));
      assert.ok(gone !== undefined);
      await changeVulnDb(dbPath, (e) => e.remove(gone));
      const r = await reevaluate();
      assert.ok(r.changedPairs > 0);
      assert.notDeepEqual(await detectionState(store), before);
    });

    it('a fixed version changed while the server was stopped: the records in the store drive the next start', async () => {
      const before = await detectionState(store);
      const debian = (await detectedAdvisories(store, dbPath)).find((s) =>
        s.advisory.affected.some((f) => f.ecosystem.startsWith('Debian:') && f.ranges.some((r) => r.events.some((ev) => 'fixed' in ev))),
      );
      assert.ok(debian !== undefined);
      await close();
      const bumped: Advisory = {
        ...debian.advisory,
        affected: debian.advisory.affected.map((f) =>
          f.ecosystem.startsWith('Debian:') ? { ...f, ranges: f.ranges.map((r) => ({ ...r, events: r.events.map((ev) => ('fixed' in ev ? { fixed: `${ev.fixed}+revised1` } : ev)) })) } : f,
        ),
      };
      await changeVulnDb(dbPath, (e) => e.revise(debian, bumped));
      await open();
      const r = await reevaluate();
      assert.equal(r.mode, 'incremental');
      assert.ok(r.changedPairs > 0);
      assert.notDeepEqual(await detectionState(store), before);
    });

    it('KEV added: the detections of that CVE say so', async () => {
      const candidates = await store.read.selectFrom('detections').select('vuln_id').distinct().where('kev', '=', 0).where('vuln_id', 'like', 'CVE-%').orderBy('vuln_id').execute();
      const cve = candidates[0]?.vuln_id;
      assert.ok(cve !== undefined);
      await changeVulnDb(dbPath, (e) => e.kev(cve));
      const r = await reevaluate();
      assert.ok(r.changedPairs > 0);
      const flagged = await store.read.selectFrom('detections').select('kev').distinct().where('vuln_id', '=', cve).execute();
      assert.deepEqual(
        flagged.map((f) => Number(f.kev)),
        [1],
      );
    });

    it('a record for a package no image has, named like a stored finding, reaches that finding (advisory(id) lookups)', async () => {
      // As when the Debian tracker adds CVE-X for a golang-1.xx source package: a Go module's finding CVE-X (from a
      // GO- record aliasing it) now also carries that record's CVSS, though no stored package is in its affected list.
      const before = await detectionState(store);
      const findings = await store.read.selectFrom('detections').select('vuln_id').distinct().where('vuln_id', 'like', 'CVE-%').where('class', '=', 'lang').orderBy('vuln_id').execute();
      const withRecord = new Set(advisoriesWithId(dbPath, findings.map((f) => f.vuln_id)).map((s) => s.advisory.id));
      const cve = findings.map((f) => f.vuln_id).find((id) => !withRecord.has(id));
      assert.ok(cve !== undefined);
      const record: Advisory = {
        id: cve,
        aliases: [],
        related: [],
        source: 'test',
        summary: 'a record for a package no image has',
        details: '',
        published: null,
        modified: '2026-11-29T00:00:00Z',
        cvss: [{ type: 'CVSS_V3', vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', source: 'test' }],
        severity: null,
        references: [],
        affected: [{ ecosystem: 'Debian:12', package: 'tally-test-not-installed', ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }], versions: [] }],
      };
      await changeVulnDb(dbPath, (e) => e.revise({ source: { name: 'test:extra', kind: 'osv', origin: 'test' }, key: cve, advisory: record }, record));
      const r = await reevaluate();
      assert.ok(r.changedPairs > 0, `${cve} reached a finding`);
      assert.notDeepEqual(await detectionState(store), before);
    });

    it('the CVSS score that was the maximum of some images lowered: their extremes are recounted', async () => {
      // An image whose maximum only one vulnerability holds, and every advisory that vulnerability goes by.
      const top = await store.read
        .selectFrom('detections as d')
        .innerJoin('images as i', 'i.pk', 'd.image_pk')
        .innerJoin('finding_data as f', 'f.hash', 'd.finding')
        .select(['i.image_id', 'i.cvss_max', (eb) => eb.fn.min('d.vuln_id').as('vuln_id'), (eb) => eb.fn.min('f.data').as('data')])
        .whereRef('d.cvss_score', '=', 'i.cvss_max')
        .groupBy(['i.image_id', 'i.cvss_max'])
        .having((eb) => eb.fn.count('d.vuln_id').distinct(), '=', 1)
        .orderBy('vuln_id')
        .executeTakeFirst();
      assert.ok(top !== undefined);
      const ids = new Set([top.vuln_id, ...(JSON.parse(top.data) as { aliases: string[] }).aliases]);
      const low = { type: 'CVSS_V3' as const, vector: 'CVSS:3.1/AV:L/AC:H/PR:H/UI:R/S:U/C:N/I:N/A:L', source: 'test' };
      const named = allAdvisories(dbPath).filter((s) => [s.advisory.id, ...s.advisory.aliases, ...s.advisory.related].some((id) => ids.has(id)));
      await changeVulnDb(dbPath, (e) => named.forEach((s) => e.revise(s, { ...s.advisory, cvss: [low], modified: '2099-03-01T00:00:00Z' })));
      await reevaluate();
      const after = await store.read.selectFrom('images').select('cvss_max').where('image_id', '=', top.image_id).executeTakeFirstOrThrow();
      assert.ok(after.cvss_max === null || Number(after.cvss_max) < Number(top.cvss_max), `${top.vuln_id} no longer holds ${top.image_id}'s maximum`);
    });

    it('a run stopped after its first chunk of images, then run again, gives no finding twice', async () => {
      // A new advisory for the package most images have: one new detection per holding.
      const [widest] = await store.read
        .selectFrom('evaluation_keys')
        .select(['lookup_key', (eb) => eb.fn.countAll<number>().as('n')])
        .where('lookup_key', 'like', '["Debian:12"%')
        .groupBy('lookup_key')
        .orderBy('n', 'desc')
        .orderBy('lookup_key')
        .limit(1)
        .execute();
      assert.ok(widest !== undefined);
      const [ecosystem, name] = JSON.parse(widest.lookup_key) as [string, string];
      const record: Advisory = {
        id: 'CVE-2099-0001',
        aliases: [],
        related: [],
        source: 'test',
        summary: `every ${name}`,
        details: '',
        published: null,
        modified: '2026-11-29T00:00:00Z',
        cvss: [],
        severity: { level: 'HIGH', source: 'debian' },
        references: [],
        affected: [{ ecosystem, package: name, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }], versions: [] }],
      };
      await changeVulnDb(dbPath, (e) => e.revise({ source: { name: 'test:extra', kind: 'osv', origin: 'test' }, key: record.id, advisory: record }, record));
      vulndb.refresh();
      // Progress counts pairs, then images once the rewrite starts (the total grows): stop after the first chunk.
      const stop = new AbortController();
      let pairs: number | null = null;
      const first = reevaluateAll(store, vulndb, {
        imageChunk: 3,
        signal: stop.signal,
        onProgress: (_done, total) => {
          pairs ??= total;
          if (total > pairs) stop.abort();
        },
      });
      await assert.rejects(first, /cancelled/);
      const r = await reevaluate();
      assert.ok(r.added > 0);
      const twice = await store.read
        .selectFrom('detections')
        .select(['image_package_pk', (eb) => eb.fn.countAll<number>().as('n')])
        .where('vuln_id', '=', record.id)
        .groupBy('image_package_pk')
        .having((eb) => eb.fn.countAll(), '>', 1)
        .execute();
      assert.deepEqual(twice, []);
    });

    it('images stored while there was no database are evaluated when one is installed', async () => {
      renameSync(dbPath, `${dbPath}.away`);
      vulndb.refresh();
      const pool = poolFrom(reports().slice(0, REAL.length));
      for (let i = 100; i < 102; i++) assert.equal(await upload(synthReport(pool, i, { packages: 150, seed: 11 })), false, 'stored unevaluated');
      renameSync(`${dbPath}.away`, dbPath);
      const r = await reevaluate();
      assert.equal(r.unevaluatedImages, 2);
    });

    it('every advisory revised (a re-import that changes every finding): each image is read once and rewritten', async () => {
      const every = allAdvisories(dbPath);
      await changeVulnDb(dbPath, (e) => every.forEach((s) => e.revise(s, { ...s.advisory, summary: `${s.advisory.summary} (re-imported)`, modified: '2099-06-01T00:00:00Z' })));
      const r = await reevaluate();
      assert.equal(r.changedImages, r.images);
      assert.ok(r.updated > 1000 && r.added === 0 && r.removed === 0, `${r.updated} detections updated in place`);
    });

    it('no change: a new file with the same content matches zero pairs', async () => {
      const before = await detectionState(store);
      await changeVulnDb(dbPath, () => undefined);
      const r = await reevaluate();
      assert.equal(r.mode, 'incremental');
      assert.equal(r.changedKeys, 0);
      assert.equal(r.pairs, 0);
      assert.equal(r.changedImages, 0);
      assert.deepEqual(await detectionState(store), before);
    });
  });
}

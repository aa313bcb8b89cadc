/**
 * The fleet lists read from the aggregates (fleet-lists.ts, store/fleet-aggregates.ts) against an oracle: the
 * grouped queries over image_packages and detections that the routes ran per request before the aggregates existed.
 * On SQLite and a real PostgreSQL, after real uploads (the real test images, synthetic images drawn from their
 * packages, and edited reports that put one package in an image twice and one group under two dictionary rows),
 * after inventories are replaced, after an update limited to some vulnerability ids, and after a re-evaluation; every
 * sort, searches over every field, two page shapes.
 * The maintained aggregates must also equal a rebuild from the rows.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, renameSync } from 'node:fs';
import type { Package, ScanReport } from '@tally/core';
import { sql, type ExpressionBuilder, type Kysely } from 'kysely';
import { scanReport, startTestBackend, vulnDbFile, type StoreKind, type TestBackend } from '../testing/backend.js';
import { poolFrom, synthReport } from '../testing/synth.js';
import { serverVulnDbPath } from '../evaluate/vulndb.js';
import { SEVERITY_RANK } from '../evaluate/posture.js';
import { beginFleetUpdate, foldPackageLog, foldPacing, rebuildFleetAggregates } from '../store/fleet-aggregates.js';
import { writeQueueOf } from '../store/write-queue.js';
import { imagesHoldingAny } from '../store/package-holders.js';
import { recountImages } from '../ingest/records.js';
import { migrateToLatest } from '../store/migrations.js';
import type { Tables } from '../store/schema.js';
import { buildCondition, type ResolvedQuery } from '../query/index.js';
import { num, resolveQ, usesField, type Sort } from './context.js';
import { fieldTables } from './fields.js';
import { settlePackageCounts, softwarePage, vulnerabilityPage, type SoftwareSortField, type VulnerabilitySortField } from './fleet-lists.js';

const SAMPLE = 20;
const SEVERITY_BY_RANK = Object.fromEntries(Object.entries(SEVERITY_RANK).map(([k, v]) => [v, k])) as Record<number, string>;
type Page = { limit: number; offset: number };

/** The software list as grouped per request before the aggregates. */
async function oracleSoftware(db: Kysely<Tables>, resolved: ResolvedQuery<Tables, 'packages'>, sort: Sort<SoftwareSortField>, { limit, offset }: Page) {
  const dir = sort.desc ? 'desc' : 'asc';
  const members = db
    .selectFrom('packages')
    .where((eb) => eb.exists(eb.selectFrom('image_packages').select(sql<number>`1`.as('one')).whereRef('image_packages.package_pk', '=', 'packages.pk')))
    .where((eb) => buildCondition(resolved, eb));
  const totalRow = await db
    .selectFrom(members.select(['packages.name', 'packages.version', 'packages.type']).groupBy(['packages.name', 'packages.version', 'packages.type']).as('g'))
    .select((eb) => eb.fn.countAll<number>().as('n'))
    .executeTakeFirst();
  let groupsQ = members
    .select(['packages.name', 'packages.version', 'packages.type', (eb) => eb.fn.min('packages.purl').as('purl'), (eb) => eb.fn.min('packages.class').as('class')])
    .groupBy(['packages.name', 'packages.version', 'packages.type']);
  if (sort.field === 'images') {
    groupsQ = groupsQ.orderBy(
      (eb) =>
        eb
          .selectFrom('image_packages')
          .innerJoin('packages as p2', 'p2.pk', 'image_packages.package_pk')
          .select((e2) => e2.fn.count<number>('image_packages.image_pk').distinct().as('c'))
          .whereRef('p2.name', '=', 'packages.name')
          .whereRef('p2.version', '=', 'packages.version')
          .whereRef('p2.type', '=', 'packages.type'),
      dir,
    );
  } else groupsQ = groupsQ.orderBy(`packages.${sort.field}`, dir);
  // Ties: ascending after an images sort; in the sort's direction otherwise (a descending page reverses the ascending order).
  const ties = sort.field === 'images' ? 'asc' : dir;
  const groups = await groupsQ.orderBy('packages.name', ties).orderBy('packages.version', ties).orderBy('packages.type', ties).limit(limit).offset(offset).execute();
  const items = [];
  for (const g of groups) {
    const pks = (await db.selectFrom('packages').select('pk').where('name', '=', g.name).where('version', '=', g.version).where('type', '=', g.type).execute()).map((r) => r.pk);
    const stats = await db
      .selectFrom('image_packages')
      .select([(eb) => eb.fn.count<number>('image_pk').distinct().as('images')])
      .where('package_pk', 'in', pks)
      .executeTakeFirst();
    const scanTypes = await db.selectFrom('image_packages').select('scan_type').distinct().where('package_pk', 'in', pks).execute();
    const sample = await db
      .selectFrom('images')
      .select('image_id')
      .where('pk', 'in', (eb) => eb.selectFrom('image_packages').select('image_pk').where('package_pk', 'in', pks))
      .orderBy('pk')
      .limit(SAMPLE)
      .execute();
    items.push({
      name: g.name,
      version: g.version,
      type: g.type,
      purl: g.purl ?? '',
      class: g.class ?? '',
      images: num(stats?.images),
      imageIds: sample.map((s) => s.image_id),
      scanTypes: scanTypes.map((s) => s.scan_type).sort(),
    });
  }
  return { items, total: num(totalRow?.n) };
}

/** The vulnerabilities list as grouped per request before the aggregates. */
async function oracleVulnerabilities(db: Kysely<Tables>, resolved: ResolvedQuery<Tables, 'detections' | 'packages'>, sort: Sort<VulnerabilitySortField>, { limit, offset }: Page) {
  const dir = sort.desc ? 'desc' : 'asc';
  const base = db
    .selectFrom('detections')
    .$if(
      usesField(resolved, (f) => f.startsWith('software.')),
      (qb) => qb.innerJoin('packages', 'packages.pk', 'detections.package_pk'),
    )
    .where((eb) => buildCondition(resolved, eb as ExpressionBuilder<Tables, 'detections' | 'packages'>));
  const totalRow = await base.select((eb) => eb.fn.count<number>('detections.vuln_id').distinct().as('n')).executeTakeFirst();
  let groupsQ = base
    .select([
      'detections.vuln_id',
      (eb) => eb.fn.min('detections.severity_rank').as('rank'),
      (eb) => eb.fn.count<number>('detections.image_pk').distinct().as('images'),
      (eb) => eb.fn.max('detections.cvss_score').as('cvss'),
      (eb) => eb.fn.max('detections.epss').as('epss'),
      (eb) => eb.fn.max('detections.kev').as('kev'),
      (eb) => eb.fn.max('detections.has_fix').as('fixable'),
    ])
    .groupBy('detections.vuln_id');
  switch (sort.field) {
    case 'severity':
      groupsQ = groupsQ.orderBy('rank', dir).orderBy('images', sort.desc ? 'asc' : 'desc');
      break;
    case 'images':
      groupsQ = groupsQ.orderBy('images', dir);
      break;
    case 'cvss':
      groupsQ = groupsQ.orderBy('cvss', (ob) => (sort.desc ? ob.desc() : ob.asc()).nullsLast());
      break;
    case 'epss':
      groupsQ = groupsQ.orderBy('epss', (ob) => (sort.desc ? ob.desc() : ob.asc()).nullsLast());
      break;
    case 'id':
      break;
  }
  const groups = await groupsQ.orderBy('detections.vuln_id', sort.field === 'id' ? dir : 'asc').limit(limit).offset(offset).execute();
  const items = [];
  for (const g of groups) {
    const sample = await db
      .selectFrom('images')
      .select('image_id')
      .where('pk', 'in', (eb) => eb.selectFrom('detections').select('image_pk').where('vuln_id', '=', g.vuln_id))
      .orderBy('pk')
      .limit(SAMPLE)
      .execute();
    const pkgs = await db
      .selectFrom('packages')
      .select('name')
      .distinct()
      .where('pk', 'in', (eb) => eb.selectFrom('detections').select('package_pk').where('vuln_id', '=', g.vuln_id))
      .orderBy('name')
      .limit(SAMPLE)
      .execute();
    const scanTypes = await db.selectFrom('detections').select('scan_type').distinct().where('vuln_id', '=', g.vuln_id).execute();
    items.push({
      id: g.vuln_id,
      severity: SEVERITY_BY_RANK[num(g.rank)] ?? 'UNKNOWN',
      images: num(g.images),
      imageIds: sample.map((s) => s.image_id),
      packages: pkgs.map((p) => p.name),
      scanTypes: scanTypes.map((s) => s.scan_type).sort(),
      cvssScore: g.cvss === null ? null : num(g.cvss),
      kev: num(g.kev) === 1,
      epss: g.epss === null ? null : num(g.epss),
      fixAvailable: num(g.fixable) === 1,
    });
  }
  return { items, total: num(totalRow?.n) };
}

const PAGES: readonly Page[] = [
  { limit: 500, offset: 0 },
  { limit: 7, offset: 3 },
];

/** What the aggregates and the per-image counts hold, by natural keys (live sets only: empty ones are kept for reuse). */
async function aggregateState(db: Kysely<Tables>): Promise<string[]> {
  const counts = await db
    .selectFrom('images')
    .select(['image_id', 'packages_total', 'vulns_total', 'vulns_critical', 'vulns_high', 'vulns_medium', 'vulns_low', 'vulns_negligible', 'vulns_unknown', 'cvss_max', 'cvss_min'])
    .execute();
  const scanCounts = await db.selectFrom('scans as s').innerJoin('images as i', 'i.pk', 's.image_pk').select(['i.image_id', 's.scan_type', 's.vulns']).execute();
  const types = await db.selectFrom('image_package_types as t').innerJoin('images as i', 'i.pk', 't.image_pk').select(['i.image_id', 't.type']).execute();
  const packages = await db.selectFrom('fleet_packages').selectAll().execute();
  const scans = await db.selectFrom('fleet_package_scans as s').innerJoin('packages as p', 'p.pk', 's.package_pk').select(['p.pkey', 's.scan_type', 's.images']).execute();
  const sets = await db.selectFrom('fleet_vuln_sets').select(['skey', 'vuln_id', 'images']).where('images', '>', 0).execute();
  const vulns = await db.selectFrom('fleet_vulns').selectAll().execute();
  const totals = await db.selectFrom('fleet_totals').selectAll().where('n', '<>', 0).execute();
  assert.equal(num(totals.find((t) => t.name === 'packages')?.n), packages.length, 'fleet_totals counts fleet_packages');
  const line = (tag: string, row: Record<string, unknown>): string => JSON.stringify([tag, ...Object.values(row).map((v) => (typeof v === 'number' || v === null ? v : String(v)))]);
  return [...counts.map((r) => line('i', r)), ...scanCounts.map((r) => line('c', r)), ...types.map((r) => line('y', r)), ...packages.map((r) => line('p', r)), ...scans.map((r) => line('s', r)), ...sets.map((r) => line('v', r)), ...vulns.map((r) => line('f', r)), ...totals.map((r) => line('t', r))].sort();
}

const REAL = ['debian12', 'debian12-layers', 'sca-node', 'sca-python', 'sca-java', 'sca-go', 'sca-dotnet'];

/** The report with its first `n` packages of a scan type twice: once at a second path, once as another dictionary row. */
function withDuplicates(r: ScanReport, n: number): ScanReport {
  const extra: Package[] = [];
  for (const p of r.packages.filter((x) => x.scanType === 'SCA').slice(0, n)) {
    const id = (tag: string) => createHash('sha256').update(`${p.id} ${tag}`).digest('hex');
    extra.push({ ...p, id: id('second path'), locations: p.locations.map((l) => `/second${l}`) });
    extra.push({ ...p, id: id('qualified'), purl: `${p.purl}?arch=x86_64`, locations: p.locations.map((l) => `/qualified${l}`) });
  }
  return { ...r, packages: [...r.packages, ...extra], summary: { packages: { ...r.summary.packages, total: r.packages.length + extra.length, lang: r.summary.packages.lang + extra.length } } };
}

const storeKinds = (process.env['TALLY_TEST_STORES'] ?? 'sqlite,postgres').split(',').filter((k): k is StoreKind => k === 'sqlite' || k === 'postgres');

for (const kind of storeKinds) {
  describe(`fleet lists from the aggregates equal grouping the rows (${kind})`, { timeout: 600_000 }, () => {
    let tb: TestBackend;
    const real = REAL.map((name) => JSON.parse(scanReport(name, { sca: true, match: false }).toString('utf8')) as ScanReport);
    const pool = poolFrom(real);
    const synth = Array.from({ length: 14 }, (_, i) => synthReport(pool, i, { packages: 120, seed: 5 }));

    const upload = async (report: ScanReport): Promise<void> => {
      const r = await tb.backend.app.inject({
        method: 'POST',
        url: '/api/v1/scans',
        headers: { authorization: `Bearer ${tb.tokens.sensor}`, 'content-type': 'application/json', 'x-tally-protocol': '1', 'x-tally-sensor-host': 'fleet-lists-test' },
        payload: JSON.stringify(report),
      });
      assert.equal(r.statusCode, 201, r.body);
    };

    /** Every case through both paths; the aggregates against a rebuild (rolled back). */
    const check = async (): Promise<void> => {
      const store = tb.backend.store;
      const fields = fieldTables(store.dialect);
      const db = store.read;
      const imageIds = (await db.selectFrom('images').select('image_id').orderBy('pk').execute()).map((r) => r.image_id);
      const repo = (await db.selectFrom('image_refs').select('repo').orderBy('repo').executeTakeFirstOrThrow()).repo;
      const someImage = imageIds[Math.floor(imageIds.length / 2)] as string;

      const softwareSorts: SoftwareSortField[] = ['name', 'version', 'type', 'images'];
      const softwareQs = ['', 'name:libc6', 'scanType:SCA', 'NOT scanType:SCA', 'scanType:SCA AND scanType:Static', 'class:os', 'purl:*arch=*', 'NOT purl:*arch=*', `imageId:"${someImage}"`, 'lib*', 'type:npm OR type:deb'];
      let cases = 0;
      for (const q of softwareQs) {
        const resolved = resolveQ(q, fields.fleetSoftware);
        for (const field of q === '' ? softwareSorts : ['name', 'images'] as SoftwareSortField[]) {
          for (const desc of [false, true]) {
            for (const page of PAGES) {
              const sort = { field, desc };
              assert.deepEqual(await softwarePage(store, resolved, sort, page), await oracleSoftware(db, resolved, sort, page), `software q=${q} sort=${desc ? '-' : ''}${field} ${JSON.stringify(page)}`);
              cases++;
            }
          }
        }
      }
      const vulnSorts: VulnerabilitySortField[] = ['severity', 'id', 'images', 'cvss', 'epss'];
      const vulnQs = [
        '',
        'scanType:SCA',
        'severity>=HIGH',
        'NOT severity:LOW',
        'fixed:true',
        'kev:false OR epss>0.1',
        'cvss>=7',
        'id:CVE-2021-*',
        'software.name:libc6',
        'software.type:npm AND NOT scanType:Static',
        'class:os AND status:affected',
        'libc',
        'layer:0',
        `imageId:"${someImage}"`,
        `repo:"${repo}"`,
        'software.version:1*',
      ];
      for (const q of vulnQs) {
        const resolved = resolveQ(q, fields.fleetVulnerabilities);
        for (const field of q === '' ? vulnSorts : (['severity', 'cvss'] as VulnerabilitySortField[])) {
          for (const desc of [false, true]) {
            for (const page of PAGES) {
              const sort = { field, desc };
              assert.deepEqual(
                await vulnerabilityPage(db, store.dialect, resolved, sort, page),
                await oracleVulnerabilities(db, resolved, sort, page),
                `vulnerabilities q=${q} sort=${desc ? '-' : ''}${field} ${JSON.stringify(page)}`,
              );
              cases++;
            }
          }
        }
      }
      assert.ok(cases > 200);
      await settlePackageCounts(store);
      const kept = await aggregateState(store.db);
      const rebuilt = await store.db
        .transaction()
        .execute(async (trx) => {
          await rebuildFleetAggregates(trx, store.dialect);
          await recountImages(trx, (await trx.selectFrom('images').select('pk').execute()).map((r) => r.pk));
          throw Object.assign(new Error('rolled back'), { state: await aggregateState(trx) });
        })
        .catch((e: { state?: string[] }) => e.state);
      assert.deepEqual(kept, rebuilt, 'the maintained aggregates and image counts equal a rebuild from the rows');

      // The package → images lookup (an FTS5 index on SQLite, kept beside the rows) gives, for every package, exactly
      // the images whose rows hold it.
      const rows = await db.selectFrom('image_packages').select(['package_pk', 'image_pk']).distinct().execute();
      const expected = new Map<number, number[]>();
      for (const r of rows) expected.set(num(r.package_pk), [...(expected.get(num(r.package_pk)) ?? []), num(r.image_pk)]);
      for (const [pk, images] of expected) {
        const got = (await imagesHoldingAny(db, store.dialect, [pk]).execute()).map((r) => num(r.image_pk));
        assert.deepEqual([...new Set(got)].sort((a, b) => a - b), images.sort((a, b) => a - b), `images holding package ${pk}`);
      }
      const some = [...expected.keys()].slice(0, 300);
      const union = (await imagesHoldingAny(db, store.dialect, some).execute()).map((r) => num(r.image_pk));
      assert.deepEqual([...new Set(union)].sort((a, b) => a - b), [...new Set(some.flatMap((pk) => expected.get(pk) ?? []))].sort((a, b) => a - b), 'images holding any of 300 packages');
    };

    before(async () => {
      tb = await startTestBackend(kind);
    });
    after(async () => {
      await tb?.close();
    });

    it('after uploads of real and synthetic images, with packages twice in an image and groups of two rows', async () => {
      for (const r of [...real, ...synth.slice(0, 12), withDuplicates(synth[12] as ScanReport, 10), withDuplicates(real[2] as ScanReport, 5)]) await upload(r);
      await settlePackageCounts(tb.backend.store);
      const total = await tb.backend.store.read.selectFrom('fleet_packages').select((eb) => eb.fn.sum<number>('images').as('n')).executeTakeFirstOrThrow();
      assert.ok(num(total.n) > 1000);
      await check();
    });

    /** A new image holding one package no other image has (named `name`), uploaded right after a fold: its counter change is logged. */
    const uploadProbe = async (name: string): Promise<void> => {
      const store = tb.backend.store;
      const base = synth[3] as ScanReport;
      const p = base.packages.find((x) => x.type === 'npm') as Package;
      const probe = { ...p, id: createHash('sha256').update(name).digest('hex'), name, purl: `pkg:npm/${name}@${p.version}` };
      // A fold just now, and the next one not due for a minute: the upload's change is logged rather than applied.
      const pacing = foldPacing.everyMs;
      foldPacing.everyMs = 60_000;
      try {
        await store.db.transaction().execute((trx) => foldPackageLog(trx, store.dialect));
        await upload({ ...base, image: { ...base.image, imageId: `sha256:${createHash('sha256').update(`${name} image`).digest('hex')}` }, packages: [...base.packages, probe] });
      } finally {
        foldPacing.everyMs = pacing;
      }
      assert.ok((await store.read.selectFrom('fleet_package_log').select('pk').execute()).length >= 1, 'the upload logged its package counter changes');
      assert.equal((await store.read.selectFrom('fleet_packages').select('name').where('name', '=', name).execute()).length, 0, 'not yet applied');
    };
    const listed = async (name: string): Promise<[string, number][]> => {
      const store = tb.backend.store;
      const page = await softwarePage(store, resolveQ(`name:${name}`, fieldTables(store.dialect).fleetSoftware), { field: 'name', desc: false }, { limit: 10, offset: 0 });
      return page.items.map((i) => [i.name, i.images]);
    };

    it('package counters wait in their log, and the software list folds it in before reading', async () => {
      await uploadProbe('fleet-log-probe');
      assert.deepEqual(await listed('fleet-log-probe'), [['fleet-log-probe', 1]]);
      assert.equal((await tb.backend.store.read.selectFrom('fleet_package_log').select('pk').execute()).length, 0, 'the log was folded');
      await check();
    });

    it('the software list does not wait long for a writer held by another transaction: it reads the counters as of the last fold', { skip: kind !== 'sqlite' && 'PostgreSQL folds beside other writers' }, async () => {
      await uploadProbe('fleet-log-probe-held');
      let release = (): void => undefined;
      const gate = new Promise<void>((resolve) => (release = resolve));
      // SQLite's one writer connection, held as a huge upload would hold it.
      const holding = tb.backend.store.db.transaction().execute(() => gate);
      const started = performance.now();
      try {
        assert.deepEqual(await listed('fleet-log-probe-held'), [], 'read as of the last fold');
        const waited = performance.now() - started;
        assert.ok(waited >= 900 && waited < 10_000, `waited ${waited} ms for the writer, then read`);
      } finally {
        release();
        await holding;
      }
      assert.deepEqual(await listed('fleet-log-probe-held'), [['fleet-log-probe-held', 1]]);
      await check();
    });

    it('after inventories are replaced: a smaller rescan, a Static-only and a Dynamic-only upload, an SCA-only one', async () => {
      const s0 = synth[0] as ScanReport;
      await upload({ ...s0, scannedAt: '2026-02-01T00:00:00.000Z', packages: s0.packages.filter((_, i) => i % 2 === 0) });
      const node = real[2] as ScanReport;
      await upload({ ...node, scannedAt: '2026-02-02T00:00:00.000Z', scanTypes: ['Static'], sensor: { ...node.sensor, performScaScan: false }, packages: node.packages.filter((p) => p.scanType === 'Static') });
      const debian = real[0] as ScanReport;
      await upload({ ...debian, scannedAt: '2026-02-03T00:00:00.000Z', scanTypes: ['Dynamic'], packages: debian.packages.filter((p) => p.scanType === 'Static').slice(5).map((p) => ({ ...p, scanType: 'Dynamic' as const })) });
      const s1 = synth[1] as ScanReport;
      await upload({ ...s1, scannedAt: '2026-02-04T00:00:00.000Z', scanTypes: ['SCA'], packages: (synth[13] as ScanReport).packages.filter((p) => p.scanType === 'SCA') });
      await check();
    });

    it('after uploads committed together (a group commit on SQLite), one member rolled back after its fleet update', async () => {
      const store = tb.backend.store;
      const queue = writeQueueOf(store);
      const victim = (await store.read.selectFrom('images').select('pk').orderBy('pk').executeTakeFirstOrThrow()).pk;
      // Every piece of work through the queue notes its transaction; the failing one is queued right behind the
      // first upload, so it runs between uploads.
      const transactions: unknown[] = [];
      let failing: Promise<unknown> | null = null; // settles to the work's error
      const run = queue.run.bind(queue);
      // Parsing in a worker thread ends at different times for each upload: the three reach the writer together.
      let arriving = 0;
      let allArrived = (): void => undefined;
      const arrived = new Promise<void>((resolve) => (allArrived = resolve));
      queue.run = async (work, groupable) => {
        if (++arriving === 3) allArrived();
        await arrived;
        const queued = run((trx) => {
          transactions.push(trx);
          return work(trx);
        }, groupable);
        failing ??= run(async (trx) => {
          transactions.push(trx);
          const fleet = await beginFleetUpdate(trx, store.dialect, [victim]);
          await trx.deleteFrom('detections').where('image_pk', '=', victim).execute();
          await trx.deleteFrom('image_packages').where('image_pk', '=', victim).execute();
          await fleet.finish();
          throw new Error('rolled back on purpose');
        }, true).then(
          () => null,
          (error: unknown) => error,
        );
        return queued;
      };
      try {
        const s2 = synth[2] as ScanReport;
        await Promise.all([
          upload(synth[13] as ScanReport),
          upload({ ...s2, scannedAt: '2026-02-05T00:00:00.000Z', packages: s2.packages.slice(0, 40) }),
          upload({ ...s2, scannedAt: '2026-02-06T00:00:00.000Z', packages: s2.packages.slice(20, 90) }),
        ]);
      } finally {
        queue.run = run;
      }
      assert.match(String(await failing), /rolled back on purpose/);
      assert.equal(transactions.length, 4);
      if (store.dialect === 'sqlite') assert.equal(new Set(transactions).size, 1, 'the four ran in one transaction');
      await check();
    });

    it('after an update limited to some vulnerability ids (vulnIds): some detections deleted, others revised', async () => {
      const store = tb.backend.store;
      const ids = (await store.read.selectFrom('fleet_vulns').select('vuln_id').orderBy('images', 'desc').orderBy('vuln_id').limit(2).execute()).map((r) => r.vuln_id);
      const images = (await store.read.selectFrom('images').select('pk').orderBy('pk').execute()).map((r) => r.pk);
      await store.db.transaction().execute(async (trx) => {
        const fleet = await beginFleetUpdate(trx, store.dialect, images, { packages: false, vulnIds: ids.map((id) => id.toLowerCase()) });
        await trx
          .deleteFrom('detections')
          .where('vuln_id', '=', ids[0] as string)
          .where('image_pk', 'in', images.filter((_, i) => i % 2 === 0))
          .execute();
        // A revised finding: new columns under a new finding hash, as the matcher would write it.
        await trx
          .updateTable('detections')
          .set({ severity: 'CRITICAL', severity_rank: 0, kev: 1, finding: sql<string>`finding || '-revised'` })
          .where('vuln_id', '=', ids[1] as string)
          .where('image_pk', 'in', images.filter((_, i) => i % 3 === 0))
          .execute();
        await fleet.finish();
        await recountImages(trx, images, { packages: false }); // as every writer of detections does
      });
      await check();
    });

    it('after migration 0007 on a store whose fleet_vulns rows went stale (the PostgreSQL race fixed by the advisory lock)', async () => {
      const store = tb.backend.store;
      const top = await store.read.selectFrom('fleet_vulns').select('vuln_id').orderBy('images', 'desc').orderBy('vuln_id').limit(3).execute();
      assert.equal(top.length, 3);
      await store.db
        .updateTable('fleet_vulns')
        .set((eb) => ({ images: eb('images', '+', 1000) }))
        .where(
          'vuln_id',
          'in',
          top.map((r) => r.vuln_id),
        )
        .execute();
      // 0007 and the migrations after it (Kysely runs only the tail of the list; each is idempotent).
      await store.db.deleteFrom('tally_migrations' as never).where('name' as never, '>=', '0007_fleet_vulns_refresh' as never).execute();
      await migrateToLatest(store.db, store.dialect);
      await check();
    });

    it('after migration 0013 rebuilt the package dictionary: every row and pk kept, a new package gets a new pk', async () => {
      const store = tb.backend.store;
      const dictionary = () => store.read.selectFrom('packages').selectAll().orderBy('pk').execute();
      const before = await dictionary();
      await store.db.deleteFrom('tally_migrations' as never).where('name' as never, '>=', '0013_packages_identity' as never).execute();
      await migrateToLatest(store.db, store.dialect);
      assert.deepEqual(await dictionary(), before);
      const base = synth[5] as ScanReport;
      const p = base.packages.find((x) => x.type === 'npm') as Package;
      const name = 'after-0013-probe';
      await upload({
        ...base,
        image: { ...base.image, imageId: `sha256:${createHash('sha256').update(name).digest('hex')}` },
        packages: [...base.packages, { ...p, id: createHash('sha256').update(`${name} package`).digest('hex'), name, purl: `pkg:npm/${name}@${p.version}` }],
      });
      const probe = await store.read.selectFrom('packages').select('pk').where('name', '=', name).executeTakeFirstOrThrow();
      assert.ok(num(probe.pk) > Math.max(...before.map((r) => num(r.pk))), 'the new package has a pk above every kept one');
      assert.equal((await dictionary()).length, before.length + 1, 'the upload reused every other dictionary row');
      await check();
    });

    it('after a re-evaluation against a changed database', async () => {
      const detections = async () => num((await tb.backend.store.read.selectFrom('detections').select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n);
      const before = await detections();
      // The database without the Debian 12 fixture: every Debian detection goes.
      const live = serverVulnDbPath(tb.dataDir);
      copyFileSync(vulnDbFile({ debian: false }), `${live}.next`);
      renameSync(`${live}.next`, live);
      tb.backend.vulndb.refresh();
      await tb.backend.reevaluate('fleet lists test');
      await tb.backend.jobs.idle();
      assert.ok((await detections()) < before, 'the re-evaluation removed detections');
      await check();
    });
  });
}

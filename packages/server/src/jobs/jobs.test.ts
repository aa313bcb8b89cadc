/**
 * The jobs on both stores against a REAL docker-registry (debian12 under two tags, distroless): a registry sync
 * queues one scan per manifest digest, scans ingest straight into the store, a second sync scans nothing, tags of
 * known digests are recorded without a scan; on PostgreSQL the same through graphile-worker, with key dedupe,
 * retries with backoff and the crontab tick. Multi-process behaviour (three workers, kill -9) is in
 * packages/cli/src/e2e/workers.test.ts.
 */
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { cachedRegistryStorage, freePort, startRegistry, type RegistryServer } from '../../../core/src/testing/registry-server.js';
import { copyFileSync, mkdirSync } from 'node:fs';
import { scratchDir, startTestBackend, testImages, vulnDbFile, type StoreKind, type TestBackend } from '../testing/backend.js';
import { startTestPostgres } from '../testing/postgres.js';
import { createBackend } from '../server.js';
import { serverVulnDbPath } from '../evaluate/vulndb.js';
import { runWorker } from './worker.js';
import { cronDue, cronMatcher, enqueueDueSyncs, enqueueSync } from './schedule.js';
import { addRegistry, checkSecretRef, getRegistry, globMatcher, parseRegistryUrl, registryOptions, removeRegistry } from './registries.js';
import type { JobInfo } from './queue.js';

describe('schedules, globs, registry URLs', () => {
  it('cron expressions are parsed by graphile-worker and matched in UTC', () => {
    assert.equal(cronDue('*/30 * * * *', new Date('2026-03-01T10:30:20Z')), true);
    assert.equal(cronDue('*/30 * * * *', new Date('2026-03-01T10:31:00Z')), false);
    assert.equal(cronDue('0 3 * * 1', new Date('2026-03-02T03:00:00Z')), true, 'a Monday');
    assert.equal(cronDue('0 3 * * 1', new Date('2026-03-03T03:00:00Z')), false);
    assert.throws(() => cronMatcher('61 * * * *'), /minutes.*0-59/);
    assert.throws(() => cronMatcher('* * * *'), /five cron fields/);
    assert.throws(() => cronMatcher('@hourly'), /five cron fields/);
  });

  it('repository and tag globs', () => {
    const m = globMatcher(['team/*', 'base/**', 'app?']);
    assert.deepEqual(['team/a', 'team/a/b', 'base/x/y', 'app1', 'app12', 'other'].map(m), [true, false, true, true, false, false]);
    assert.equal(globMatcher([])('anything/at/all'), true);
    assert.equal(globMatcher(['v1.2'])('v1x2'), false, 'a dot is literal');
  });

  it('registry URLs are normalised; credentials never go in them', () => {
    assert.deepEqual(parseRegistryUrl('reg.example'), { url: 'https://reg.example', registry: 'reg.example', insecure: false });
    assert.deepEqual(parseRegistryUrl('http://127.0.0.1:5000/'), { url: 'http://127.0.0.1:5000', registry: '127.0.0.1:5000', insecure: true });
    assert.deepEqual(parseRegistryUrl('127.0.0.1:5000', true), { url: 'http://127.0.0.1:5000', registry: '127.0.0.1:5000', insecure: true });
    assert.throws(() => parseRegistryUrl('https://u:pw@reg.example'), /no credentials in the URL/);
    assert.throws(() => parseRegistryUrl('https://reg.example/team'), /no path/);
    assert.throws(() => parseRegistryUrl('ftp://reg.example'), /only https/);
    assert.equal(checkSecretRef('env:REG_PW'), 'env:REG_PW');
    assert.throws(() => checkSecretRef('hunter2'), /env:NAME or file:PATH/);
  });
});

let registry: RegistryServer;

/** `expected`'s fields of `actual` equal `expected`. */
function subset(actual: unknown, expected: Record<string, unknown>): void {
  const a = actual as Record<string, unknown>;
  assert.deepEqual(Object.fromEntries(Object.keys(expected).map((k) => [k, a?.[k]])), expected, JSON.stringify(actual));
}

before(async () => {
  const images = testImages();
  const data = await cachedRegistryStorage(join(dirname(images), 'registry'), `jobs ${images}`, [
    { source: `oci:${images}/debian12/oci:latest`, repoTag: 'team/debian12:1' },
    { source: `oci:${images}/debian12/oci:latest`, repoTag: 'team/debian12:latest' },
    { source: `oci:${images}/distroless/oci:latest`, repoTag: 'team/distroless:1' },
  ]);
  registry = await startRegistry({ mode: 'anonymous', dataDir: data, readOnly: true });
});

after(async () => {
  await registry?.stop();
});

async function count(tb: TestBackend, table: 'images' | 'image_refs'): Promise<number> {
  const r = await tb.backend.store.db.selectFrom(table).select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}

for (const kind of ['sqlite', 'postgres'] as StoreKind[]) {
  describe(`registry jobs on ${kind}`, { timeout: 300_000 }, () => {
    let tb: TestBackend;
    before(async () => {
      tb = await startTestBackend(kind, { vulndb: 'shared', serve: { jobConcurrency: 2 } });
    });
    after(async () => {
      await tb?.close();
    });

    it('a sync scans each manifest digest once and ingests it; a second sync scans nothing', async () => {
      const reg = await addRegistry(tb.backend.store, { url: `http://${registry.host}`, repos: ['team/*'], schedule: '*/30 * * * *' });
      await enqueueSync(tb.backend.jobs, reg.id, reg.url, 'test');
      await tb.backend.jobs.idle();
      const jobs = await tb.backend.jobs.list(100);
      const scans = jobs.filter((j) => j.name === 'scan-manifest');
      assert.equal(scans.length, 2, `one scan per digest: ${JSON.stringify(scans.map((s) => [s.subject, s.state]))}`);
      assert.ok(scans.every((s) => s.state === 'done' && s.attempts === 1 && s.error === null), JSON.stringify(scans));
      assert.equal(new Set(scans.map((s) => s.key)).size, 2);
      const sync = jobs.find((j) => j.name === 'registry-sync')!;
      assert.equal(sync.state, 'done');
      assert.deepEqual(sync.progress, { done: 2, total: 2 });
      subset(sync.result, { repositories: 2, tags: 3, manifests: 2, queued: 2, known: 0 });
      assert.equal(await count(tb, 'images'), 2);
      // both tags of debian12 are on the one image, with the digest ref
      const refs = await tb.backend.store.db.selectFrom('image_refs').select('value').where('repo', '=', `${registry.host}/team/debian12`).orderBy('value').execute();
      assert.deepEqual(
        refs.map((r) => r.value.replace(/@sha256:[0-9a-f]{64}$/, '@sha256')),
        [`${registry.host}/team/debian12:1`, `${registry.host}/team/debian12:latest`, `${registry.host}/team/debian12@sha256`],
      );
      const image = await tb.backend.store.db.selectFrom('images').select(['packages_total', 'os_family']).where('repo', '=', `${registry.host}/team/debian12`).executeTakeFirstOrThrow();
      assert.equal(image.os_family, 'debian');
      assert.ok(image.packages_total > 50);
      const sensors = await tb.backend.store.db.selectFrom('sensors').select('type').execute();
      assert.deepEqual(sensors.map((s) => s.type), ['registry'], 'the scans show up as a registry sensor');

      const again = await enqueueSync(tb.backend.jobs, reg.id, reg.url, 'test again');
      await tb.backend.jobs.idle();
      const second = (await tb.backend.jobs.get(again.id))!;
      assert.equal(second.state, 'done');
      subset(second.result, { manifests: 2, queued: 0, known: 2 });
      assert.equal((await tb.backend.jobs.list(100)).filter((j) => j.name === 'scan-manifest').length, 2, 'no new scan');
      const stored = (await getRegistry(tb.backend.store, reg.url))!;
      assert.equal(stored.lastSync?.state, 'ok');

      // the API shows jobs and per-state counts to viewers
      const res = await tb.backend.app.inject({ method: 'GET', url: '/api/v1/jobs?limit=10', headers: { authorization: `Bearer ${tb.tokens.viewer}` } });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json<{ items: JobInfo[]; counts: Record<string, number> }>();
      assert.ok(body.counts['done']! >= 4, JSON.stringify(body.counts));
      assert.equal(body.items[0]!.id, again.id, 'most recent first');
      const one = await tb.backend.app.inject({ method: 'GET', url: `/api/v1/jobs/${scans[0]!.id}`, headers: { authorization: `Bearer ${tb.tokens.viewer}` } });
      assert.equal(one.json<JobInfo>().subject, scans[0]!.subject);
    });

    it('a scan job is idempotent and keyed by digest: queued twice, run once; re-run, it only records refs', async () => {
      const reg = (await getRegistry(tb.backend.store, `http://${registry.host}`))!;
      const stored = await tb.backend.store.db.selectFrom('image_refs').select('digest').where('kind', '=', 'digest').where('repo', '=', `${registry.host}/team/distroless`).executeTakeFirstOrThrow();
      const payload = { registry: reg.id, digest: stored.digest!, refs: [{ repo: 'team/distroless', tag: '1' }] };
      const a = await tb.backend.jobs.enqueue('scan-manifest', { key: `scan-manifest:${stored.digest}`, keyMode: 'dedupe', reason: 'test', payload });
      const b = await tb.backend.jobs.enqueue('scan-manifest', { key: `scan-manifest:${stored.digest}`, keyMode: 'dedupe', reason: 'test', payload });
      assert.equal(b.id, a.id);
      await tb.backend.jobs.idle();
      const done = (await tb.backend.jobs.get(a.id))!;
      assert.equal(done.state, 'done');
      subset(done.result, { skipped: 'already stored' });
      assert.equal(await count(tb, 'images'), 2);
    });

    it('an unreachable registry fails its sync, is retried with backoff (PostgreSQL), and records the failure', async () => {
      const port = await freePort();
      const dead = await addRegistry(tb.backend.store, { url: `http://127.0.0.1:${port}` });
      const job = await enqueueSync(tb.backend.jobs, dead.id, dead.url, 'test');
      let info: JobInfo | null = null;
      for (let i = 0; i < 200; i++) {
        info = await tb.backend.jobs.get(job.id);
        if (info !== null && info.error !== null && info.state !== 'running') break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.ok(info !== null && info.error !== null, JSON.stringify(info));
      assert.match(info.error!, new RegExp(`127\\.0\\.0\\.1:${port}`));
      if (kind === 'postgres') {
        assert.equal(info.state, 'retrying', 'graphile-worker schedules the next attempt');
        assert.deepEqual([info.attempts, info.maxAttempts], [1, 3]);
      } else {
        assert.equal(info.state, 'failed');
      }
      assert.equal((await getRegistry(tb.backend.store, dead.id))!.lastSync?.state, 'failed');
      await removeRegistry(tb.backend.store, dead.id);
      if (kind === 'postgres') await sql`delete from graphile_worker._private_jobs where key = ${`registry-sync:${dead.id}`}`.execute(tb.backend.store.db);
    });

    it('the schedule queues the syncs due in a minute (the PostgreSQL crontab tick runs the same code)', async () => {
      const at = new Date('2026-03-01T10:30:00Z');
      if (kind === 'postgres') {
        const tick = await tb.backend.jobs.enqueue('registry-schedule', { reason: 'test', payload: { _cron: { ts: at.toISOString() } } });
        await tb.backend.jobs.idle();
        const done = (await tb.backend.jobs.get(tick.id))!;
        assert.equal(done.state, 'done');
        assert.deepEqual((done.result as { queued: string[] }).queued, [`http://${registry.host}`]);
        const known = await sql<{ identifier: string }>`select identifier from graphile_worker._private_known_crontabs`.execute(tb.backend.store.db);
        assert.deepEqual(known.rows.map((r) => r.identifier), ['tally-registry-schedule'], 'the crontab tick is registered');
      } else {
        const queued = await enqueueDueSyncs(tb.backend.store, tb.backend.jobs, at);
        assert.deepEqual(queued.map((j) => j.subject), [`http://${registry.host}`]);
        assert.deepEqual(await enqueueDueSyncs(tb.backend.store, tb.backend.jobs, new Date('2026-03-01T10:31:00Z')), []);
        await tb.backend.jobs.idle();
      }
    });
  });
}

describe('an API-only serve on PostgreSQL (jobConcurrency 0, `tally serve --job-concurrency 0`)', { timeout: 120_000 }, () => {
  it('queues jobs without running them; a worker runs them', async () => {
    const pg = await startTestPostgres();
    const dataDir = join(scratchDir(), `api-only-${process.pid}`);
    mkdirSync(join(dataDir, 'vulndb'), { recursive: true });
    copyFileSync(vulnDbFile(), serverVulnDbPath(dataDir));
    try {
      const backend = await createBackend({ dataDir, database: pg.url, jobConcurrency: 0 });
      try {
        // A database never evaluated against: the start queues a re-evaluation, which nothing here runs.
        const job = (await backend.jobs.list(10)).find((j) => j.name === 'reevaluate');
        assert.ok(job !== undefined, 'a re-evaluation is queued at start');
        await new Promise((resolve) => setTimeout(resolve, 1500));
        assert.equal((await backend.jobs.get(job.id))?.state, 'queued');
        const worker = await runWorker({ database: pg.url, dataDir, concurrency: 1, pollIntervalMs: 200 });
        try {
          for (let waited = 0; (await backend.jobs.get(job.id))?.state !== 'done'; waited += 100) {
            assert.ok(waited < 60_000, `the worker did not finish ${job.id}: ${JSON.stringify(await backend.jobs.get(job.id))}`);
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        } finally {
          await worker.close();
        }
      } finally {
        await backend.close();
      }
    } finally {
      await pg.stop();
    }
  });
});

describe('credentials references', () => {
  it('a password is read from the worker environment or a file, never stored', async () => {
    const r = { id: 1, url: 'https://reg.example', registry: 'reg.example', insecure: false, schedule: null, performSca: false, repos: [], tags: [], username: 'robot', passwordRef: 'env:TALLY_TEST_REG_PW', caCertRef: null, createdAt: '', lastSync: null };
    await assert.rejects(registryOptions(r), /TALLY_TEST_REG_PW is not set on this worker/);
    process.env['TALLY_TEST_REG_PW'] = 's3cret';
    try {
      assert.deepEqual(await registryOptions(r), { username: 'robot', password: 's3cret' });
    } finally {
      delete process.env['TALLY_TEST_REG_PW'];
    }
    await assert.rejects(registryOptions({ ...r, passwordRef: 'file:/nonexistent/pw' }), (err: Error) => err.message.includes('/nonexistent/pw') && !err.message.includes('s3cret'));
  });
});

/**
 * Distributed scanning, end to end: three `tally worker` processes (the built CLI) against one real PostgreSQL scan
 * a real docker-registry through a counting proxy. The registry holds the test images (each also under a mirror
 * repository: same digest) and variants of them that share their base layers.
 *
 *  - every image is scanned once, by one job each, with no job run twice; the work spreads over the workers;
 *  - every layer blob is pulled at most once in the whole fleet (layer locks + the store's shared layer cache), so
 *    the bytes pulled are at most the sum of the distinct layer blobs;
 *  - `kill -9` of the worker in the middle of a scan (its blob download held by the proxy): another worker runs the
 *    job's next attempt to the end.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { startRegistry, type RegistryServer } from '../../../core/src/testing/registry-server.js';
import { blobFacts, fleetRegistry, startCountingProxy, type BlobFacts, type CountingProxy, type Fleet } from '../../../server/src/testing/fleet.js';
import { startTestPostgres, type TestPostgres } from '../../../server/src/testing/postgres.js';
import { repoRoot, tallyAsync, testImages } from './support.js';

const WORKERS = 3;

let fleet: Fleet;
let registry: RegistryServer;
let proxy: CountingProxy;
let db: TestPostgres;
let client: pg.Client;
let work: string;
const workers: { child: ChildProcess; log: string[] }[] = [];

async function rows<T extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<T[]> {
  return (await client.query<T>(text, values)).rows;
}

function startWorker(): Promise<{ child: ChildProcess; log: string[] }> {
  const child = spawn(process.execPath, [join(repoRoot, 'packages/cli/bin/tally.js'), 'worker', '--database', db.url, '--concurrency', '2', '--data-dir', join(work, 'data'), '--log-level', 'info'], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  const log: string[] = [];
  return new Promise((resolve, reject) => {
    child.stderr!.setEncoding('utf8').on('data', (d: string) => {
      log.push(d);
      if (/running up to/.test(d)) resolve({ child, log });
    });
    child.once('exit', (code) => reject(new Error(`tally worker exited ${code}: ${log.join('')}`)));
  });
}

async function until<T>(what: string, probe: () => Promise<T | null | undefined | false>, timeoutMs = 240_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== null && v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** No job queued, retrying or running. */
const idle = (): Promise<boolean> =>
  until('the queue to drain', async () => (await rows<{ n: number }>('select count(*)::int as n from graphile_worker._private_jobs where attempts < max_attempts or locked_at is not null'))[0]!.n === 0);

let phase1: BlobFacts;

before(async () => {
  const images = testImages();
  fleet = await fleetRegistry(images, join(dirname(images), 'registry'), 3, 2);
  registry = await startRegistry({ mode: 'anonymous', dataDir: fleet.dataDir, readOnly: true });
  proxy = await startCountingProxy(registry.host);
  db = await startTestPostgres();
  client = new pg.Client({ connectionString: db.url });
  await client.connect();
  work = await mkdtemp(join(tmpdir(), 'tally-e2e-workers-'));
  phase1 = await blobFacts(fleet.dataDir, (repo) => !repo.startsWith('late/'));
  // The first command migrates the store; then the workers (which install graphile-worker's schema) start.
  const add = await tallyAsync(['registry', 'add', `http://${proxy.host}`, '--repo', 'fleet/*', '--repo', 'mirror/*', '--repo', 'variants/*', '--perform-sca-scan', '--database', db.url]);
  assert.equal(add.code, 0, add.stderr);
  for (let i = 0; i < WORKERS; i++) workers.push(await startWorker());
});

after(async () => {
  for (const w of workers) if (w.child.exitCode === null && w.child.signalCode === null) w.child.kill('SIGTERM');
  await Promise.all(workers.map((w) => (w.child.exitCode === null && w.child.signalCode === null ? new Promise((r) => w.child.once('exit', r)) : null)));
  await client?.end();
  await proxy?.close();
  await registry?.stop();
  await db?.stop();
  if (work) await rm(work, { recursive: true, force: true });
});

describe(`${WORKERS} tally worker processes on one PostgreSQL`, { timeout: 600_000 }, () => {
  it('scan every image of the registry once, no job twice, each layer blob pulled at most once', async (t) => {
    const sync = await tallyAsync(['registry', 'sync', `http://${proxy.host}`, '--wait', '--database', db.url]);
    assert.equal(sync.code, 0, sync.stderr);
    await idle();

    const images = await rows<{ n: number }>('select count(*)::int as n from images');
    assert.equal(images[0]!.n, phase1.manifests, `${phase1.manifests} distinct manifests (mirror tags share them)`);
    const scans = await rows<{ id: string; key: string; state: string; attempts: number; worker: string }>(`select id, key, state, attempts, worker from job_runs where name = 'scan-manifest'`);
    assert.equal(scans.length, phase1.manifests, 'one scan job per manifest digest');
    assert.equal(new Set(scans.map((s) => s.key)).size, scans.length, 'distinct digests');
    assert.deepEqual([...new Set(scans.map((s) => `${s.state}/${s.attempts}`))], ['done/1'], 'every job ran once, to the end');
    assert.ok(new Set(scans.map((s) => s.worker)).size >= 2, `the work spread over the workers: ${JSON.stringify(scans.map((s) => s.worker))}`);
    const sca = await rows<{ n: number }>(`select count(*)::int as n from scans where scan_type = 'SCA'`);
    assert.equal(sca[0]!.n, phase1.manifests, 'the registry asks for SCA: every image has an SCA scan');
    const refs = await rows<{ n: number }>(`select count(*)::int as n from image_refs where kind = 'tag' and repo like '%/mirror/%'`);
    assert.equal(refs[0]!.n, 9, 'the mirror tags are recorded on the images scanned under fleet/');

    let pulled = 0;
    let distinct = 0;
    for (const [digest, size] of phase1.layers) {
      const bytes = proxy.blobBytes.get(digest) ?? 0;
      assert.ok(bytes <= size, `layer ${digest}: ${bytes} bytes pulled, the blob has ${size} (pulled ${proxy.blobGets.get(digest)} times)`);
      pulled += bytes;
      distinct += size;
    }
    for (const digest of phase1.configs.keys()) assert.equal(proxy.blobGets.get(digest), 1, `config ${digest} fetched once`);
    assert.ok(pulled <= distinct, `${pulled} layer bytes pulled, ${distinct} in distinct layer blobs`);
    const shared = [...phase1.layers.keys()].filter((d) => (proxy.blobGets.get(d) ?? 0) === 0).length;
    t.diagnostic(`${phase1.manifests} images, ${phase1.layers.size} distinct layers (${distinct} bytes); pulled ${pulled} bytes; ${shared} layers never pulled (found in the cache)`);
  });

  it('kill -9 of a worker in the middle of a scan: the job completes on another worker', async () => {
    const late = await blobFacts(fleet.dataDir, (repo) => repo.startsWith('late/'));
    const unique = [...late.layers].filter(([d]) => !phase1.layers.has(d)).sort((a, b) => a[1] - b[1]);
    assert.equal(unique.length, 2, 'each late variant adds one layer');
    const held = proxy.hold(unique[0]![0]);
    const add = await tallyAsync(['registry', 'add', `http://${proxy.host}`, '--repo', 'late/*', '--perform-sca-scan', '--database', db.url]);
    assert.equal(add.code, 0, add.stderr);
    const sync = await tallyAsync(['registry', 'sync', `http://${proxy.host}`, '--database', db.url]);
    assert.equal(sync.code, 0, sync.stderr);
    await held.reached;
    // The worker whose scan is waiting for the held layer.
    const victim = await until('the scan holding the layer', async () => {
      const r = await rows<{ id: string; worker: string }>(`select r.id, r.worker from job_runs r join graphile_worker._private_jobs j on j.id::text = r.id where r.name = 'scan-manifest' and r.state = 'running' and j.locked_at is not null and r.subject like '%/late/%'`);
      // Both late scans may be running at first; the one not held finishes on its own.
      return r.length === 1 ? r[0] : null;
    });
    const pid = Number(victim.worker.split(':').pop());
    const killed = workers.find((w) => w.child.pid === pid);
    assert.ok(killed, `the job runs in one of our workers (${victim.worker})`);
    const exited = new Promise((r) => killed.child.once('exit', r));
    process.kill(pid, 'SIGKILL');
    await exited;
    held.release();
    await idle();

    const [job] = await rows<{ state: string; attempts: number; worker: string; error: string | null }>('select state, attempts, worker, error from job_runs where id = $1', [victim.id]);
    assert.equal(job!.state, 'done', JSON.stringify(job));
    assert.equal(job!.attempts, 2, 'the second attempt finished it');
    assert.notEqual(job!.worker, victim.worker, 'on another worker');
    const images = await rows<{ n: number }>('select count(*)::int as n from images');
    assert.equal(images[0]!.n, phase1.manifests + 2);
    const lateScans = await rows<{ n: number }>(`select count(*)::int as n from job_runs where name = 'scan-manifest' and subject like '%/late/%'`);
    assert.equal(lateScans[0]!.n, 2, 'no extra job');
    const survivors = workers.filter((w) => w !== killed && w.child.exitCode === null);
    assert.equal(survivors.length, WORKERS - 1);
    assert.ok(survivors.some((w) => /handed back the jobs of dead workers/.test(w.log.join(''))), 'a live worker recovered the job');
  });
});


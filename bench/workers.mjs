#!/usr/bin/env node
// Workers: 1, 2 and 4 `tally worker` processes (the built CLI, concurrency 1 each) scan a local registry of at least
// 50 images (the test images, each also under a mirror repository, plus variants that append one small layer to a
// shared base: debian12, sca-python, debian12-layers, distroless) through a counting proxy, Static + SCA, into a fresh
// PostgreSQL database each (so each run starts with a cold shared layer cache). Printed side by side: wall time from
// `tally registry sync` to an idle queue, images per minute, blob GETs and bytes pulled against the distinct layer and
// config blobs, and the speed-up over one worker.
//
//   node bench/workers.mjs [--variants 45] [--workers 1,2,4]
//
// Needs `npm run build`, skopeo, umoci, docker-registry and PostgreSQL (as the tests do). The machine has 2 cores and
// is shared: more than two workers cannot run faster than two here; what they show is that adding workers costs no
// extra pulls.
import { spawn } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { register } from 'tsx/esm/api';

register();
const repoRoot = new URL('..', import.meta.url).pathname;
const tallyBin = join(repoRoot, 'packages/cli/bin/tally.js');
const { fleetRegistry, blobFacts, startCountingProxy } = await import(join(repoRoot, 'packages/server/src/testing/fleet.ts'));
const { startTestPostgres } = await import(join(repoRoot, 'packages/server/src/testing/postgres.ts'));
const { startRegistry } = await import(join(repoRoot, 'packages/core/src/testing/registry-server.ts'));

const args = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] !== undefined ? args[i + 1] : fallback;
};
const VARIANTS = Number(opt('variants', 45));
const COUNTS = opt('workers', '1,2,4').split(',').map(Number);
const log = (...a) => console.error('[bench]', ...a);
const work = mkdtempSync(join(tmpdir(), 'tally-bench-workers-'));

function tally(argv) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [tallyBin, ...argv], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`tally ${argv.join(' ')} exited ${code}: ${err}`))));
  });
}

function startWorker(url, dataDir) {
  const child = spawn(process.execPath, [tallyBin, 'worker', '--database', url, '--concurrency', '1', '--data-dir', dataDir], { stdio: ['ignore', 'ignore', 'pipe'] });
  return new Promise((resolve, reject) => {
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
      if (/running up to/.test(err)) resolve(child);
    });
    child.once('exit', (code) => reject(new Error(`tally worker exited ${code}: ${err}`)));
  });
}

const images = execFileSync('bash', [join(repoRoot, 'tools/build-test-images.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').pop();
log('building the registry (cached after the first run)');
const fleet = await fleetRegistry(images, join(dirname(images), 'registry'), VARIANTS, 0);
const facts = await blobFacts(fleet.dataDir, (repo) => !repo.startsWith('late/'));
const distinctLayerBytes = [...facts.layers.values()].reduce((a, b) => a + b, 0);
const distinctConfigBytes = [...facts.configs.values()].reduce((a, b) => a + b, 0);
log(`${facts.manifests} images, ${facts.layers.size} distinct layers (${(distinctLayerBytes / 1e6).toFixed(1)} MB)`);
const registry = await startRegistry({ mode: 'anonymous', dataDir: fleet.dataDir, readOnly: true });
const server = await startTestPostgres();

const rows = [];
try {
  for (const n of COUNTS) {
    const db = await startTestPostgres({ url: server.url });
    const proxy = await startCountingProxy(registry.host);
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    const workers = [];
    try {
      await tally(['registry', 'add', `http://${proxy.host}`, '--perform-sca-scan', '--repo', 'fleet/*', '--repo', 'mirror/*', '--repo', 'variants/*', '--database', db.url]);
      for (let i = 0; i < n; i++) workers.push(await startWorker(db.url, join(work, `data-${n}`)));
      log(`${n} worker(s): syncing`);
      const t0 = performance.now();
      await tally(['registry', 'sync', `http://${proxy.host}`, '--database', db.url]);
      for (;;) {
        const r = await client.query('select count(*)::int as n from graphile_worker._private_jobs where attempts < max_attempts or locked_at is not null');
        if (r.rows[0].n === 0) break;
        await new Promise((res) => setTimeout(res, 100));
      }
      const seconds = (performance.now() - t0) / 1000;
      const stored = (await client.query('select count(*)::int as n from images')).rows[0].n;
      const failed = (await client.query(`select count(*)::int as n from job_runs where state <> 'done'`)).rows[0].n;
      const attempts = (await client.query(`select coalesce(sum(attempts), 0)::int as n from job_runs where name = 'scan-manifest'`)).rows[0].n;
      let bytes = 0;
      let gets = 0;
      for (const [, b] of proxy.blobBytes) bytes += b;
      for (const [, g] of proxy.blobGets) gets += g;
      rows.push({ workers: n, images: stored, seconds, perMinute: (stored / seconds) * 60, gets, bytes, attempts, failed });
    } finally {
      for (const w of workers) w.kill('SIGTERM');
      await Promise.all(workers.map((w) => new Promise((res) => (w.exitCode !== null ? res() : w.once('exit', res)))));
      await client.end();
      await proxy.close();
      await db.stop();
    }
  }
} finally {
  await registry.stop();
  await server.stop();
  rmSync(work, { recursive: true, force: true });
}

const base = rows[0];
console.log(`\nWorkers: ${facts.manifests} images (${facts.layers.size} distinct layers, ${(distinctLayerBytes / 1e6).toFixed(1)} MB; ${facts.configs.size} configs, ${(distinctConfigBytes / 1e3).toFixed(1)} kB), Static + SCA, cold shared layer cache`);
console.log('| workers | images stored | wall s | images/min | speed-up | blob GETs | blob MB pulled | pulled / distinct blobs | scan attempts | not done |');
console.log('| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |');
for (const r of rows) {
  console.log(
    `| ${r.workers} | ${r.images} | ${r.seconds.toFixed(1)} | ${r.perMinute.toFixed(0)} | ${(base.seconds / r.seconds).toFixed(2)}x | ${r.gets} | ${(r.bytes / 1e6).toFixed(1)} | ${(r.bytes / (distinctLayerBytes + distinctConfigBytes)).toFixed(3)} | ${r.attempts} | ${r.failed} |`,
  );
}

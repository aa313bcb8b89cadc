#!/usr/bin/env node
// The fleet-wide grouped lists (GET /api/v1/software, GET /api/v1/vulnerabilities) at fleet scale, on SQLite and
// PostgreSQL: latency of a page with and without `q`, for every sort.
//
//   node bench/fleet-lists.mjs [--store sqlite|postgres|both] [--images 10000] [--packages 500] [--runs 20]
//                              [--concurrency 8] [--keep DIR] [--database postgres://…] [--save FILE] [--compare FILE]
//
// The fleet is synthesised from the real reports of the real test images (packages/server/src/testing/synth.ts,
// as bench/backend.mjs does) and written straight into the store through the ingestion code path (ingestReport,
// in this process: no HTTP, no sensor), which is several times faster than uploading; the SQLite fleet of
// `--keep DIR` is reused by later runs (so a run before a change and one after it time the very same rows; a
// migration added meanwhile runs on open and is timed), and so is the PostgreSQL fleet of `--database URL` (a
// database used as it is; without it a throw-away cluster is started). Requests go through the real fastify app (inject).
// `--save FILE` writes every response; `--compare FILE` checks that this run's responses equal a saved run's
// (same fleet, e.g. before and after a change to the lists).
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { option, serverModule, storesOption } from './lib.mjs';

const { poolFrom, synthReport } = await serverModule('testing/synth.ts');
const { scanReport, vulnDbFile } = await serverModule('testing/backend.ts');
const { startTestPostgres } = await serverModule('testing/postgres.ts');
const { openStore } = await serverModule('store/database.ts');
const { createToken } = await serverModule('store/tokens.ts');
const { ServerVulnDb, serverVulnDbPath } = await serverModule('evaluate/vulndb.ts');
const { ingestReport } = await serverModule('ingest/ingest.ts');
const { createBackend } = await serverModule('server.ts');
const { SETTING_EVALUATED_DB, setSetting } = await serverModule('store/settings.ts');

const IMAGES = Number(option('images', 10_000));
const PACKAGES = Number(option('packages', 500));
const RUNS = Number(option('runs', 20));
const CONCURRENCY = Number(option('concurrency', 8));
const KEEP = option('keep', null);
const DATABASE = option('database', null);
const SAVE = option('save', null);
const COMPARE = option('compare', null);
const stores = storesOption();
const work = mkdtempSync(join(tmpdir(), 'tally-bench-fleet-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const log = (...a) => console.error('[bench]', ...a);

function pct(values, p) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** A spool (ingest/spool.ts) over a body held in memory. */
function memorySpool(body) {
  return {
    sha256: createHash('sha256').update(body).digest('hex'),
    bytes: body.length,
    compressedBytes: body.length,
    inMemory: true,
    body: () => body,
    chunks: async function* () {
      yield body;
    },
    dispose: () => undefined,
  };
}

/** IMAGES synthetic images through ingestReport, CONCURRENCY in flight (SQLite groups them into one commit). */
async function buildFleet(store, vulndb, pool) {
  let next = 0;
  let rows = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < IMAGES) {
        const i = next++;
        const report = synthReport(pool, i, { packages: PACKAGES, seed: 7 });
        rows += report.packages.length;
        const sensor = { explicitId: null, version: '0.1.0', protocol: 1, host: `host-${i % 40}`, tokenId: null };
        const body = Buffer.from(JSON.stringify(report));
        await ingestReport(store, vulndb, { spool: memorySpool(body), sensor, idempotencyKey: null });
        if ((i + 1) % 1000 === 0) log(`${i + 1} images (${((i + 1) / ((performance.now() - started) / 1000)).toFixed(1)}/s)`);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { images: IMAGES, packageRows: rows, seconds: +seconds.toFixed(1), perSecond: +(IMAGES / seconds).toFixed(1) };
}

async function counts(store) {
  const n = async (q) => Number((await q.executeTakeFirst())?.n ?? 0);
  const db = store.read;
  return {
    images: await n(db.selectFrom('images').select((eb) => eb.fn.countAll().as('n'))),
    imagePackages: await n(db.selectFrom('image_packages').select((eb) => eb.fn.countAll().as('n'))),
    detections: await n(db.selectFrom('detections').select((eb) => eb.fn.countAll().as('n'))),
    vulnIds: await n(db.selectFrom('detections').select((eb) => eb.fn.count('vuln_id').distinct().as('n'))),
    packages: await n(db.selectFrom('packages').select((eb) => eb.fn.countAll().as('n'))),
  };
}

const saved = {};
const reference = COMPARE === null ? null : JSON.parse(readFileSync(COMPARE, 'utf8'));
const mismatches = [];
const results = {};

log('reports of the real test images (tally scan --perform-sca-scan --no-match)…');
const reports = ['sca-node', 'sca-python', 'sca-java', 'sca-go', 'sca-dotnet', 'debian12', 'debian12-layers'].map((i) => JSON.parse(scanReport(i, { sca: true, match: false }).toString('utf8')));
const pool = poolFrom(reports);
const sharedDb = vulnDbFile({ debian: false });

for (const kind of stores) {
  log(`=== ${kind} ===`);
  const r = (results[kind] = {});
  const pg = kind !== 'postgres' ? null : DATABASE !== null ? { url: DATABASE, stop: async () => undefined } : await startTestPostgres();
  const dataDir = KEEP !== null ? join(resolve(KEEP), kind) : join(work, `data-${kind}`);
  mkdirSync(join(dataDir, 'vulndb'), { recursive: true });
  if (!existsSync(serverVulnDbPath(dataDir))) copyFileSync(sharedDb, serverVulnDbPath(dataDir));
  try {
    // Opening runs the migrations (on a kept fleet: the ones added since it was built, timed here).
    let t = performance.now();
    const store = await openStore({ dataDir, database: pg?.url });
    r.openSeconds = +((performance.now() - t) / 1000).toFixed(1);
    if ((await counts(store)).images === 0) {
      const vulndb = new ServerVulnDb(serverVulnDbPath(dataDir));
      r.build = await buildFleet(store, vulndb, pool);
      // Every upload was matched against this database: no re-evaluation is due when the backend starts.
      await setSetting(store.db, SETTING_EVALUATED_DB, JSON.stringify({ identity: vulndb.state().identity, at: new Date().toISOString() }));
      vulndb.close();
      log('fleet built', r.build);
    }
    r.fleet = await counts(store);
    log('fleet', r.fleet, `open ${r.openSeconds}s`);
    const viewer = (await createToken(store.db, 'viewer', 'bench')).token;
    await store.close();

    t = performance.now();
    const backend = await createBackend({ dataDir, ...(pg !== null ? { database: pg.url } : {}), logger: false });
    r.startSeconds = +((performance.now() - t) / 1000).toFixed(1);
    try {
      const get = async (url) => {
        const t0 = performance.now();
        const res = await backend.app.inject({ method: 'GET', url, headers: { authorization: `Bearer ${viewer}` } });
        const ms = performance.now() - t0;
        if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${res.body.slice(0, 300)}`);
        return { ms, body: res.json() };
      };
      const { body: some } = await get(`/api/v1/images?limit=1&offset=${Math.floor(IMAGES / 2)}&sort=imageId`);
      const sample = some.items[0];
      const lists = {
        'software': '/api/v1/software?limit=50',
        'software sort=-images': '/api/v1/software?limit=50&sort=-images',
        'software sort=version': '/api/v1/software?limit=50&sort=version',
        'software sort=-type': '/api/v1/software?limit=50&sort=-type',
        'software offset=20000': '/api/v1/software?limit=50&offset=20000',
        'software q=name:openssl': `/api/v1/software?limit=50&q=${encodeURIComponent('name:openssl')}`,
        'software q=lodash*': `/api/v1/software?limit=50&q=${encodeURIComponent('lodash*')}`,
        'software q=scanType:SCA': `/api/v1/software?limit=50&q=${encodeURIComponent('scanType:SCA')}`,
        'software q=type:maven': `/api/v1/software?limit=50&q=${encodeURIComponent('type:maven')}`,
        'software q=imageId': `/api/v1/software?limit=50&q=${encodeURIComponent(`imageId:"${sample.imageId}"`)}`,
        'vulnerabilities': '/api/v1/vulnerabilities?limit=50',
        'vulnerabilities sort=-images': '/api/v1/vulnerabilities?limit=50&sort=-images',
        'vulnerabilities sort=-cvss': '/api/v1/vulnerabilities?limit=50&sort=-cvss',
        'vulnerabilities sort=id offset=100': '/api/v1/vulnerabilities?limit=50&sort=id&offset=100',
        'vulnerabilities q=scanType:SCA': `/api/v1/vulnerabilities?limit=50&q=${encodeURIComponent('scanType:SCA')}`,
        'vulnerabilities q=severity>=HIGH': `/api/v1/vulnerabilities?limit=50&q=${encodeURIComponent('severity>=HIGH')}`,
        'vulnerabilities q=id:CVE-2021-*': `/api/v1/vulnerabilities?limit=50&q=${encodeURIComponent('id:CVE-2021-*')}`,
        'vulnerabilities q=kev:true OR epss>0.5': `/api/v1/vulnerabilities?limit=50&q=${encodeURIComponent('kev:true OR epss>0.5')}`,
        'vulnerabilities q=software.name:openssl': `/api/v1/vulnerabilities?limit=50&q=${encodeURIComponent('software.name:openssl')}`,
        'vulnerabilities q=repo': `/api/v1/vulnerabilities?limit=50&q=${encodeURIComponent(`repo:"${sample.repo}"`)}`,
        'vulnerabilities q=imageId': `/api/v1/vulnerabilities?limit=50&q=${encodeURIComponent(`imageId:"${sample.imageId}"`)}`,
      };
      r.lists = {};
      for (const [name, url] of Object.entries(lists)) {
        const times = [];
        let body = null;
        for (let k = 0; k < RUNS; k++) {
          const res = await get(url);
          times.push(res.ms);
          body = res.body;
          // A slow list gets fewer runs: its p95 is not in doubt.
          if (k >= 2 && times.reduce((a, b) => a + b, 0) > 20_000) break;
        }
        r.lists[name] = { p50: +pct(times, 50).toFixed(1), p95: +pct(times, 95).toFixed(1), runs: times.length, total: body.total, items: body.items.length };
        log(name.padEnd(42), JSON.stringify(r.lists[name]));
        (saved[kind] ??= {})[name] = body;
        if (SAVE !== null) writeFileSync(SAVE, JSON.stringify(saved));
        const ref = reference?.[kind]?.[name];
        if (ref !== undefined && JSON.stringify(ref) !== JSON.stringify(body)) mismatches.push(`${kind}: ${name}`);
      }
    } finally {
      await backend.close();
    }
  } finally {
    await pg?.stop();
  }
}

if (reference !== null) {
  results.compare = { against: COMPARE, mismatches };
  if (mismatches.length > 0) log('responses differing from the saved run:', mismatches);
}
console.log(JSON.stringify({ machine: { cpus: cpus().length, node: process.version }, images: IMAGES, packagesPerImage: PACKAGES, results }, null, 2));
if (mismatches.length > 0) process.exitCode = 1;

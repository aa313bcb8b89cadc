#!/usr/bin/env node
// Re-evaluation at fleet scale: 10,000 stored images, then (a) an update of 10 advisories and (b) a full re-import,
// on SQLite and on PostgreSQL, against the targets of issue 9 (< 5 s and < 60 s).
//
//   node bench/reevaluate.mjs [--store sqlite|postgres|both] [--images 10000] [--packages 500] [--concurrency 8]
//                             [--keep DIR] [--database postgres://…] [--runs ten,random,…]
//
// Data: images synthesised from the real reports of the real test images (packages/server/src/testing/synth.ts),
// stored through the real ingestion in process (the HTTP upload path is bench/backend.mjs's subject). The server's
// database is ../shared/vulndb plus the Debian 12 tracker fixture. Every change is a real swap of the database file
// made by core's writer, as `tally db update|import` makes it. `--keep DIR`: the SQLite fleet lives in DIR/sqlite and
// is reused when it is there (built once, by this bench or by bench/fleet-lists.mjs --keep, which synthesise the
// same fleet); a kept fleet's first run is then a full pass against this bench's database. `--database URL`:
// the PostgreSQL runs use that database as it is (empty: the fleet is stored into it and kept there) instead of a
// throw-away cluster.
// `--runs`: only these of the runs below (the first always runs: it records the pairs the others compare with). Runs:
//   first      the first re-evaluation after the fleet is stored (no records yet: a full pass over every pair)
//   none       a new file with the same content
//   ten        10 advisories behind stored detections revised (summary, severity), taken in turn from each feed:
//              the advisories of the most widespread packages, so every image is rewritten (three times, median)
//   random     10 advisories drawn at random from the whole database (what a daily update mostly looks like)
//   reimport   a full re-import: every source rebuilt from its files (`db import --fresh`, same content)
//   revised    every advisory in the database revised: every finding changes, every detection is rewritten
//   forced     a forced full pass (`full: true`) with nothing changed
// Wall time is what the targets are about; the machine is shared, so CPU time of this process (SQLite work runs in
// it; PostgreSQL's runs in the server) and the load average are printed next to it.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { option, serverModule, storesOption } from './lib.mjs';

const { poolFrom, synthReport, rng } = await serverModule('testing/synth.ts');
const { scanReport, vulnDbFile, sharedVulnDb, debianFixture } = await serverModule('testing/backend.ts');
const { startTestPostgres } = await serverModule('testing/postgres.ts');
const { openStore } = await serverModule('store/database.ts');
const { ServerVulnDb, serverVulnDbPath } = await serverModule('evaluate/vulndb.ts');
const { reevaluateAll } = await serverModule('evaluate/reevaluate.ts');
const { uploadReport, advisoriesAffecting, allAdvisories, changeVulnDb } = await serverModule('evaluate/test-support.ts');
const { importIntoVulnDb } = await import('@tally/core');

const IMAGES = Number(option('images', 10_000));
const PACKAGES = Number(option('packages', 500));
const CONCURRENCY = Number(option('concurrency', 8));
const stores = storesOption();
const TARGETS = { ten: 5, random: 5, reimport: 60, revised: 60 };
const ALL_RUNS = ['first', 'none', 'ten', 'random', 'reimport', 'revised', 'forced'];
const RUNS = ['first', ...String(option('runs', ALL_RUNS.join(','))).split(',').filter((r) => r !== 'first')];
for (const r of RUNS) if (!ALL_RUNS.includes(r)) throw new Error(`--runs: unknown run ${r} (known: ${ALL_RUNS.join(', ')})`);
const KEEP = option('keep', null);
const DATABASE = option('database', null);
const work = mkdtempSync(join(tmpdir(), 'tally-bench-reevaluate-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));
const log = (...a) => console.error('[bench]', ...a);

log('reports of the real test images (tally scan --perform-sca-scan --no-match)…');
const reports = ['sca-node', 'sca-python', 'sca-java', 'sca-go', 'sca-dotnet', 'debian12', 'debian12-layers'].map((i) => JSON.parse(scanReport(i, { sca: true, match: false }).toString('utf8')));
const pool = poolFrom(reports);

/** Ten advisories behind stored detections, taken in turn from each feed. */
async function tenDetected(store, dbPath) {
  const keys = (await store.read.selectFrom('evaluation_keys').select('lookup_key').distinct().where('fingerprint', 'not in', ['-', '']).execute()).map((r) => r.lookup_key);
  const ids = new Set((await store.read.selectFrom('detections').select('vuln_id').distinct().execute()).map((r) => r.vuln_id));
  const hit = advisoriesAffecting(dbPath, keys.sort()).filter((s) => [s.advisory.id, ...s.advisory.aliases, ...s.advisory.related].some((id) => ids.has(id)));
  const bySource = new Map();
  for (const s of hit.sort((a, b) => (a.advisory.id < b.advisory.id ? -1 : 1))) bySource.set(s.source.name, [...(bySource.get(s.source.name) ?? []), s]);
  const out = [];
  for (let round = 0; out.length < 10 && round < hit.length; round++) for (const l of bySource.values()) if (l[round] && out.length < 10) out.push(l[round]);
  return out;
}

// Each revision newer than the last (a merge import keeps the newer `modified`).
let revision = 0;
const revise = (a, tag) => ({ ...a, summary: `${a.summary} (${tag})`, severity: { level: 'CRITICAL', source: 'bench' }, modified: new Date(Date.UTC(2099, 0, 1) + revision++ * 1000).toISOString() });
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const results = {};
for (const kind of stores) {
  log(`=== ${kind} ===`);
  const pg = kind !== 'postgres' ? null : DATABASE !== null ? { url: DATABASE, stop: async () => undefined } : await startTestPostgres();
  const dataDir = KEEP !== null && kind === 'sqlite' ? join(resolve(KEEP), kind) : join(work, `data-${kind}`);
  mkdirSync(join(dataDir, 'vulndb'), { recursive: true });
  const dbPath = serverVulnDbPath(dataDir);
  copyFileSync(vulnDbFile({ debian: true }), dbPath);
  const store = await openStore({ dataDir, ...(pg ? { database: pg.url } : {}) });
  const vulndb = new ServerVulnDb(dbPath);
  const r = (results[kind] = { runs: {} });
  try {
    let next = 0;
    const t0 = performance.now();
    const stored = Number((await store.read.selectFrom('images').select((eb) => eb.fn.countAll().as('n')).executeTakeFirst()).n);
    if (stored > 0 && stored !== IMAGES) throw new Error(`${dataDir} holds ${stored} images, not ${IMAGES}`);
    if (stored === 0)
      await Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < IMAGES) {
            const i = next++;
            const report = synthReport(pool, i, { packages: PACKAGES, seed: 7 });
            await uploadReport(store, vulndb, report, join(dataDir, 'tmp'));
            if ((i + 1) % 1000 === 0) log(`${i + 1} images stored`);
          }
        }),
      );
    r.fleet = { images: IMAGES, reused: stored > 0, ingestSeconds: +((performance.now() - t0) / 1000).toFixed(1) };
    const count = async (table) => Number((await store.read.selectFrom(table).select((eb) => eb.fn.countAll().as('n')).executeTakeFirst()).n);
    for (const t of ['image_packages', 'packages', 'detections', 'evaluation_keys']) r.fleet[t] = await count(t);
    log('fleet', r.fleet);

    const run = async (change, options = {}) => {
      await change?.();
      vulndb.refresh();
      const load = loadavg()[0];
      const cpu = process.cpuUsage();
      const res = await reevaluateAll(store, vulndb, options);
      const used = process.cpuUsage(cpu);
      return { seconds: +(res.ms / 1000).toFixed(2), cpuSeconds: +((used.user + used.system) / 1e6).toFixed(2), load1: +load.toFixed(1), ...res, identity: undefined };
    };
    const record = (name, x) => {
      r.runs[name] = x;
      log(name, x);
    };
    record('first', await run());
    if (RUNS.includes('none')) record('none', await run(() => changeVulnDb(dbPath, () => undefined)));
    if (RUNS.includes('ten')) {
      const ten = await tenDetected(store, dbPath);
      const tens = [];
      for (const k of [1, 2, 3]) tens.push(await run(() => changeVulnDb(dbPath, (e) => ten.forEach((s) => e.revise(s, revise(s.advisory, `ten-${k}`))))));
      const mid = tens.find((x) => x.seconds === median(tens.map((t) => t.seconds)));
      record('ten', { ...mid, all: tens.map((t) => t.seconds), advisories: ten.map((s) => s.advisory.id) });
    }
    if (RUNS.includes('random')) {
      const every = allAdvisories(dbPath);
      const next32 = rng(20261129);
      const random = Array.from({ length: 10 }, () => every[Math.floor(next32() * every.length)]);
      record('random', { ...(await run(() => changeVulnDb(dbPath, (e) => random.forEach((s) => e.revise(s, revise(s.advisory, 'random')))))), advisories: random.map((s) => s.advisory.id) });
    }
    if (RUNS.includes('reimport')) record('reimport', await run(() => importIntoVulnDb(dbPath, [sharedVulnDb, debianFixture], { fresh: true })));
    if (RUNS.includes('revised')) record('revised', await run(() => changeVulnDb(dbPath, (e) => allAdvisories(dbPath).forEach((s) => e.revise(s, revise(s.advisory, 'revised'))))));
    if (RUNS.includes('forced')) record('forced', await run(null, { full: true }));
    if (kind === 'sqlite') r.sqliteFileMB = +(statSync(join(dataDir, 'tally.sqlite')).size / 1048576).toFixed(0);
  } finally {
    vulndb.close();
    await store.close();
    await pg?.stop();
  }
}

console.log(JSON.stringify({ machine: { cpus: cpus().length, node: process.version }, images: IMAGES, packagesPerImage: PACKAGES, results }, null, 2));
const pad = (s, n) => String(s).padEnd(n);
console.log(`\n${pad('run', 10)}${stores.map((s) => pad(`${s} wall s`, 17) + pad('cpu s', 8) + pad('load', 6) + pad('target', 8) + pad('ratio', 7)).join('')}  pairs / changed / images / rows changed`);
for (const name of RUNS) {
  const cells = stores.map((s) => {
    const x = results[s].runs[name];
    const t = TARGETS[name];
    return pad(x.seconds, 17) + pad(x.cpuSeconds, 8) + pad(x.load1, 6) + pad(t ? `< ${t}` : '', 8) + pad(t ? (x.seconds / t).toFixed(2) : '', 7);
  });
  const x = results[stores[0]].runs[name];
  console.log(`${pad(name, 10)}${cells.join('')}  ${x.pairs} / ${x.changedPairs} / ${x.changedImages} / ${x.added + x.updated + x.removed}`);
}

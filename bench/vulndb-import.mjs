#!/usr/bin/env node
// Vulnerability database benchmark:
//   1. import all of ../shared/vulndb through the `db import` path (copy + atomic swap): wall time, DB size;
//   2. affecting() for 10,000 packages (a realistic mix: half hits, half misses), cold and warm;
//   3. db update's swap under a concurrent scan in another process: every scan pass must see exactly the old or the
//      new database, never a mix, and no pass may fail.
// Usage: node bench/vulndb-import.mjs [--runs N]
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { register } from 'tsx/esm/api';

register();
const repoRoot = new URL('..', import.meta.url).pathname;
const shared = join(repoRoot, '..', 'shared', 'vulndb');
const vdb = await import(join(repoRoot, 'packages/core/src/vulndb/index.ts'));
const { default: Database } = await import('better-sqlite3');

const runs = Number(process.argv[process.argv.indexOf('--runs') + 1]) || 3;
const work = mkdtempSync(join(tmpdir(), 'tally-bench-vulndb-'));
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const mb = (n) => (n / 1024 / 1024).toFixed(1);

try {
  // 1. Import.
  const times = [];
  let summary = null;
  let dbPath = '';
  for (let i = 0; i < runs; i++) {
    dbPath = vdb.vulndbPath(join(work, `cache-${i}`));
    const t0 = performance.now();
    [summary] = await vdb.importIntoVulnDb(dbPath, [shared]);
    times.push(performance.now() - t0);
  }
  const size = statSync(dbPath).size;
  console.log(`import ../shared/vulndb (${runs} runs): median ${(median(times) / 1000).toFixed(2)} s [${times.map((t) => (t / 1000).toFixed(2)).join(', ')}], DB ${mb(size)} MiB`);
  console.log('  file                                   format              imported  dup  withdrawn  invalid  ignored    ms');
  for (const f of summary.files) {
    const name = f.path.split('/').pop();
    console.log(
      `  ${name.padEnd(38)} ${(f.status === 'imported' ? f.format : `(${f.status})`).padEnd(19)} ${String(f.imported).padStart(8)} ${String(f.duplicates).padStart(4)} ${String(f.withdrawn).padStart(10)} ${String(f.invalid).padStart(8)} ${String(f.ignored).padStart(8)} ${String(f.ms).padStart(5)}${f.reason ? `  ${f.reason}` : ''}`,
    );
  }
  const st = vdb.vulndbStatus(dbPath);
  console.log(`  totals: ${st.totals.advisories} advisories, ${st.totals.affected} affected rows, ${st.totals.aliases} aliases, ${st.totals.kev} KEV, ${st.totals.epss} EPSS; ${st.ecosystems.length} ecosystems`);

  // 2. Lookups: 10,000 packages, half of them (ecosystem, package) pairs that exist, half that do not.
  const raw = new Database(dbPath, { readonly: true });
  const pairs = raw.prepare('SELECT DISTINCT ecosystem, package FROM affected ORDER BY ecosystem, package').all();
  raw.close();
  const queries = [];
  for (let i = 0; i < 10_000; i++) {
    const p = pairs[(i * 7919) % pairs.length];
    queries.push(i % 2 === 0 ? [p.ecosystem, p.package] : [p.ecosystem, `${p.package}-not-installed-${i}`]);
  }
  const allHits = pairs.slice(0, 10_000).map((p) => [p.ecosystem, p.package]);
  const pass = (db, qs) => {
    let n = 0;
    for (const [e, p] of qs) n += db.affecting(e, p).length;
    return n;
  };
  for (const [label, qs] of [['mixed (50% hits)', queries], ['all hits', allHits]]) {
    const cold = [];
    const warm = [];
    let found = 0;
    for (let r = 0; r < runs; r++) {
      const db = vdb.SqliteVulnDb.open(dbPath);
      let t0 = performance.now();
      found = pass(db, qs);
      cold.push(performance.now() - t0);
      t0 = performance.now();
      pass(db, qs);
      warm.push(performance.now() - t0);
      db.close();
    }
    console.log(`affecting() x ${qs.length} [${label}]: cold ${median(cold).toFixed(0)} ms (${((median(cold) * 1000) / qs.length).toFixed(1)} µs/pkg), warm ${median(warm).toFixed(0)} ms; ${found} advisories returned`);
  }

  // 3. Swap under a concurrent scan. Two databases that differ (A: everything, B: without Go), alternated as updates.
  const liveDir = join(work, 'live');
  const live = vdb.vulndbPath(liveDir);
  const bDir = join(work, 'b-src');
  mkdirSync(bDir, { recursive: true });
  for (const n of readdirSync(shared)) if (!n.startsWith('go-')) copyFileSync(join(shared, n), join(bDir, n));
  const dbB = vdb.vulndbPath(join(work, 'b'));
  await vdb.importIntoVulnDb(dbB, [bDir]);
  const signature = (path) => {
    const db = vdb.SqliteVulnDb.open(path);
    const h = createHash('sha1');
    for (const [e, p] of queries) for (const a of db.affecting(e, p)) h.update(`${a.id}\n`);
    db.close();
    return h.digest('hex');
  };
  const sigA = signature(dbPath);
  const sigB = signature(dbB);
  mkdirSync(join(liveDir, 'db'), { recursive: true });
  copyFileSync(dbPath, live);
  const queriesFile = join(work, 'queries.json');
  writeFileSync(queriesFile, JSON.stringify(queries));
  const stopFile = join(work, 'stop');
  const scanner = `
    import { createHash } from 'node:crypto';
    import { existsSync, readFileSync } from 'node:fs';
    const { SqliteVulnDb } = await import(${JSON.stringify(join(repoRoot, 'packages/core/src/vulndb/store.ts'))});
    const queries = JSON.parse(readFileSync(${JSON.stringify(queriesFile)}, 'utf8'));
    const sigs = {}; let errors = 0; let reopened = 0;
    let db = SqliteVulnDb.open(${JSON.stringify(live)});
    while (!existsSync(${JSON.stringify(stopFile)})) {
      try {
        // One "scan": a reader opened once, 10,000 lookups; a stale reader is reopened between scans.
        if (db.isStale()) { db.close(); db = SqliteVulnDb.open(${JSON.stringify(live)}); reopened++; }
        const h = createHash('sha1');
        for (const [e, p] of queries) for (const a of db.affecting(e, p)) h.update(a.id + '\\n');
        const s = h.digest('hex'); sigs[s] = (sigs[s] ?? 0) + 1;
      } catch (err) { errors++; console.error(String(err)); }
    }
    console.log(JSON.stringify({ sigs, errors, reopened }));
  `;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', scanner], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (b) => (out += b));
  const exited = new Promise((resolve) => child.on('exit', resolve));
  await new Promise((r) => setTimeout(r, 1500));
  for (let i = 0; i < 6; i++) {
    // The swap step of an update (temp file next to the live one, then rename), alternating the two datasets.
    const src = i % 2 === 0 ? dbB : dbPath;
    const tmp = `${live}.tmp-${process.pid}-bench`;
    copyFileSync(src, tmp);
    renameSync(tmp, live);
    await new Promise((r) => setTimeout(r, 700));
  }
  // And one real update through the writer (import into a copy, commit) while the scanner runs.
  const t0 = performance.now();
  await vdb.importIntoVulnDb(live, [join(shared, 'ghsa-npm.osv.ndjson.gz')]);
  const realSwap = performance.now() - t0;
  await new Promise((r) => setTimeout(r, 700));
  writeFileSync(stopFile, '');
  await exited;
  const res = JSON.parse(out.trim().split('\n').pop());
  const sigReal = signature(live);
  const unexpected = Object.keys(res.sigs).filter((s) => s !== sigA && s !== sigB && s !== sigReal);
  console.log(
    `swap under a concurrent scan: ${Object.values(res.sigs).reduce((a, b) => a + b, 0)} scans of 10,000 lookups, ${res.reopened} reopen(s) after swaps, ${res.errors} errors, ` +
      `${unexpected.length} scans with mixed/unknown results; passes per version: A=${res.sigs[sigA] ?? 0} B=${res.sigs[sigB] ?? 0} A+npm=${res.sigs[sigReal] ?? 0}; ` +
      `real import+swap ${(realSwap / 1000).toFixed(2)} s`,
  );
  if (res.errors > 0 || unexpected.length > 0) process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}

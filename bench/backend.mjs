#!/usr/bin/env node
// Backend benchmark: ingestion throughput, `q` latency at fleet scale, re-evaluation after a database update, and
// one report of a million packages. Against a real server process over HTTP, on SQLite and on PostgreSQL.
//
//   node bench/backend.mjs [--store sqlite|postgres|both] [--images 10000] [--packages 500] [--concurrency 8]
//                          [--queries 40] [--huge 1000000] [--skip-huge]
//
// Data: images synthesised from the real reports of the real test images (packages/server/src/testing/synth.ts):
// Debian 12 OS packages and the npm/PyPI/Maven/Go/NuGet packages the test images contain, versions varied as a
// fleet varies (most images on common versions, a long tail), 10% in-house packages. The server's vulnerability
// database is ../shared/vulndb; the "database update" imports the Debian 12 tracker fixture through the admin API,
// which changes the OS detections of every image.
import { spawn } from 'node:child_process';
import { closeSync, copyFileSync, createReadStream, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGzip, gzipSync } from 'node:zlib';
import { option, repoRoot, serverModule, storesOption } from './lib.mjs';

const { poolFrom, synthReport, writeHugeReport } = await serverModule('testing/synth.ts');
const { scanReport, vulnDbFile, debianFixture } = await serverModule('testing/backend.ts');
const { startTestPostgres } = await serverModule('testing/postgres.ts');
const { openStore } = await serverModule('store/database.ts');
const { createToken } = await serverModule('store/tokens.ts');
const { serverVulnDbPath } = await serverModule('evaluate/vulndb.ts');

const IMAGES = Number(option('images', 10_000));
const PACKAGES = Number(option('packages', 500));
const CONCURRENCY = Number(option('concurrency', 8));
const QUERIES = Number(option('queries', 40));
const HUGE = process.argv.includes('--skip-huge') ? 0 : Number(option('huge', 1_000_000));
const stores = storesOption();
const work = mkdtempSync(join(tmpdir(), 'tally-bench-backend-'));
process.on('exit', () => rmSync(work, { recursive: true, force: true }));

const log = (...a) => console.error('[bench]', ...a);

function serverProcess(dataDir, database) {
  const prof = process.env.TALLY_BENCH_PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${process.env.TALLY_BENCH_PROFILE}`] : [];
  const child = spawn(process.execPath, [...prof, '--import', 'tsx', join(repoRoot, 'packages/server/src/testing/serve-process.ts'), dataDir, database ?? ''], {
    stdio: ['ignore', 'pipe', 'inherit'],
    cwd: repoRoot,
  });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (l) => {
      try {
        const v = JSON.parse(l);
        if (typeof v.url === 'string') resolve({ url: v.url, child, peakRssMB: () => peakRss(child.pid) });
      } catch {
        // a log line
      }
    });
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
}

/**
 * CPU seconds used so far by a process (all its threads) and by its main thread (the event loop, where SQLite writes
 * and the posture evaluation run). Per upload these vary less than throughput on a shared machine.
 */
function cpuSeconds(pid) {
  const ticks = (path) => {
    const fields = readFileSync(path, 'utf8').split(') ')[1].split(' ');
    return Number(fields[11]) + Number(fields[12]); // utime + stime (fields 14 and 15 of proc(5))
  };
  const hz = 100; // USER_HZ: 100 on every Linux ABI Node supports
  return { process: ticks(`/proc/${pid}/stat`) / hz, main: ticks(`/proc/${pid}/task/${pid}/stat`) / hz };
}

function peakRss(pid) {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/**
 * POST a string or buffer, or a stream, through node:http on keep-alive connections; network errors retried, as a
 * sensor does. Not fetch: the load generator shares this machine's 2 cores with the server, and undici's fetch
 * took 2.2 to 2.8 ms of CPU an upload, node:http 0.4 to 1.0.
 */
async function post(url, headers, body, attempts = 3) {
  for (let attempt = 1; ; attempt++) {
    try {
      return await postOnce(url, headers, body);
    } catch (err) {
      if (attempt >= attempts || !(typeof body === 'string' || Buffer.isBuffer(body))) throw err;
      retries++;
    }
  }
}
let retries = 0;

const keepAlive = new Agent({ keepAlive: true });

function postOnce(url, headers, body) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers, agent: keepAlive }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode, body: text }));
    });
    req.on('error', reject);
    if (typeof body === 'string' || Buffer.isBuffer(body)) req.end(body);
    else body.pipe(req);
  });
}

async function get(url, token) {
  const t = performance.now();
  const res = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
  const body = await res.json();
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${JSON.stringify(body)}`);
  return { ms: performance.now() - t, body };
}

function pct(values, p) {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

async function waitForJob(url, token, predicate, timeoutMs = 30 * 60_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const { body } = await get(`${url}/api/v1/jobs`, token);
    const job = body.items.find(predicate);
    if (job && (job.state === 'done' || job.state === 'failed' || job.state === 'cancelled')) return job;
    if (Date.now() > end) throw new Error('job did not finish');
    await new Promise((r) => setTimeout(r, 500));
  }
}

// ---------------------------------------------------------------------------------------------------------------
log(`reports of the real test images (tally scan --perform-sca-scan --no-match)…`);
const reports = ['sca-node', 'sca-python', 'sca-java', 'sca-go', 'sca-dotnet', 'debian12', 'debian12-layers'].map((i) => JSON.parse(scanReport(i, { sca: true, match: false }).toString('utf8')));
const pool = poolFrom(reports);
log(`package pool: ${pool.os.length} Debian 12 OS packages, ${pool.lang.length} language packages`);
const sharedDb = vulnDbFile({ debian: false });

// The reports are written before any timing starts: a sensor builds its report on its own machine, and building
// 500-package reports here (3.4 ms each) would take that CPU from the server being measured on a 2-core machine.
// Each is gzip-compressed, as `tally scan --upload` sends it (cli/src/upload.ts), so the server pays the inflate.
// One file, read back a body at a time (page cache), so memory does not grow with --images.
log(`${IMAGES} reports of ${PACKAGES} packages…`);
const bodies = (() => {
  const file = join(work, 'bodies');
  const fd = openSync(file, 'w');
  const at = [];
  let offset = 0;
  let packages = 0;
  for (let i = 0; i < IMAGES; i++) {
    const report = synthReport(pool, i, { packages: PACKAGES, seed: 7 });
    packages += report.packages.length;
    const body = gzipSync(JSON.stringify(report));
    writeSync(fd, body);
    at.push([offset, body.length]);
    offset += body.length;
  }
  closeSync(fd);
  const rfd = openSync(file, 'r');
  return {
    packages,
    get(i) {
      const [pos, length] = at[i];
      const buf = Buffer.allocUnsafe(length);
      readSync(rfd, buf, 0, length, pos);
      return buf;
    },
  };
})();

const results = {};

for (const store of stores) {
  log(`=== ${store} ===`);
  const pg = store === 'postgres' ? await startTestPostgres() : null;
  const dataDir = join(work, `data-${store}`);
  mkdirSync(join(dataDir, 'vulndb'), { recursive: true });
  copyFileSync(sharedDb, serverVulnDbPath(dataDir));
  const s0 = await openStore({ dataDir, database: pg?.url });
  const admin = (await createToken(s0.db, 'admin')).token;
  await s0.close();
  const server = await serverProcess(dataDir, pg?.url);
  const r = (results[store] = {});
  try {
    // ---- ingestion
    const headers = (i) => ({
      authorization: `Bearer ${admin}`,
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      'x-tally-protocol': '1',
      'x-tally-sensor-host': `host-${i % 40}`,
      'x-tally-sensor-type': ['general', 'registry', 'cicd'][i % 3],
    });
    let next = 0;
    const marks = [];
    const cpu0 = cpuSeconds(server.child.pid);
    const client0 = process.cpuUsage();
    const started = performance.now();
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < IMAGES) {
          const i = next++;
          const res = await post(`${server.url}/api/v1/scans`, headers(i), bodies.get(i));
          if (res.status !== 201) throw new Error(`upload ${i}: ${res.status} ${res.body.slice(0, 300)}`);
          if ((i + 1) % 1000 === 0) {
            marks.push({ i: i + 1, t: performance.now() });
            log(`${i + 1} images`);
          }
        }
      }),
    );
    const secs = (performance.now() - started) / 1000;
    const cpu1 = cpuSeconds(server.child.pid);
    const client = process.cpuUsage(client0);
    const cpuMsPerUpload = {
      server: +(((cpu1.process - cpu0.process) * 1000) / IMAGES).toFixed(1),
      mainThread: +(((cpu1.main - cpu0.main) * 1000) / IMAGES).toFixed(1),
      // This process sending the bodies: on a 2-core machine it takes its share from the server.
      client: +((client.user + client.system) / 1000 / IMAGES).toFixed(1),
    };
    const perK = marks.map((m, k) => (1000 / ((m.t - (k === 0 ? started : marks[k - 1].t)) / 1000)).toFixed(1));
    r.ingest = { images: IMAGES, networkRetries: retries, packageRows: bodies.packages, seconds: +secs.toFixed(1), perSecond: +(IMAGES / secs).toFixed(1), perSecondByThousand: perK, cpuMsPerUpload, concurrency: CONCURRENCY };
    log('ingest', r.ingest);

    // ---- q latency
    const { body: some } = await get(`${server.url}/api/v1/images?limit=1&offset=${Math.floor(IMAGES / 2)}`, admin);
    const sample = some.items[0];
    const queries = {
      scanType: 'scanType:SCA',
      repo: `repo:"${sample.repo}"`,
      tag: `tag:${sample.repoTags[0].split(':').pop()}`,
      imageId: `imageId:"${sample.imageId}"`,
      os: 'os:debian',
      'software.name': 'software.name:openssl',
      'software.name (pattern)': 'software.name:lodash*',
      'software.version': 'software.version:"4.17.20"',
      'software.type': 'software.type:maven',
      'vulnerabilities.id': 'vulnerabilities.id:CVE-2021-44906',
      'vulnerabilities.severity': 'vulnerabilities.severity:CRITICAL',
      'vulnerabilities.scanType': 'vulnerabilities.scanType:SCA',
      'vulnerabilities.cvss': 'vulnerabilities.cvss>=9',
      'layer.createdBy': 'layer.createdBy:*npm*',
      'sensor.type': 'sensor.type:general',
      created: 'created>2025-06-01',
      combined: 'scanType:SCA AND vulnerabilities.severity>=HIGH AND NOT software.name:"@corp/lib-7"',
    };
    r.q = {};
    for (const [name, q] of Object.entries(queries)) {
      const times = [];
      let total = 0;
      for (let k = 0; k < QUERIES; k++) {
        const { ms, body } = await get(`${server.url}/api/v1/images?limit=50&q=${encodeURIComponent(q)}`, admin);
        times.push(ms);
        total = body.total;
      }
      r.q[name] = { q, matches: total, p50: +pct(times, 50).toFixed(1), p95: +pct(times, 95).toFixed(1) };
      log('q', name, r.q[name]);
    }
    const other = {
      'images page (no q)': '/api/v1/images?limit=50',
      'image software page': `/api/v1/images/${sample.imageId}/software?limit=100`,
      'image vulnerabilities page': `/api/v1/images/${sample.imageId}/vulnerabilities?limit=100`,
      'fleet software (grouped)': '/api/v1/software?limit=50',
      'fleet vulnerabilities (grouped)': '/api/v1/vulnerabilities?limit=50',
    };
    r.lists = {};
    for (const [name, url] of Object.entries(other)) {
      const times = [];
      for (let k = 0; k < Math.max(5, QUERIES / 4); k++) times.push((await get(`${server.url}${url}`, admin)).ms);
      // The first request apart: the software list's first read after the uploads folds the counter log in.
      r.lists[name] = { first: +times[0].toFixed(1), p50: +pct(times, 50).toFixed(1), p95: +pct(times, 95).toFixed(1) };
      log('list', name, r.lists[name]);
    }

    // ---- re-evaluation after a database update (the Debian 12 tracker data arrives)
    const t0 = Date.now();
    const imp = await post(`${server.url}/api/v1/vulndb/import?name=debian12-tracker.json`, { authorization: `Bearer ${admin}`, 'content-type': 'application/octet-stream' }, readFileSync(debianFixture));
    if (imp.status !== 202) throw new Error(`import: ${imp.status} ${imp.body}`);
    const jobId = JSON.parse(imp.body).job.id;
    const job = await waitForJob(server.url, admin, (j) => j.id === jobId);
    r.reevaluate = { ...job.result, wallSeconds: +((Date.now() - t0) / 1000).toFixed(1) };
    log('re-evaluation after the update', r.reevaluate);
    const again = await post(`${server.url}/api/v1/vulndb/reevaluate`, { authorization: `Bearer ${admin}` }, '');
    const job2 = await waitForJob(server.url, admin, (j) => j.id === JSON.parse(again.body).id);
    r.reevaluateUnchanged = job2.result;
    log('re-evaluation, database unchanged', r.reevaluateUnchanged);
    r.serverPeakRssMB = +server.peakRssMB().toFixed(0);
    if (store === 'sqlite') r.sqliteFileMB = +(statSync(join(dataDir, 'tally.sqlite')).size / 1048576).toFixed(0);
  } finally {
    server.child.kill('SIGTERM');
    await new Promise((res) => server.child.once('exit', res));
  }

  // ---- one report of a million packages, on a fresh server (its own memory peak)
  if (HUGE > 0) {
    const hugeDir = join(work, `huge-${store}`);
    mkdirSync(join(hugeDir, 'vulndb'), { recursive: true });
    copyFileSync(sharedDb, serverVulnDbPath(hugeDir));
    const s1 = await openStore({ dataDir: hugeDir, database: pg === null ? undefined : `${pg.url}` });
    // PostgreSQL: a second database would be cleaner; the huge image has its own imageId, so sharing is harmless.
    const token = (await createToken(s1.db, 'admin')).token;
    await s1.close();
    const file = join(work, 'huge.json');
    const bytes = await writeHugeReport(reports[0], HUGE, file, `sha256:${'f'.repeat(63)}${store === 'sqlite' ? '1' : '2'}`);
    const server2 = await serverProcess(hugeDir, pg?.url);
    try {
      const base = server2.peakRssMB();
      const t = performance.now();
      const res = await post(
        `${server2.url}/api/v1/scans`,
        { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'content-encoding': 'gzip', 'x-tally-protocol': '1' },
        createReadStream(file).pipe(createGzip()),
      );
      const secs = (performance.now() - t) / 1000;
      r.huge = { packages: HUGE, jsonMB: +(bytes / 1048576).toFixed(0), status: res.status, stored: res.status === 201 ? JSON.parse(res.body).packages.stored : res.body.slice(0, 200), seconds: +secs.toFixed(1), serverPeakRssMB: +server2.peakRssMB().toFixed(0), serverIdleRssMB: +base.toFixed(0) };
      log('one report of a million packages', r.huge);
    } finally {
      server2.child.kill('SIGTERM');
      await new Promise((res) => server2.child.once('exit', res));
      rmSync(file, { force: true });
    }
  }
  await pg?.stop();
}

console.log(JSON.stringify({ machine: { cpus: cpus().length, node: process.version }, images: IMAGES, packagesPerImage: PACKAGES, results }, null, 2));

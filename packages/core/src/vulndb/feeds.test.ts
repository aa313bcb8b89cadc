// `db update` against a local HTTP server on 127.0.0.1 serving the feed layout built from ../shared/vulndb.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { zipSync } from 'fflate';
import { MIRROR_LAYOUT, updateVulnDb, type UpdateOptions, type UpdateResult } from './feeds.js';
import { SqliteVulnDb, tempFilesOf, vulndbPath } from './store.js';

const SHARED = fileURLToPath(new URL('../../../../../shared/vulndb/', import.meta.url));
const shared = (name: string): Buffer => readFileSync(join(SHARED, name));
const sharedRecords = (name: string): Record<string, unknown>[] =>
  gunzipSync(shared(name))
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

type Mode = 'normal' | 'truncate' | 'slow' | 'ignore-conditional' | 'bad-md5';
interface Served {
  body: Buffer;
  etag: string;
  lastModified: string;
  mode: Mode;
  md5: boolean;
}

/** A tiny static server with ETag/Last-Modified, and fault modes for one path at a time. */
class FeedServer {
  readonly files = new Map<string, Served>();
  readonly log: { path: string; ifNoneMatch: string | null; status: number }[] = [];
  private server: Server | null = null;
  private version = 0;
  onRequest: ((path: string) => void) | null = null;
  port = 0;

  set(path: string, body: Buffer, opts: { mode?: Mode; md5?: boolean } = {}): void {
    this.version += 1;
    const prev = this.files.get(path);
    const same = prev !== undefined && prev.body.equals(body);
    this.files.set(path, {
      body,
      etag: same ? prev.etag : `"v${this.version}-${createHash('sha1').update(body).digest('hex').slice(0, 8)}"`,
      lastModified: same ? prev.lastModified : new Date(Date.UTC(2025, 0, 1, 0, 0, this.version)).toUTCString(),
      mode: opts.mode ?? 'normal',
      md5: opts.md5 ?? false,
    });
  }

  mode(path: string, mode: Mode): void {
    const f = this.files.get(path);
    if (f) f.mode = mode;
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    const addr = this.server.address();
    this.port = typeof addr === 'object' && addr ? addr.port : 0;
  }

  get base(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname).replace(/^\//, '');
    this.onRequest?.(path);
    const f = this.files.get(path);
    const inm = typeof req.headers['if-none-match'] === 'string' ? req.headers['if-none-match'] : null;
    const ims = typeof req.headers['if-modified-since'] === 'string' ? req.headers['if-modified-since'] : null;
    const done = (status: number): void => {
      this.log.push({ path, ifNoneMatch: inm, status });
    };
    if (!f) {
      done(404);
      res.writeHead(404).end('not found');
      return;
    }
    if (f.mode !== 'ignore-conditional' && ((inm !== null && inm === f.etag) || (inm === null && ims !== null && ims === f.lastModified))) {
      done(304);
      res.writeHead(304, { etag: f.etag }).end();
      return;
    }
    const headers: Record<string, string | number> = { etag: f.etag, 'last-modified': f.lastModified, 'content-length': f.body.length, 'content-type': 'application/octet-stream' };
    if (f.md5 || f.mode === 'bad-md5') {
      const md5 = createHash('md5').update(f.mode === 'bad-md5' ? Buffer.from('other') : f.body).digest('base64');
      headers['x-goog-hash'] = `crc32c=AAAAAA==,md5=${md5}`;
    }
    done(200);
    res.writeHead(200, headers);
    if (f.mode === 'truncate') {
      // Promise the whole body, send part of it, then drop the connection.
      res.write(f.body.subarray(0, Math.floor(f.body.length / 2)), () => res.socket?.destroy());
      return;
    }
    if (f.mode === 'slow') {
      let i = 0;
      const tick = (): void => {
        if (res.destroyed) return;
        if (i >= f.body.length) {
          res.end();
          return;
        }
        res.write(f.body.subarray(i, i + 64));
        i += 64;
        setTimeout(tick, 50);
      };
      tick();
      return;
    }
    res.end(f.body);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

const npmRecords = sharedRecords('ghsa-npm.osv.ndjson.gz');
const goRecords = sharedRecords('go-vulndb.osv.ndjson.gz');

function zipOf(records: readonly Record<string, unknown>[]): Buffer {
  const files: Record<string, Uint8Array> = {};
  for (const r of records) files[`${String(r['id'])}.json`] = Buffer.from(JSON.stringify(r));
  return Buffer.from(zipSync(files, { level: 6 }));
}

function modifiedIds(records: readonly Record<string, unknown>[]): Buffer {
  const rows = records.map((r) => [String(r['modified']), String(r['id'])] as const).sort((a, b) => (a[0] < b[0] ? 1 : a[0] > b[0] ? -1 : 0));
  return Buffer.from(rows.map(([m, id]) => `${m},${id}`).join('\n') + '\n');
}

function alpineDoc(branch: string, repo: string): Buffer {
  const docs = sharedRecords('alpine-secdb-2020.secdb.ndjson.gz');
  const d = docs.find((x) => x['distroversion'] === branch && x['reponame'] === repo);
  assert.ok(d);
  return Buffer.from(JSON.stringify(d, null, 2));
}

/** Serve osv records for an ecosystem: all.zip (with x-goog-hash), modified_id.csv and per-record JSON. */
function serveOsv(server: FeedServer, eco: string, records: readonly Record<string, unknown>[]): void {
  server.set(MIRROR_LAYOUT.osvZip(eco), zipOf(records), { md5: true });
  server.set(MIRROR_LAYOUT.osvModifiedIds(eco), modifiedIds(records));
  for (const r of records) server.set(MIRROR_LAYOUT.osvRecord(eco, String(r['id'])), Buffer.from(JSON.stringify(r)));
}

function fileHash(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

const server = new FeedServer();
let tmp = '';

function options(cacheDir: string, extra: Partial<UpdateOptions> = {}): UpdateOptions {
  return {
    cacheDir,
    mirror: server.base,
    osvEcosystems: ['npm', 'Go'],
    alpineBranches: ['v3.10'],
    limits: { minBytes: { 'debian-tracker': 100, epss: 100, kev: 100 } },
    ...extra,
  };
}

function statusOf(r: UpdateResult): Record<string, string> {
  return Object.fromEntries(r.feeds.map((f) => [f.name, `${f.status}${f.how ? `/${f.how}` : ''}`]));
}

before(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'tally-feeds-'));
  serveOsv(server, 'npm', npmRecords);
  serveOsv(server, 'Go', goRecords);
  server.set(MIRROR_LAYOUT.debianTracker, gunzipSync(shared('debian-tracker-json.sample.json.gz')));
  server.set(MIRROR_LAYOUT.alpine('v3.10', 'main'), alpineDoc('v3.10', 'main'));
  server.set(MIRROR_LAYOUT.alpine('v3.10', 'community'), alpineDoc('v3.10', 'community'));
  server.set(MIRROR_LAYOUT.kev, gunzipSync(shared('cisa-kev.json.gz')));
  server.set(MIRROR_LAYOUT.epss, shared('epss.sample.csv.gz'));
  await server.start();
});

after(async () => {
  await server.stop();
  rmSync(tmp, { recursive: true, force: true });
});

describe('db update against a local mirror server', () => {
  const cache = (): string => join(tmp, 'cache');
  const live = (): string => vulndbPath(cache());

  it('1. builds the database from every feed', async () => {
    const r = await updateVulnDb(options(cache()));
    assert.equal(r.ok, true, JSON.stringify(r.feeds.filter((f) => f.status === 'failed')));
    assert.equal(r.swapped, true);
    assert.deepEqual(statusOf(r), {
      'osv:npm': 'updated/full',
      'osv:Go': 'updated/full',
      'debian-tracker': 'updated/full',
      'alpine:v3.10/main': 'updated/full',
      'alpine:v3.10/community': 'updated/full',
      kev: 'updated/full',
      epss: 'updated/full',
    });
    const go = r.feeds.find((f) => f.name === 'osv:Go');
    assert.equal(go?.after?.advisories, 4274);
    assert.equal(go?.withdrawn, 17);
    assert.equal(go?.delta.advisories, 4274);
    const db = SqliteVulnDb.open(live());
    assert.ok(db.affecting('npm', 'lodash').length >= 2);
    assert.equal(db.kev('CVE-2021-44228')?.dateAdded, '2021-12-10');
    assert.equal(db.epss('CVE-1999-0001')?.score, 0.00383);
    assert.ok(db.affecting('Alpine:v3.10', 'openssl').length > 0);
    db.close();
    assert.deepEqual(tempFilesOf(live()), []);
    assert.equal(existsSync(`${live()}.lock`), false);
    assert.deepEqual(readdirSync(dirname(live())).filter((n) => n.startsWith('downloads-')), []);
  });

  it('2. a second run changes nothing: conditional requests get 304, osv feeds read no changes from modified_id.csv', async () => {
    const before = fileHash(live());
    server.log.length = 0;
    const r = await updateVulnDb(options(cache()));
    assert.deepEqual(statusOf(r), {
      'osv:npm': 'unchanged/no-changes',
      'osv:Go': 'unchanged/no-changes',
      'debian-tracker': 'unchanged/not-modified',
      'alpine:v3.10/main': 'unchanged/not-modified',
      'alpine:v3.10/community': 'unchanged/not-modified',
      kev: 'unchanged/not-modified',
      epss: 'unchanged/not-modified',
    });
    assert.equal(r.swapped, false);
    assert.equal(fileHash(live()), before);
    assert.ok(server.log.some((l) => l.path === MIRROR_LAYOUT.kev && l.ifNoneMatch !== null && l.status === 304));
    assert.ok(!server.log.some((l) => l.path.endsWith('all.zip')), 'no zip downloaded');
  });

  it('3. updates osv incrementally (changed, new and withdrawn records) and a changed feed in full', async () => {
    const changed = npmRecords.map((r) => ({ ...r }));
    const first = changed[0];
    const second = changed[1];
    assert.ok(first && second);
    first['summary'] = 'changed summary';
    first['modified'] = '2030-01-01T00:00:00Z';
    second['withdrawn'] = '2030-01-02T00:00:00Z';
    second['modified'] = '2030-01-02T00:00:00Z';
    const added = { ...first, id: 'GHSA-new0-new0-new0', summary: 'brand new', modified: '2030-01-03T00:00:00Z' };
    changed.push(added);
    serveOsv(server, 'npm', changed);
    const kev = JSON.parse(gunzipSync(shared('cisa-kev.json.gz')).toString('utf8')) as { vulnerabilities: unknown[] };
    kev.vulnerabilities = kev.vulnerabilities.slice(0, 1000);
    server.set(MIRROR_LAYOUT.kev, Buffer.from(JSON.stringify(kev)));
    server.log.length = 0;
    const r = await updateVulnDb(options(cache()));
    assert.equal(r.ok, true);
    assert.equal(r.swapped, true);
    const npm = r.feeds.find((f) => f.name === 'osv:npm');
    assert.equal(npm?.how, 'incremental');
    assert.equal(npm?.changedRecords, 3);
    assert.equal(npm?.delta.advisories, 0); // +1 new, -1 withdrawn
    assert.ok(!server.log.some((l) => l.path === MIRROR_LAYOUT.osvZip('npm')), 'the zip is not downloaded for 3 changes');
    const k = r.feeds.find((f) => f.name === 'kev');
    assert.deepEqual([k?.how, k?.delta.kev], ['full', -404]);
    const db = SqliteVulnDb.open(live());
    assert.equal(db.advisory(String(first['id']))?.summary, 'changed summary');
    assert.equal(db.advisory(String(second['id'])), null);
    assert.equal(db.advisory('GHSA-new0-new0-new0')?.summary, 'brand new');
    db.close();
  });

  it('4. a body identical to the last import is "unchanged" even when the server ignores conditional requests', async () => {
    server.mode(MIRROR_LAYOUT.kev, 'ignore-conditional');
    const r = await updateVulnDb(options(cache(), { feeds: { kev: true, osv: false, debian: false, alpine: false, epss: false } }));
    assert.deepEqual(statusOf(r), { kev: 'unchanged/same-checksum' });
    server.mode(MIRROR_LAYOUT.kev, 'normal');
  });

  it('5. a truncated download fails cleanly and keeps the old database', async () => {
    const before = fileHash(live());
    server.set(MIRROR_LAYOUT.debianTracker, Buffer.concat([gunzipSync(shared('debian-tracker-json.sample.json.gz')), Buffer.from(' ')]), { mode: 'truncate' });
    const r = await updateVulnDb(options(cache()));
    assert.equal(r.ok, false);
    assert.equal(r.swapped, false);
    const deb = r.feeds.find((f) => f.name === 'debian-tracker');
    assert.equal(deb?.status, 'failed');
    assert.match(deb?.reason ?? '', /truncated|terminated|download failed/i);
    assert.ok(r.feeds.filter((f) => f.status === 'skipped').length > 0, 'all-or-nothing: later feeds are not attempted');
    assert.equal(fileHash(live()), before);
    assert.deepEqual(tempFilesOf(live()), []);
    assert.equal(existsSync(`${live()}.lock`), false);
    const db = SqliteVulnDb.open(live());
    assert.ok(db.affecting('Debian:10', 'prototypejs').length > 0);
    db.close();
  });

  it('6. allowPartial keeps the feeds that worked; the failed one keeps its old records', async () => {
    server.set(MIRROR_LAYOUT.epss, Buffer.from('#model_version:v2025.03.14,score_date:2025-03-01T00:00:00+0000\ncve,epss,percentile\nCVE-2024-0001,0.5,0.9\nCVE-2024-0002,0.1,0.2\n' + 'CVE-2024-0003,0.1,0.2\n'.repeat(10)));
    const r = await updateVulnDb(options(cache(), { allowPartial: true }));
    assert.equal(r.ok, false);
    assert.equal(r.swapped, true);
    assert.equal(r.feeds.find((f) => f.name === 'debian-tracker')?.status, 'failed');
    assert.equal(r.feeds.find((f) => f.name === 'epss')?.status, 'updated');
    const db = SqliteVulnDb.open(live());
    assert.equal(db.epss('CVE-2024-0001')?.date, '2025-03-01');
    assert.ok(db.affecting('Debian:10', 'prototypejs').length > 0, 'debian keeps its previous records');
    db.close();
    server.set(MIRROR_LAYOUT.debianTracker, gunzipSync(shared('debian-tracker-json.sample.json.gz')));
  });

  it('7. checks the published MD5 and refuses a feed that shrank to a stub', async () => {
    const before = fileHash(live());
    server.set(MIRROR_LAYOUT.osvZip('Go'), zipOf(goRecords), { mode: 'bad-md5' });
    const r1 = await updateVulnDb(options(cache(), { incremental: false, feeds: { osv: true, debian: false, alpine: false, kev: false, epss: false }, osvEcosystems: ['Go'] }));
    assert.match(r1.feeds[0]?.reason ?? '', /MD5/);
    server.set(MIRROR_LAYOUT.osvZip('Go'), zipOf(goRecords.slice(0, 10)), { md5: true });
    const r2 = await updateVulnDb(options(cache(), { incremental: false, feeds: { osv: true, debian: false, alpine: false, kev: false, epss: false }, osvEcosystems: ['Go'] }));
    assert.equal(r2.feeds[0]?.status, 'failed');
    assert.match(r2.feeds[0]?.reason ?? '', /shrank/);
    assert.equal(fileHash(live()), before);
    server.set(MIRROR_LAYOUT.osvZip('Go'), zipOf(goRecords), { md5: true });
  });

  it('8. an abort mid-download rejects with ABORTED and leaves the old database', async () => {
    const before = fileHash(live());
    server.set(MIRROR_LAYOUT.kev, Buffer.from(JSON.stringify({ catalogVersion: 'slow', vulnerabilities: [], pad: 'x'.repeat(20_000) })), { mode: 'slow' });
    const ac = new AbortController();
    server.onRequest = (p) => {
      if (p === MIRROR_LAYOUT.kev) setTimeout(() => ac.abort(), 200);
    };
    await assert.rejects(updateVulnDb(options(cache(), { signal: ac.signal })), { code: 'ABORTED' });
    server.onRequest = null;
    assert.equal(fileHash(live()), before);
    assert.deepEqual(tempFilesOf(live()), []);
    assert.equal(existsSync(`${live()}.lock`), false);
    assert.deepEqual(readdirSync(dirname(live())).filter((n) => n.startsWith('downloads-')), []);
  });

  it('9. a process killed mid-update leaves the old database in use; the next update cleans up', async () => {
    const before = fileHash(live());
    const feedsModule = fileURLToPath(new URL('./feeds.ts', import.meta.url));
    const script = `
      const { updateVulnDb } = await import(${JSON.stringify(feedsModule)});
      await updateVulnDb(${JSON.stringify(options(cache()))});
    `;
    const requested = new Promise<void>((resolve) => {
      server.onRequest = (p) => {
        if (p === MIRROR_LAYOUT.kev) resolve();
      };
    });
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: process.cwd(), stdio: 'ignore' });
    const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
    await requested;
    await new Promise((r) => setTimeout(r, 150));
    child.kill('SIGKILL');
    await exited;
    server.onRequest = null;
    assert.equal(fileHash(live()), before, 'the live database is untouched');
    assert.equal(existsSync(`${live()}.lock`), true, 'the dead writer left its lock');
    assert.equal(tempFilesOf(live()).length, 1, 'and its temp copy');
    const db = SqliteVulnDb.open(live());
    assert.ok(db.affecting('npm', 'lodash').length > 0, 'scans still work');
    db.close();

    server.set(MIRROR_LAYOUT.kev, gunzipSync(shared('cisa-kev.json.gz')));
    const r = await updateVulnDb(options(cache()));
    assert.equal(r.ok, true, JSON.stringify(r.feeds.filter((f) => f.status === 'failed')));
    assert.equal(r.swapped, true);
    assert.deepEqual(tempFilesOf(live()), []);
    assert.equal(existsSync(`${live()}.lock`), false);
    assert.deepEqual(readdirSync(dirname(live())).filter((n) => n.startsWith('downloads-')), []);
  });

  it('10. a scan running across an update sees old or new data, never a mix', async () => {
    const before = SqliteVulnDb.open(live());
    const expectOld = JSON.stringify(before.affecting('npm', 'lodash').map((a) => a.id));
    const changed = npmRecords.map((r) => ({ ...r, modified: '2031-01-01T00:00:00Z', summary: 'v2' }));
    serveOsv(server, 'npm', changed);
    let lookups = 0;
    let stop = false;
    const scan = (async () => {
      while (!stop) {
        const got = before.affecting('npm', 'lodash');
        assert.equal(JSON.stringify(got.map((a) => a.id)), expectOld);
        assert.ok(got.every((a) => a.summary !== 'v2'), 'the open scan keeps the old data');
        lookups += 1;
        await new Promise((r) => setImmediate(r));
      }
    })();
    const r = await updateVulnDb(options(cache()));
    stop = true;
    await scan;
    assert.equal(r.swapped, true);
    assert.ok(lookups > 0);
    assert.equal(before.isStale(), true);
    before.close();
    const fresh = SqliteVulnDb.open(live());
    // GHSA-new0 (added in step 3) is absent from this listing; an incremental update cannot see deletions, so it stays.
    assert.ok(fresh.affecting('npm', 'lodash').filter((a) => a.id !== 'GHSA-new0-new0-new0').every((a) => a.summary === 'v2'));
    fresh.close();
  });
});

describe('db update from a local directory mirror', () => {
  it('reads the same layout from disk, detects unchanged files, and verifies .sha256 files', async () => {
    const mirror = join(tmp, 'mirror');
    for (const [path, f] of server.files) {
      mkdirSync(dirname(join(mirror, path)), { recursive: true });
      writeFileSync(join(mirror, path), f.body);
    }
    const cacheDir = join(tmp, 'cache-dir-mirror');
    const opts = { ...options(cacheDir), mirror };
    const r1 = await updateVulnDb(opts);
    assert.equal(r1.ok, true, JSON.stringify(r1.feeds.filter((f) => f.status === 'failed')));
    assert.ok(r1.feeds.every((f) => f.status === 'updated'));
    const r2 = await updateVulnDb({ ...opts, incremental: false });
    assert.ok(r2.feeds.every((f) => f.status === 'unchanged' && f.how === 'not-modified'), JSON.stringify(statusOf(r2)));
    // A mirror that publishes a checksum must match it.
    const kevPath = join(mirror, MIRROR_LAYOUT.kev);
    writeFileSync(kevPath, readFileSync(kevPath).toString('utf8').replace('"2025.08.25"', '"2025.08.26"'));
    writeFileSync(`${kevPath}.sha256`, `${'0'.repeat(64)}  known_exploited_vulnerabilities.json\n`);
    const r3 = await updateVulnDb({ ...opts, feeds: { kev: true, osv: false, debian: false, alpine: false, epss: false } });
    assert.match(r3.feeds[0]?.reason ?? '', /SHA-256/);
    writeFileSync(`${kevPath}.sha256`, createHash('sha256').update(readFileSync(kevPath)).digest('hex'));
    const r4 = await updateVulnDb({ ...opts, feeds: { kev: true, osv: false, debian: false, alpine: false, epss: false } });
    assert.equal(r4.feeds[0]?.status, 'updated', JSON.stringify(r4.feeds));
  });

  it('fails a feed the mirror does not have, and a 404 from a server', async () => {
    const r = await updateVulnDb({ ...options(join(tmp, 'cache-404')), osvEcosystems: ['PyPI'], feeds: { osv: true, debian: false, alpine: false, kev: false, epss: false } });
    assert.equal(r.feeds[0]?.status, 'failed');
    assert.match(r.feeds[0]?.reason ?? '', /404/);
    assert.equal(r.swapped, false);
  });
});

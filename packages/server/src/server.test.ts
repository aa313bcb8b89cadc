/**
 * Real sockets and real processes: caps enforced while the bytes arrive, a server SIGKILLed in the middle of an
 * ingestion and restarted (no partial image; the retried upload lands once), SIGTERM stopping cleanly, and a
 * report of 1,000,000 packages.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createReadStream, existsSync, mkdirSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createGzip, gzipSync } from 'node:zlib';
import { createHash } from 'node:crypto';
import type { ScanReport } from '@tally/core';
import { startServer, type RunningServer } from './server.js';
import { createToken } from './store/tokens.js';
import { openStore } from './store/database.js';
import { serverVulnDbPath } from './evaluate/vulndb.js';
import { readJson, scanReport, scratchDir, vulnDbFile, type StoreKind } from './testing/backend.js';
import { startTestPostgres, type TestPostgres } from './testing/postgres.js';
import { writeHugeReport } from './testing/synth.js';
import { copyFileSync } from 'node:fs';
import type { UploadResponse } from './protocol.js';

const serveProcess = new URL('./testing/serve-process.ts', import.meta.url).pathname;

interface Response {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** POST a stream or buffer; resolves with the response even when the server closes the connection mid-upload. */
function post(url: string, headers: Record<string, string>, body: NodeJS.ReadableStream | Buffer): Promise<Response & { written: number }> {
  return new Promise((resolve, reject) => {
    let written = 0;
    const req = request(url, { method: 'POST', headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers, written }));
    });
    req.on('error', reject);
    if (Buffer.isBuffer(body)) {
      written = body.length;
      req.end(body);
    } else {
      body.on('data', (c: Buffer) => (written += c.length));
      body.pipe(req);
    }
  });
}

function sensorHeaders(token: string, extra: Record<string, string> = {}): Record<string, string> {
  return { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'x-tally-protocol': '1', 'x-tally-sensor-host': 'socket-test', ...extra };
}

interface ServerProcess {
  readonly url: string;
  readonly child: ChildProcess;
  /** Resolves with the first log line for which `test` holds. */
  waitForLog(test: (line: Record<string, unknown>) => boolean): Promise<void>;
  readonly exited: Promise<number | null>;
}

function spawnServer(dataDir: string, database: string | undefined): Promise<ServerProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', serveProcess, dataDir, database ?? '', 'debug'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waiters: { test: (l: Record<string, unknown>) => boolean; resolve: () => void }[] = [];
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    let url: string | null = null;
    lines.on('line', (line) => {
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (url === null && typeof parsed['url'] === 'string') {
        url = parsed['url'];
        resolve({
          url,
          child,
          exited,
          waitForLog: (test) => new Promise<void>((r) => waiters.push({ test, resolve: r })),
        });
        return;
      }
      for (const w of waiters.splice(0)) {
        if (w.test(parsed)) w.resolve();
        else waiters.push(w);
      }
    });
    void exited.then((code) => {
      if (url === null) reject(new Error(`server exited (${code}) before listening`));
    });
  });
}

describe('the server over real sockets', { timeout: 120_000 }, () => {
  let server: RunningServer;
  let token: string;
  let admin: string;

  before(async () => {
    const dataDir = join(scratchDir(), 'socket');
    mkdirSync(join(dataDir, 'vulndb'), { recursive: true });
    copyFileSync(vulnDbFile(), serverVulnDbPath(dataDir));
    server = await startServer({
      dataDir,
      port: 0,
      logger: false,
      limits: { maxCompressedBytes: 64 * 1024 * 1024, maxInflatedBytes: 64 * 1024 * 1024, memoryBytes: 8 * 1024 * 1024 },
    });
    token = (await createToken(server.store.db, 'sensor')).token;
    admin = (await createToken(server.store.db, 'admin')).token;
  });
  after(async () => {
    await server?.close();
  });

  it('uploads gzip over HTTP and answers /healthz', async () => {
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    const r = await post(`${server.url}/api/v1/scans`, sensorHeaders(token, { 'content-encoding': 'gzip' }), gzipSync(scanReport('debian12', { match: false })));
    assert.equal(r.status, 201, r.body);
    assert.match(r.headers['content-security-policy'] as string, /default-src 'self'/);
  });

  it('refuses a declared 1 GB body at once, without reading it', async () => {
    const started = performance.now();
    let sent = 0;
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(`${server.url}/api/v1/scans`, { method: 'POST', headers: { ...sensorHeaders(token), 'content-length': String(1024 ** 3) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EPIPE' || e.code === 'ECONNRESET' ? undefined : reject(e)));
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      const pump = (): void => {
        while (sent < 1024 ** 3 && req.write(chunk)) sent += chunk.length;
        if (sent < 1024 ** 3) req.once('drain', pump);
      };
      pump();
    });
    const ms = performance.now() - started;
    assert.equal(status, 413);
    assert.ok(ms < 3000, `413 after ${ms.toFixed(0)} ms`);
    assert.ok(sent < 256 * 1024 * 1024, `${sent} bytes written before the answer`);
  });

  it('stops inflating a gzip bomb at the cap', async () => {
    // 200 MiB of zeros compress to ~200 KiB; the test server's cap is 64 MiB inflated.
    const zeros = Buffer.alloc(1024 * 1024);
    const bomb = createGzip();
    let n = 0;
    const feed = (): void => {
      while (n < 200) {
        n++;
        if (!bomb.write(zeros)) {
          bomb.once('drain', feed);
          return;
        }
      }
      bomb.end();
    };
    feed();
    const r = await post(`${server.url}/api/v1/scans`, sensorHeaders(token, { 'content-encoding': 'gzip' }), bomb);
    assert.equal(r.status, 413, r.body);
    assert.match(r.body, /larger than 67108864 bytes once inflated/);
  });

  it('answers malformed JSON with 400 over the socket', async () => {
    const r = await post(`${server.url}/api/v1/scans`, sensorHeaders(token), Buffer.from('{"schemaVersion":1,'));
    assert.equal(r.status, 400);
    assert.match(r.body, /truncated/);
    const list = await fetch(`${server.url}/api/v1/images`, { headers: { authorization: `Bearer ${admin}` } });
    assert.equal(list.status, 200);
  });
});

const kinds = (process.env['TALLY_TEST_STORES'] ?? 'sqlite,postgres').split(',').filter((k): k is StoreKind => k === 'sqlite' || k === 'postgres');

for (const kind of kinds) {
  describe(`fault: SIGKILL in the middle of an ingestion (${kind})`, { timeout: 600_000 }, () => {
    let pg: TestPostgres | null = null;
    before(async () => {
      if (kind === 'postgres') pg = await startTestPostgres();
    });
    after(async () => {
      await pg?.stop();
    });

    it('leaves no partial image, and the retried upload lands once', async () => {
      const dataDir = join(scratchDir(), `fault-${kind}`);
      mkdirSync(join(dataDir, 'vulndb'), { recursive: true });
      copyFileSync(vulnDbFile(), serverVulnDbPath(dataDir));
      const store = await openStore({ dataDir, database: pg?.url });
      const token = (await createToken(store.db, 'admin')).token;
      await store.close();

      const base = readJson<ScanReport>(scanReport('sca-node', { sca: true, match: false }));
      const imageId = `sha256:${createHash('sha256').update(`fault-${kind}`).digest('hex')}`;
      const file = join(scratchDir(), `big-${kind}.json`);
      const count = 150_000;
      await writeHugeReport(base, count, file, imageId);

      const first = await spawnServer(dataDir, pg?.url);
      const writing = first.waitForLog((l) => l['stage'] === 'writing');
      const inFlight = post(`${first.url}/api/v1/scans`, sensorHeaders(token, { 'content-encoding': 'gzip' }), createReadStream(file).pipe(createGzip())).catch((e: unknown) => e);
      await writing;
      // Well inside the transaction: the dictionary and package inserts of 150,000 packages take seconds.
      await new Promise((r) => setTimeout(r, 700));
      first.child.kill('SIGKILL');
      const code = await first.exited;
      assert.equal(code, null, 'killed by the signal');
      const lost = await inFlight;
      assert.ok(lost instanceof Error, 'the client saw the connection die');

      const second = await spawnServer(dataDir, pg?.url);
      try {
        const auth = { authorization: `Bearer ${token}` };
        const missing = await fetch(`${second.url}/api/v1/images/${imageId}`, { headers: auth });
        assert.equal(missing.status, 404, 'no partial image');
        const check = await openStore({ dataDir, database: pg?.url, migrate: false });
        try {
          const orphans = await check.read
            .selectFrom('image_packages')
            .select((eb) => eb.fn.countAll<number>().as('n'))
            .where('image_pk', 'not in', (eb) => eb.selectFrom('images').select('pk'))
            .executeTakeFirst();
          assert.equal(Number(orphans?.n), 0, 'no package rows without an image');
          const uploads = await check.read.selectFrom('uploads').select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirst();
          assert.equal(Number(uploads?.n), 0, 'no upload recorded');
        } finally {
          await check.close();
        }
        const retry = await post(`${second.url}/api/v1/scans`, sensorHeaders(token, { 'content-encoding': 'gzip' }), createReadStream(file).pipe(createGzip()));
        assert.equal(retry.status, 201, retry.body);
        assert.equal(JSON.parse(retry.body).packages.stored, count);
        const again = await post(`${second.url}/api/v1/scans`, sensorHeaders(token, { 'content-encoding': 'gzip' }), createReadStream(file).pipe(createGzip()));
        assert.equal(again.status, 200);
        assert.equal((JSON.parse(again.body) as UploadResponse).duplicate, true);
        const sw = await fetch(`${second.url}/api/v1/images/${imageId}/software?limit=1`, { headers: auth });
        assert.equal(((await sw.json()) as { total: number }).total, count, 'landed once');
      } finally {
        second.child.kill('SIGTERM');
        assert.equal(await second.exited, 0, 'SIGTERM stops the server cleanly');
      }
      assert.equal(existsSync(join(dataDir, 'tmp')) ? statSync(join(dataDir, 'tmp')).isDirectory() : true, true);
    });
  });
}

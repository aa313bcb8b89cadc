/**
 * The sensor side of the upload (upload.ts) and the backend commands (serve, token, admin), against a real server
 * on a real socket, and against small fake servers for the failure modes (5xx, 4xx, network errors).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { ScanReport } from '@tally/core';
import { createToken, setSca, startServer, type RunningServer } from '@tally/server';
import { uploadAndReport, uploadReport, UploadError, uploadUrl } from './upload.js';
import { repoRoot, scanJson, tally, testImages } from './e2e/support.js';

const work = mkdtempSync(join(tmpdir(), 'tally-upload-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

function report(): ScanReport {
  return scanJson(join(testImages(), 'sca-node', 'docker-archive.tar'), ['--perform-sca-scan', '--no-match']) as unknown as ScanReport;
}

async function body(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

function fake(handler: (req: IncomingMessage, body: Buffer, n: number) => { status: number; body: unknown; headers?: Record<string, string> }): Promise<{ server: Server; url: string; calls: { headers: IncomingMessage['headers']; body: Buffer }[] }> {
  const calls: { headers: IncomingMessage['headers']; body: Buffer }[] = [];
  const server = createServer((req, res) => {
    void body(req).then((b) => {
      calls.push({ headers: req.headers, body: b });
      const out = handler(req, b, calls.length);
      res.writeHead(out.status, { 'content-type': 'application/json', ...out.headers });
      res.end(JSON.stringify(out.body));
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, calls })));
}

const noSleep = (): Promise<void> => Promise.resolve();

/** Runs code against stderr captured in memory (never stdout: the test runner reports through it). */
async function captureStderr(run: (stderr: NodeJS.WritableStream) => Promise<unknown>): Promise<string> {
  const chunks: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      chunks.push(chunk.toString());
      done();
    },
  });
  await run(sink);
  return chunks.join('');
}

describe('uploadReport', () => {
  it('sends gzip JSON with the protocol headers', async () => {
    const f = await fake(() => ({ status: 201, body: { uploadId: 1, imageId: 'x', duplicate: false, scanTypes: [], droppedScanTypes: [], packages: { received: 1, stored: 1, dropped: 0 }, vulnerabilities: { total: 0, bySeverity: {} }, evaluated: true, warnings: [] } }));
    try {
      const r = report();
      const res = await uploadReport(r, { url: f.url, token: 'tly_x', host: 'h1', sensorId: 'sensor-7' });
      assert.equal(res.attempts, 1);
      const call = f.calls[0];
      assert.ok(call !== undefined);
      assert.equal(call.headers['content-encoding'], 'gzip');
      assert.equal(call.headers['x-tally-protocol'], '1');
      assert.equal(call.headers['x-tally-sensor-host'], 'h1');
      assert.equal(call.headers['x-tally-sensor-id'], 'sensor-7');
      assert.equal(call.headers['x-tally-perform-sca'], 'true');
      assert.equal(call.headers.authorization, 'Bearer tly_x');
      assert.deepEqual(JSON.parse(gunzipSync(call.body).toString('utf8')), JSON.parse(JSON.stringify(r)));
    } finally {
      f.server.close();
    }
  });

  it('retries 5xx and network errors with backoff, not 4xx', async () => {
    const ok = { uploadId: 2, imageId: 'y', duplicate: false, scanTypes: [], droppedScanTypes: [], packages: { received: 0, stored: 0, dropped: 0 }, vulnerabilities: { total: 0, bySeverity: {} }, evaluated: true, warnings: [] };
    const flaky = await fake((_req, _b, n) => (n < 3 ? { status: 503, body: { message: 'busy' }, headers: { 'retry-after': '0' } } : { status: 201, body: ok }));
    const delays: number[] = [];
    try {
      const res = await uploadReport(report(), { url: flaky.url, token: 't', sleep: noSleep, onRetry: (_a, ms) => delays.push(ms) });
      assert.equal(res.attempts, 3);
      assert.deepEqual(delays, [0, 0], 'Retry-After honoured');
    } finally {
      flaky.server.close();
    }
    const backoff: number[] = [];
    const down = await fake(() => ({ status: 502, body: {} }));
    try {
      await assert.rejects(uploadReport(report(), { url: down.url, token: 't', retries: 4, baseDelayMs: 100, maxDelayMs: 1000, sleep: noSleep, onRetry: (_a, ms) => backoff.push(ms) }), (e: unknown) => e instanceof UploadError && e.attempts === 5 && e.status === 502);
      assert.equal(backoff.length, 4);
      backoff.forEach((ms, i) => assert.ok(ms >= (100 * 2 ** i) / 2 && ms <= Math.min(1000, 100 * 2 ** i), `delay ${i}: ${ms}`));
    } finally {
      down.server.close();
    }
    const refused = await fake(() => ({ status: 400, body: { message: 'sensor protocol "1" is not supported' } }));
    try {
      await assert.rejects(uploadReport(report(), { url: refused.url, token: 't', sleep: noSleep }), (e: unknown) => e instanceof UploadError && e.attempts === 1 && /not supported/.test(e.message));
    } finally {
      refused.server.close();
    }
    // Nothing listens there: a network error each time.
    const closed = await fake(() => ({ status: 200, body: {} }));
    const deadUrl = closed.url;
    await new Promise((r) => closed.server.close(r));
    await assert.rejects(uploadReport(report(), { url: deadUrl, token: 't', retries: 2, sleep: noSleep }), (e: unknown) => e instanceof UploadError && e.attempts === 3 && e.status === null);
  });

  it('builds the upload URL from a base URL', () => {
    assert.equal(uploadUrl('http://127.0.0.1:8080'), 'http://127.0.0.1:8080/api/v1/scans');
    assert.equal(uploadUrl('https://tally.example/base/'), 'https://tally.example/base/api/v1/scans');
    assert.equal(uploadUrl('http://h/api/v1/scans'), 'http://h/api/v1/scans');
    assert.throws(() => uploadUrl('ftp://h'), UploadError);
  });
});

describe('against a real backend', { timeout: 120_000 }, () => {
  let server: RunningServer;
  let sensor: string;
  before(async () => {
    server = await startServer({ dataDir: join(work, 'backend'), port: 0, logger: false });
    sensor = (await createToken(server.store.db, 'sensor')).token;
  });
  after(async () => {
    await server?.close();
  });

  it('uploads, and prints the SCA-disabled warning of the server', async () => {
    const r = report();
    const ok = await captureStderr(async (stderr) => assert.equal(await uploadAndReport(r, { url: server.url, token: sensor }, stderr), 0));
    assert.match(ok, /uploaded sha256:/);
    await setSca(server.store.db, false);
    const warned = await captureStderr(async (stderr) => assert.equal(await uploadAndReport({ ...r, scannedAt: new Date().toISOString() }, { url: server.url, token: sensor }, stderr), 0));
    assert.match(warned, /tally: warning: SCA is disabled on this backend: /);
    await setSca(server.store.db, true);
    const bad = await captureStderr(async (stderr) => assert.equal(await uploadAndReport(r, { url: server.url, token: 'tly_000000000000_' + 'x'.repeat(43) }, stderr), 2));
    assert.match(bad, /HTTP 401/);
  });
});

/** `tally` without blocking this process's event loop (for a server running in it). */
function tallyAsync(args: readonly string[], env: Record<string, string>): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot, 'packages/cli/bin/tally.js'), ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.once('exit', (code) => resolve({ code: code ?? -1, stderr }));
  });
}

describe('tally scan --upload, token, admin, serve (the binary)', { timeout: 180_000 }, () => {
  const dataDir = join(work, 'cli-data');
  const image = (): string => join(testImages(), 'sca-node', 'docker-archive.tar');

  it('creates, lists and revokes tokens in the data directory', () => {
    const created = tally(['token', 'create', '--role', 'viewer', '--name', 'ci', '--data-dir', dataDir]);
    assert.equal(created.code, 0, created.stderr);
    const token = created.stdout.trim();
    assert.match(token, /^tly_[0-9a-f]{12}_[A-Za-z0-9_-]{43}$/);
    assert.match(created.stderr, /created viewer token/);
    const listed = tally(['token', 'list', '--json', '--data-dir', dataDir]);
    const tokens = JSON.parse(listed.stdout) as { id: string; role: string; name: string }[];
    const id = token.slice(4, 16);
    assert.deepEqual(
      tokens.map((t) => [t.id, t.role, t.name]),
      [[id, 'viewer', 'ci']],
    );
    assert.ok(!listed.stdout.includes(token.slice(17)), 'no secret in the list');
    const revoked = tally(['token', 'revoke', id, '--data-dir', dataDir]);
    assert.match(revoked.stderr, /revoked/);
    const again = tally(['token', 'revoke', id, '--data-dir', dataDir]);
    assert.equal(again.code, 2);
  });

  it('switches SCA off and on', () => {
    assert.equal(tally(['admin', 'sca', 'disable', '--data-dir', dataDir]).stdout, 'SCA is disabled\n');
    assert.equal(tally(['admin', 'sca', 'status', '--data-dir', dataDir]).stdout, 'SCA is disabled\n');
    assert.equal(tally(['admin', 'sca', 'enable', '--data-dir', dataDir]).stdout, 'SCA is enabled\n');
  });

  it('scans and uploads; a failed upload exits 2 and leaves the report written', async () => {
    const server = await startServer({ dataDir: join(work, 'upload-backend'), port: 0, logger: false });
    try {
      const token = (await createToken(server.store.db, 'sensor')).token;
      const out = join(work, 'uploaded.json');
      // Asynchronously: the server answers from this process.
      const ok = await tallyAsync(['scan', image(), '--perform-sca-scan', '--no-cache', '--upload', server.url, '-f', 'json', '-o', out], { TALLY_TOKEN: token });
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stderr, /uploaded sha256:[0-9a-f]{64} \(\d+ packages/);
      const stored = await server.store.read.selectFrom('images').select('image_id').execute();
      assert.deepEqual(stored.map((r) => r.image_id), [(JSON.parse(readFileSync(out, 'utf8')) as { image: { imageId: string } }).image.imageId]);
    } finally {
      await server.close();
    }
    // Nothing listens on port 1: every attempt is a network error.
    const out = join(work, 'kept.json');
    const failed = tally(['scan', image(), '--no-cache', '--quiet', '--upload', 'http://127.0.0.1:1', '--token', 'tly_x', '-f', 'json', '-o', out]);
    assert.equal(failed.code, 2);
    assert.match(failed.stderr, /upload to http:\/\/127\.0\.0\.1:1\/api\/v1\/scans failed after 6 attempts/);
    assert.equal((JSON.parse(readFileSync(out, 'utf8')) as { scanTypes: string[] }).scanTypes[0], 'Static');
    const missing = tally(['scan', image(), '--upload', 'http://127.0.0.1:1'], { TALLY_TOKEN: '' });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--upload needs a sensor token/);
  });

  it('serves until SIGTERM', async () => {
    const child = spawn(process.execPath, [join(repoRoot, 'packages/cli/bin/tally.js'), 'serve', '--port', '0', '--data-dir', join(work, 'serve-data'), '--log-level', 'warn'], { stdio: ['ignore', 'ignore', 'pipe'] });
    const url = await new Promise<string>((resolve, reject) => {
      let err = '';
      child.stderr?.on('data', (c: Buffer) => {
        err += c.toString();
        const m = /serving (http:\/\/\S+)/.exec(err);
        if (m?.[1] !== undefined) resolve(m[1]);
      });
      child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
    });
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    assert.equal((await fetch(`${url}/api/v1/images`)).status, 401);
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  });
});

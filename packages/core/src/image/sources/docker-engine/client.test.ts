import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createTlsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { isTallyError } from '../../../model/errors.js';
import { DockerEngineClient, LogDemuxer } from './client.js';
import { resolveDockerEndpoint } from './endpoint.js';

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-docker-client-test-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('DOCKER_HOST and TLS settings', () => {
  it('defaults to the standard unix socket, and reads DOCKER_HOST', () => {
    assert.deepEqual(resolveDockerEndpoint({ env: {} }), { kind: 'unix', socketPath: '/var/run/docker.sock', display: 'unix:///var/run/docker.sock' });
    assert.deepEqual(resolveDockerEndpoint({ env: { DOCKER_HOST: 'unix:///tmp/dk/docker.sock' } }), { kind: 'unix', socketPath: '/tmp/dk/docker.sock', display: 'unix:///tmp/dk/docker.sock' });
    assert.equal(resolveDockerEndpoint({ host: 'unix:///x.sock', env: { DOCKER_HOST: 'unix:///y.sock' } }).display, 'unix:///x.sock', 'an explicit host wins');
    const tcp = resolveDockerEndpoint({ env: { DOCKER_HOST: 'tcp://127.0.0.1:2375' } });
    assert.deepEqual(tcp, { kind: 'tcp', hostname: '127.0.0.1', port: 2375, basePath: '', tls: null, display: 'http://127.0.0.1:2375' });
  });

  it('uses TLS with DOCKER_TLS_VERIFY / DOCKER_CERT_PATH, port 2376 by default', () => {
    const certs = join(dir, 'certs-env');
    mkdirSync(certs);
    writeFileSync(join(certs, 'ca.pem'), 'CA');
    const ep = resolveDockerEndpoint({ env: { DOCKER_HOST: 'tcp://engine.example', DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: certs } });
    assert.equal(ep.kind, 'tcp');
    if (ep.kind !== 'tcp') return;
    assert.equal(ep.port, 2376);
    assert.equal(ep.tls?.verify, true);
    assert.equal(ep.tls?.ca?.toString(), 'CA');
    const noVerify = resolveDockerEndpoint({ env: { DOCKER_HOST: 'tcp://engine.example:2376', DOCKER_CERT_PATH: certs } });
    assert.equal(noVerify.kind === 'tcp' && noVerify.tls?.verify, false, 'DOCKER_CERT_PATH alone: TLS without verification, as the docker client does');
  });

  it('rejects what it cannot reach', () => {
    for (const host of ['ssh://user@host', 'npipe:////./pipe/docker_engine', 'unix://relative.sock', 'ftp://x', 'not a url']) {
      assert.throws(
        () => resolveDockerEndpoint({ host, env: {} }),
        (err: unknown) => isTallyError(err) && err.code === 'USAGE',
        host,
      );
    }
  });
});

describe('multiplexed container logs', () => {
  const frame = (stream: 1 | 2, text: string): Buffer => {
    const payload = Buffer.from(text);
    const header = Buffer.alloc(8);
    header[0] = stream;
    header.writeUInt32BE(payload.length, 4);
    return Buffer.concat([header, payload]);
  };

  it('splits stdout from stderr across any chunking', () => {
    const all = Buffer.concat([frame(1, 'hello '), frame(2, 'oops\n'), frame(1, 'world\n')]);
    for (const size of [1, 3, 8, 9, all.length]) {
      const d = new LogDemuxer(1024);
      for (let i = 0; i < all.length; i += size) d.push(all.subarray(i, i + size));
      const out = d.finish();
      assert.equal(out.stdout.toString(), 'hello world\n', `chunk ${size}`);
      assert.equal(out.stderr.toString(), 'oops\n');
      assert.equal(out.truncated, false);
    }
  });

  it('keeps at most maxBytes per stream and says so; a raw (TTY) stream is stdout', () => {
    const d = new LogDemuxer(4);
    d.push(frame(1, 'abcdefgh'));
    assert.deepEqual(d.finish(), { stdout: Buffer.from('abcd'), stderr: Buffer.alloc(0), truncated: true });
    const raw = new LogDemuxer(100);
    raw.push(Buffer.from('plain text output\n'));
    assert.equal(raw.finish().stdout.toString(), 'plain text output\n');
    const cut = new LogDemuxer(100);
    cut.push(frame(1, 'complete').subarray(0, 10));
    assert.equal(cut.finish().truncated, true);
  });
});

describe('Engine API calls', () => {
  it('lists images and containers with the fields a sensor needs', async () => {
    const socket = join(dir, 'list.sock');
    const seen: string[] = [];
    const server = createServer((req: IncomingMessage, res: ServerResponse) => {
      seen.push(req.url ?? '');
      res.setHeader('Api-Version', '1.43');
      if (req.url === '/_ping') return res.end('OK');
      if (req.url?.startsWith('/v1.41/images/json')) {
        return res.end(
          JSON.stringify([
            { Id: 'sha256:aa', RepoTags: ['app:1', '<none>:<none>'], RepoDigests: ['<none>@<none>'], Created: 1704067200, Size: 123, Labels: { team: 'x', n: 1 } },
            { Id: 'sha256:bb', RepoTags: null, RepoDigests: null, Created: 1, Size: 2, Labels: null },
          ]),
        );
      }
      if (req.url?.startsWith('/v1.41/containers/json')) {
        return res.end(
          JSON.stringify([
            {
              Id: 'c1',
              Names: ['/web'],
              Image: 'app:1',
              ImageID: 'sha256:aa',
              State: 'running',
              Status: 'Up 2 minutes',
              Created: 1704067300,
              Ports: [{ IP: '0.0.0.0', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' }, { PrivatePort: 53, Type: 'udp' }],
              Labels: { 'com.example': 'y' },
            },
          ]),
        );
      }
      res.statusCode = 404;
      res.end('{"message":"page not found"}');
    });
    await new Promise<void>((resolve) => server.listen(socket, resolve));
    try {
      const client = DockerEngineClient.fromOptions({ host: `unix://${socket}` });
      assert.deepEqual(await client.listImages(), [
        { id: 'sha256:aa', repoTags: ['app:1'], repoDigests: [], created: 1704067200, size: 123, labels: { team: 'x' } },
        { id: 'sha256:bb', repoTags: [], repoDigests: [], created: 1, size: 2, labels: {} },
      ]);
      assert.deepEqual(await client.listContainers({ labels: ['tally.dynamic=1'] }), [
        {
          id: 'c1',
          names: ['web'],
          image: 'app:1',
          imageId: 'sha256:aa',
          state: 'running',
          status: 'Up 2 minutes',
          created: 1704067300,
          ports: [
            { ip: '0.0.0.0', privatePort: 80, publicPort: 8080, type: 'tcp' },
            { ip: null, privatePort: 53, publicPort: null, type: 'udp' },
          ],
          labels: { 'com.example': 'y' },
        },
      ]);
      const list = seen.find((u) => u.startsWith('/v1.41/containers/json'))!;
      assert.deepEqual(Object.fromEntries(new URL(list, 'http://x').searchParams), { all: '1', filters: '{"label":["tally.dynamic=1"]}' });
      assert.equal(seen.filter((u) => u === '/_ping').length, 1, 'the API version is negotiated once');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('talks TLS with client certificates (DOCKER_TLS_VERIFY, DOCKER_CERT_PATH), and refuses an unknown server', async () => {
    const pki = join(dir, 'pki');
    mkdirSync(pki);
    const ssl = (...args: string[]): void => void execFileSync('openssl', args, { cwd: pki, stdio: 'ignore' });
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca-key.pem', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=test-ca');
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server-key.pem', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
    writeFileSync(join(pki, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n');
    ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'key.pem', '-out', 'client.csr', '-subj', '/CN=client');
    ssl('x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-out', 'cert.pem', '-days', '2');
    const read = (f: string): Buffer => readFileSync(join(pki, f));
    const server = createTlsServer({ key: read('server-key.pem'), cert: read('server.pem'), ca: read('ca.pem'), requestCert: true, rejectUnauthorized: true }, (req, res) => {
      res.setHeader('Api-Version', '1.41');
      if (req.url === '/_ping') return res.end('OK');
      res.end(JSON.stringify({ Version: '20.10.24', ApiVersion: '1.41', MinAPIVersion: '1.12', Os: 'linux', Arch: 'amd64' }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const env = { DOCKER_HOST: `tcp://127.0.0.1:${port}`, DOCKER_TLS_VERIFY: '1', DOCKER_CERT_PATH: pki };
      const client = DockerEngineClient.fromOptions({ env });
      assert.equal(client.display, `https://127.0.0.1:${port}`);
      assert.deepEqual(await client.version(), { version: '20.10.24', apiVersion: '1.41', minApiVersion: '1.12', os: 'linux', arch: 'amd64' });

      const otherCa = join(dir, 'other-ca');
      mkdirSync(otherCa);
      execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'k.pem', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=other'], { cwd: otherCa, stdio: 'ignore' });
      writeFileSync(join(otherCa, 'cert.pem'), read('cert.pem'));
      writeFileSync(join(otherCa, 'key.pem'), read('key.pem'));
      await assert.rejects(DockerEngineClient.fromOptions({ env: { ...env, DOCKER_CERT_PATH: otherCa } }).ping(), /certificate/i);
      const noClientCert = join(dir, 'no-client-cert');
      mkdirSync(noClientCert);
      writeFileSync(join(noClientCert, 'ca.pem'), read('ca.pem'));
      await assert.rejects(DockerEngineClient.fromOptions({ env: { ...env, DOCKER_CERT_PATH: noClientCert } }).ping(), (err: unknown) => isTallyError(err) && err.code === 'TARGET_UNREADABLE');
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  });
});

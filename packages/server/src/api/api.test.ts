/**
 * The API suite, run against both stores: the embedded SQLite and a real PostgreSQL (testing/postgres.ts starts
 * one from Debian's binaries, or uses TALLY_TEST_PG_URL). Real reports of the real test images, scanned by the
 * real CLI; the server's vulnerability database imported from ../shared/vulndb plus the Debian 12 fixture.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { Static } from 'typebox';
import type { LightMyRequestResponse } from 'fastify';
import { readJson, scanReport, startTestBackend, type StoreKind, type TestBackend } from '../testing/backend.js';
import type { ContainerItem, FleetSoftwareItem, FleetVulnerabilityItem, ImageDetail, ImageSummary, LayerItem, SensorItem, SoftwareItem, TokenItem, VulnerabilityDetail, VulnerabilityItem } from './schemas.js';
import type { UploadResponse } from '../protocol.js';
import { readFileSync } from 'node:fs';

interface List<T> {
  items: T[];
  total: number;
  limit: number;
  offset: number;
}
type Role = 'admin' | 'viewer' | 'sensor';

interface ReportJson {
  scanTypes: string[];
  sensor: { type: string; performScaScan: boolean };
  image: {
    imageId: string | null;
    ref: string;
    repoTags: string[];
    repoDigests: string[];
    layers: { index: number; createdBy: string | null; comment: string | null; mediaType: string }[];
    history: { createdBy: string | null; comment: string | null }[];
    os: { family: string; name: string; version: string; prettyName: string | null } | null;
  };
  packages: {
    id: string;
    name: string;
    version: string;
    purl: string;
    class: string;
    scanType: string;
    locations: string[];
    licenses?: string[];
    metadata?: Record<string, string>;
    source?: { name: string; version: string };
    layer: { index: number; diffId: string | null; createdBy: string | null };
  }[];
  vulnerabilities?: unknown[];
  issues: { message: string }[];
  containers?: unknown[];
}

const HOSTILE = [
  `<script>alert("x")</script>`,
  `'; DROP TABLE images; --`,
  `" OR 1=1 --`,
  `100% _under_ \\back\\slash`,
  `<img src=x onerror=alert(1)>`,
  `line\nbreak\ttab \u2028 \u{1F600} é`,
];

/** Both by default; TALLY_TEST_STORES=sqlite narrows a local run. */
const storeKinds = (process.env['TALLY_TEST_STORES'] ?? 'sqlite,postgres').split(',').filter((k): k is StoreKind => k === 'sqlite' || k === 'postgres');

for (const kind of storeKinds) {
  describe(`API on ${kind}`, { timeout: 300_000 }, () => {
    let tb: TestBackend;
    const scaNode = readJson<ReportJson>(scanReport('sca-node', { sca: true }));
    const nodeStatic = readJson<ReportJson>(scanReport('sca-node', { sca: false, match: false }));
    const debianStatic = readJson<ReportJson>(scanReport('debian12', { sca: false, match: false }));
    const scaImage = scaNode.image.imageId as string;
    const debianImage = debianStatic.image.imageId as string;

    const req = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, role: Role | null = 'viewer', payload?: unknown, headers: Record<string, string> = {}) =>
      tb.backend.app.inject({
        method,
        url,
        headers: { ...(role === null ? {} : { authorization: `Bearer ${tb.tokens[role]}` }), ...headers },
        ...(payload === undefined ? {} : { payload: payload as string }),
      });
    const get = async <T>(url: string, role: Role = 'viewer'): Promise<T> => {
      const r = await req('GET', url, role);
      assert.equal(r.statusCode, 200, `${url}: ${r.body}`);
      return r.json<T>();
    };
    const sensorHeaders = (extra: Record<string, string> = {}) => ({ 'content-type': 'application/json', 'x-tally-protocol': '1', 'x-tally-sensor-version': '0.1.0', 'x-tally-sensor-host': 'build-host-1', ...extra });
    const upload = (body: Buffer | string | object, extra: Record<string, string> = {}, role: Role = 'sensor'): Promise<LightMyRequestResponse> =>
      req('POST', '/api/v1/scans', role, Buffer.isBuffer(body) || typeof body === 'string' ? body : JSON.stringify(body), sensorHeaders(extra));
    const q = (s: string) => encodeURIComponent(s);

    before(async () => {
      tb = await startTestBackend(kind);
    });
    after(async () => {
      await tb?.close();
    });

    it('serves /healthz without a token and refuses the API without one', async () => {
      const h = await req('GET', '/healthz', null);
      assert.equal(h.statusCode, 200);
      assert.equal(h.json<{ status: string }>().status, 'ok');
      const none = await req('GET', '/api/v1/images', null);
      assert.equal(none.statusCode, 401);
      assert.match(none.headers['www-authenticate'] as string, /Bearer/);
      const bad = await tb.backend.app.inject({ method: 'GET', url: '/api/v1/images', headers: { authorization: 'Bearer tly_000000000000_' + 'A'.repeat(43) } });
      assert.equal(bad.statusCode, 401);
      assert.equal((await req('GET', '/api/v1/images', 'sensor')).statusCode, 403, 'a sensor token cannot read');
      assert.equal((await upload(debianStatic, {}, 'viewer')).statusCode, 403, 'a viewer token cannot upload');
      assert.equal((await req('GET', '/api/v1/tokens', 'viewer')).statusCode, 403, 'a viewer token cannot list tokens');
      assert.equal((await req('GET', '/api/v1/nope', null)).statusCode, 401);
      assert.equal((await req('GET', '/api/v1/nope')).statusCode, 404);
    });

    it('publishes the OpenAPI document at /api/docs', async () => {
      const doc = await get<{ openapi: string; paths: Record<string, unknown> }>('/api/docs');
      assert.match(doc.openapi, /^3\./);
      for (const p of ['/api/v1/images', '/api/v1/images/{id}/software', '/api/v1/scans', '/api/v1/vulnerabilities/{id}', '/api/v1/containers', '/api/v1/sensors', '/api/v1/tokens', '/api/v1/settings/sca']) {
        assert.ok(p in doc.paths, `${p} documented`);
      }
    });

    it('ingests real reports, once each', async () => {
      const a = await upload(scanReport('sca-node', { sca: true }));
      assert.equal(a.statusCode, 201, a.body);
      const ra = a.json<UploadResponse>();
      assert.equal(ra.imageId, scaImage);
      assert.deepEqual(ra.scanTypes, ['Static', 'SCA']);
      assert.equal(ra.packages.stored, scaNode.packages.length);
      assert.ok(ra.vulnerabilities.total > 0);
      assert.deepEqual(ra.warnings, []);
      const b = await upload(gzipSync(scanReport('debian12', { sca: false, match: false })), { 'content-encoding': 'gzip' });
      assert.equal(b.statusCode, 201, b.body);
      const again = await upload(scanReport('sca-node', { sca: true }));
      assert.equal(again.statusCode, 200);
      assert.equal(again.json<UploadResponse>().duplicate, true);
      assert.equal(again.json<UploadResponse>().uploadId, ra.uploadId);
      const images = await get<List<Static<typeof ImageSummary>>>('/api/v1/images');
      assert.equal(images.total, 2);
      const sw = await get<List<Static<typeof SoftwareItem>>>(`/api/v1/images/${scaImage}/software?limit=1`);
      assert.equal(sw.total, scaNode.packages.length, 'no duplicate packages');
    });

    it('q=scanType:SCA lists only the SCA-scanned image', async () => {
      const sca = await get<List<Static<typeof ImageSummary>>>(`/api/v1/images?q=${q('scanType:SCA')}`);
      assert.deepEqual(
        sca.items.map((i) => i.imageId),
        [scaImage],
      );
      const staticOnly = await get<List<Static<typeof ImageSummary>>>(`/api/v1/images?q=${q('scanType:Static AND NOT scanType:SCA')}`);
      assert.deepEqual(
        staticOnly.items.map((i) => i.imageId),
        [debianImage],
      );
    });

    it('shows the scan types, with their last run, in the Summary', async () => {
      const d = await get<Static<typeof ImageDetail>>(`/api/v1/images/${scaImage}`);
      assert.deepEqual(
        d.scanTypes.map((s) => s.scanType),
        ['Static', 'SCA'],
      );
      for (const s of d.scanTypes) {
        assert.equal(s.active, true);
        assert.equal(s.scannedAt, (scaNode as unknown as { scannedAt: string }).scannedAt);
      }
      assert.equal(d.layers, 2);
      assert.deepEqual(d.repoTags, scaNode.image.repoTags);
      assert.equal(d.os?.family, 'debian');
      assert.equal(d.sensors.length, 1);
      assert.equal(d.sensors[0]?.host, 'build-host-1');
      const byType = d.vulnerabilitiesByScanType;
      assert.equal((byType['Static']?.total ?? 0) + (byType['SCA']?.total ?? 0), d.vulnerabilities.total);
      assert.ok((byType['Static']?.total ?? 0) > 0, 'OS detections from the Debian 12 fixture');
      assert.ok((byType['SCA']?.total ?? 0) > 0);
    });

    it('software?packages=non-os returns only language packages, os only OS packages', async () => {
      const all = await get<List<Static<typeof SoftwareItem>>>(`/api/v1/images/${scaImage}/software?packages=all&limit=500`);
      const lang = await get<List<Static<typeof SoftwareItem>>>(`/api/v1/images/${scaImage}/software?packages=non-os&limit=500`);
      const os = await get<List<Static<typeof SoftwareItem>>>(`/api/v1/images/${scaImage}/software?packages=os&limit=500`);
      assert.ok(lang.total > 0 && os.total > 0);
      assert.equal(lang.total + os.total, all.total);
      assert.ok(lang.items.every((p) => p.class === 'lang' && p.scanType === 'SCA'));
      assert.ok(os.items.every((p) => p.class === 'os' && p.scanType === 'Static'));
      assert.equal(lang.total, scaNode.packages.filter((p) => p.class === 'lang').length);
      const lodash = lang.items.find((p) => p.name === 'lodash');
      assert.ok(lodash !== undefined);
      assert.match(lodash.purl, /^pkg:npm\/lodash@/);
      assert.ok(lodash.locations.length > 0);
      assert.equal(lodash.layer.index, 1);
      assert.match(lodash.layer.createdBy ?? '', /node/);
      const searched = await get<List<Static<typeof SoftwareItem>>>(`/api/v1/images/${scaImage}/software?q=${q('scanType:SCA AND name:lod*')}`);
      assert.ok(searched.items.length > 0 && searched.items.every((p) => p.name.startsWith('lod')));
    });

    it('the vulnerabilities list carries a scan type per row', async () => {
      const v = await get<List<Static<typeof VulnerabilityItem>>>(`/api/v1/images/${scaImage}/vulnerabilities?limit=500`);
      assert.ok(v.total > 0);
      assert.ok(v.items.every((x) => ['Static', 'SCA'].includes(x.scanType)));
      assert.ok(v.items.some((x) => x.scanType === 'SCA' && x.class === 'lang'));
      assert.ok(v.items.some((x) => x.scanType === 'Static' && x.class === 'os'));
      assert.equal(v.items[0]?.severity, 'CRITICAL', 'most severe first');
      const sca = await get<List<Static<typeof VulnerabilityItem>>>(`/api/v1/images/${scaImage}/vulnerabilities?q=${q('scanType:SCA')}&limit=500`);
      assert.ok(sca.total > 0 && sca.items.every((x) => x.scanType === 'SCA'));
      const tar = v.items.find((x) => x.id === 'CVE-2005-2541');
      assert.equal(tar?.package.name, 'tar');
      assert.equal(tar?.layer.index, 0);
    });

    it('a Static-only upload keeps the SCA results of an earlier SCA upload', async () => {
      const before = await get<List<Static<typeof SoftwareItem>>>(`/api/v1/images/${scaImage}/software?packages=non-os&limit=1`);
      const r = await upload(scanReport('sca-node', { sca: false, match: false }));
      assert.equal(r.statusCode, 201, r.body);
      assert.deepEqual(r.json<UploadResponse>().scanTypes, ['Static']);
      const afterwards = await get<List<Static<typeof SoftwareItem>>>(`/api/v1/images/${scaImage}/software?packages=non-os&limit=1`);
      assert.equal(afterwards.total, before.total);
      const os = await get<List<Static<typeof SoftwareItem>>>(`/api/v1/images/${scaImage}/software?packages=os&limit=1`);
      assert.equal(os.total, nodeStatic.packages.length, 'the OS inventory replaced, not doubled');
      const sca = await get<List<Static<typeof ImageSummary>>>(`/api/v1/images?q=${q('scanType:SCA')}`);
      assert.deepEqual(
        sca.items.map((i) => i.imageId),
        [scaImage],
      );
    });

    it('layers: per-layer metadata with the packages and vulnerabilities each introduced', async () => {
      const layers = await get<List<Static<typeof LayerItem>>>(`/api/v1/images/${scaImage}/layers`);
      const d = await get<Static<typeof ImageDetail>>(`/api/v1/images/${scaImage}`);
      assert.equal(layers.total, 2);
      assert.equal(
        layers.items.reduce((n, l) => n + l.packages.total, 0),
        d.packages,
      );
      assert.equal(
        layers.items.reduce((n, l) => n + l.vulnerabilities.total, 0),
        d.vulnerabilities.total,
      );
      assert.equal(layers.items[1]?.packages.os, 0);
      assert.ok((layers.items[1]?.packages.lang ?? 0) > 0);
      assert.match(layers.items[0]?.createdBy ?? '', /ADD file/);
    });

    it('containers list only the OS detections of their image', async () => {
      const containers = [
        { id: 'c'.repeat(64), name: 'web-1', imageId: scaImage, image: 'tally-test/sca-node:latest', state: 'running', created: '2026-11-29T09:00:00Z', ports: [{ privatePort: 3000, publicPort: 8080, type: 'tcp', ip: '0.0.0.0' }] },
        { id: 'd'.repeat(64), name: 'base-1', imageId: debianImage, image: 'tally-test/debian12:latest', state: 'exited', created: null, ports: [] },
      ];
      const put = await req('PUT', '/api/v1/containers', 'sensor', JSON.stringify({ type: 'general', performScaScan: true, containers }), sensorHeaders({ 'x-tally-sensor-host': 'docker-host-1' }));
      assert.equal(put.statusCode, 200, put.body);
      const list = await get<List<Static<typeof ContainerItem>>>('/api/v1/containers');
      assert.equal(list.total, 2);
      const web = list.items.find((c) => c.name === 'web-1');
      assert.ok(web !== undefined);
      const image = await get<Static<typeof ImageDetail>>(`/api/v1/images/${scaImage}`);
      const osCount = image.vulnerabilitiesByScanType['Static']?.total ?? -1;
      assert.ok(osCount > 0);
      assert.equal(web.vulnerabilities.total, osCount, "the container's count equals the image's OS count");
      assert.ok(web.vulnerabilities.total < image.vulnerabilities.total, 'fewer than the image (no SCA)');
      assert.equal(web.vulnerabilities.scope, 'os');
      const vulns = await get<List<Static<typeof VulnerabilityItem>>>(`/api/v1/containers/${web.id}/vulnerabilities?limit=500`);
      assert.equal(vulns.total, osCount);
      assert.ok(vulns.items.every((v) => v.class === 'os'));
      const one = await get<Static<typeof ContainerItem>>(`/api/v1/containers/${web.id}`);
      assert.equal(one.vulnerabilities.total, osCount);
      assert.deepEqual(one.ports, containers[0]?.ports);
      // The next pass no longer lists base-1: it is marked removed.
      const put2 = await req('PUT', '/api/v1/containers', 'sensor', JSON.stringify({ containers: containers.slice(0, 1) }), sensorHeaders({ 'x-tally-sensor-host': 'docker-host-1' }));
      assert.deepEqual(put2.json(), { upserted: 1, removed: 1 });
      const live = await get<List<Static<typeof ContainerItem>>>('/api/v1/containers');
      assert.deepEqual(
        live.items.map((c) => c.name),
        ['web-1'],
      );
      const removed = await get<List<Static<typeof ContainerItem>>>('/api/v1/containers?state=removed');
      assert.equal(removed.items[0]?.name, 'base-1');
      assert.ok(removed.items[0]?.removedAt !== null);
      const searched = await get<List<Static<typeof ContainerItem>>>(`/api/v1/containers?state=all&q=${q('state:exited')}`);
      assert.deepEqual(
        searched.items.map((c) => c.name),
        ['base-1'],
      );
    });

    it('takes containers inside a General sensor upload', async () => {
      const report = { ...readJson<ReportJson>(scanReport('debian12', { sca: false, match: false })), sensor: { type: 'general', performScaScan: false } };
      report.containers = [{ id: 'e'.repeat(64), name: 'from-report', imageId: debianImage, image: 'debian12', state: 'running', created: null, ports: [] }];
      const r = await upload(report, { 'x-tally-sensor-host': 'docker-host-2', 'x-tally-sensor-type': 'general' });
      assert.equal(r.statusCode, 201, r.body);
      const list = await get<List<Static<typeof ContainerItem>>>(`/api/v1/containers?q=${q('host:docker-host-2')}`);
      assert.deepEqual(
        list.items.map((c) => [c.name, c.imageKnown]),
        [['from-report', true]],
      );
      const sensors = await get<List<Static<typeof SensorItem>>>(`/api/v1/sensors?q=${q('type:general')}`);
      assert.ok(sensors.items.some((s) => s.host === 'docker-host-2'));
      const images = await get<List<Static<typeof ImageSummary>>>(`/api/v1/images?q=${q('sensor.type:general')}`);
      assert.deepEqual(
        images.items.map((i) => i.imageId),
        [debianImage],
      );
    });

    it('software and vulnerabilities across images, and the knowledge base', async () => {
      const sw = await get<List<Static<typeof FleetSoftwareItem>>>(`/api/v1/software?q=${q('name:libc6')}`);
      assert.equal(sw.items[0]?.name, 'libc6');
      assert.equal(sw.items[0]?.images, 2);
      assert.deepEqual([...(sw.items[0]?.imageIds ?? [])].sort(), [scaImage, debianImage].sort());
      const langOnly = await get<List<Static<typeof FleetSoftwareItem>>>(`/api/v1/software?q=${q('scanType:SCA')}&limit=500`);
      assert.ok(langOnly.total > 0 && langOnly.items.every((p) => p.class === 'lang'));
      const vulns = await get<List<Static<typeof FleetVulnerabilityItem>>>('/api/v1/vulnerabilities?limit=500');
      const glibc = vulns.items.find((v) => v.id === 'CVE-2010-4756');
      assert.equal(glibc?.images, 2);
      assert.deepEqual(glibc?.scanTypes, ['Static']);
      const scaRows = await get<List<Static<typeof FleetVulnerabilityItem>>>(`/api/v1/vulnerabilities?q=${q('scanType:SCA')}&limit=500`);
      assert.ok(scaRows.total > 0 && scaRows.items.every((v) => v.scanTypes.includes('SCA')));
      const first = scaRows.items[0];
      assert.ok(first !== undefined);
      const kb = await get<Static<typeof VulnerabilityDetail>>(`/api/v1/vulnerabilities/${encodeURIComponent(first.id)}`);
      assert.equal(kb.id, first.id);
      assert.equal(kb.affected.images, 1);
      assert.equal(kb.affected.items[0]?.imageId, scaImage);
      assert.ok(kb.advisories.length > 0);
      assert.ok(kb.references.length > 0);
      const log4 = await req('GET', '/api/v1/vulnerabilities/CVE-2021-44228');
      assert.equal(log4.statusCode, 200, 'known to the database even without an affected image');
      const kb2 = log4.json<Static<typeof VulnerabilityDetail>>();
      assert.equal(kb2.affected.images, 0);
      assert.ok(kb2.kev !== null, 'Log4Shell is in CISA KEV');
      assert.equal((await req('GET', '/api/v1/vulnerabilities/CVE-1999-0000000')).statusCode, 404);
      const critical = await get<List<Static<typeof ImageSummary>>>(`/api/v1/images?q=${q('vulnerabilities.severity>=HIGH AND software.type:npm')}`);
      assert.deepEqual(
        critical.items.map((i) => i.imageId),
        [scaImage],
      );
      const cvss = await get<List<Static<typeof ImageSummary>>>(`/api/v1/images?q=${q('vulnerabilities.cvss>=9')}`);
      assert.deepEqual(
        cvss.items.map((i) => i.imageId),
        [scaImage],
      );
      const byVuln = await get<List<Static<typeof ImageSummary>>>(`/api/v1/images?q=${q('vulnerabilities.id:cve-2010-4756')}&sort=imageId`);
      assert.equal(byVuln.total, 2);
      const layer = await get<List<Static<typeof ImageSummary>>>(`/api/v1/images?q=${q('layer.createdBy:*node*')}`);
      assert.deepEqual(
        layer.items.map((i) => i.imageId),
        [scaImage],
      );
    });

    it('paginates and sorts every list, and refuses unknown sort fields and bad searches with a column', async () => {
      const p1 = await get<List<Static<typeof SoftwareItem>>>(`/api/v1/images/${scaImage}/software?limit=10&offset=0&sort=-name`);
      const p2 = await get<List<Static<typeof SoftwareItem>>>(`/api/v1/images/${scaImage}/software?limit=10&offset=10&sort=-name`);
      assert.equal(p1.items.length, 10);
      assert.equal(p1.total, p2.total);
      assert.ok((p1.items[9]?.name ?? '') >= (p2.items[0]?.name ?? ''));
      assert.equal(new Set([...p1.items, ...p2.items].map((i) => i.id)).size, 20);
      const bad = await req('GET', '/api/v1/images?sort=password');
      assert.equal(bad.statusCode, 400);
      assert.match(bad.json<{ message: string }>().message, /sortable fields/);
      const syntax = await req('GET', `/api/v1/images?q=${q('repo:(')}`);
      assert.equal(syntax.statusCode, 400);
      const body = syntax.json<{ message: string; column: number; code: string }>();
      assert.equal(body.code, 'QUERY_SYNTAX');
      assert.equal(typeof body.column, 'number');
      const unknown = await req('GET', `/api/v1/images?q=${q('passwd:x')}`);
      assert.equal(unknown.statusCode, 400);
      assert.match(unknown.json<{ message: string }>().message, /unknown field 'passwd'.*column 1/);
      const limit = await req('GET', '/api/v1/images?limit=100000');
      assert.equal(limit.statusCode, 400);
      for (const url of ['/api/v1/software', '/api/v1/vulnerabilities', '/api/v1/containers', '/api/v1/sensors']) {
        const r = await get<List<unknown>>(`${url}?limit=1&offset=0`);
        assert.equal(r.limit, 1);
        assert.ok(r.total >= r.items.length);
      }
      assert.equal((await req('GET', '/api/v1/tokens?limit=1', 'admin')).statusCode, 200);
    });

    it('SCA switch off: SCA results dropped and the sensor told so', async () => {
      const off = await req('PUT', '/api/v1/settings/sca', 'admin', JSON.stringify({ enabled: false }), { 'content-type': 'application/json' });
      assert.equal(off.statusCode, 200);
      assert.equal(off.json<{ enabled: boolean }>().enabled, false);
      const report = readJson<ReportJson & { image: { imageId: string } }>(scanReport('sca-python', { sca: true, match: false }));
      const r = await upload(report);
      assert.equal(r.statusCode, 201, r.body);
      const res = r.json<UploadResponse>();
      assert.deepEqual(res.scanTypes, ['Static']);
      assert.deepEqual(res.droppedScanTypes, ['SCA']);
      assert.equal(res.packages.dropped, report.packages.filter((p) => p.scanType === 'SCA').length);
      assert.match(res.warnings[0] ?? '', /^SCA is disabled on this backend: /);
      const lang = await get<List<Static<typeof SoftwareItem>>>(`/api/v1/images/${report.image.imageId}/software?packages=non-os`);
      assert.equal(lang.total, 0);
      const hb = await req('POST', '/api/v1/sensors/heartbeat', 'sensor', JSON.stringify({ type: 'registry', performScaScan: true }), sensorHeaders());
      assert.equal(hb.json<{ sca: { enabled: boolean } }>().sca.enabled, false);
      assert.equal((await req('PUT', '/api/v1/settings/sca', 'viewer', JSON.stringify({ enabled: true }), { 'content-type': 'application/json' })).statusCode, 403);
      const on = await req('PUT', '/api/v1/settings/sca', 'admin', JSON.stringify({ enabled: true }), { 'content-type': 'application/json' });
      assert.equal(on.json<{ enabled: boolean }>().enabled, true);
    });

    it('sensor protocol: missing or unsupported versions are refused with a clear message', async () => {
      const none = await req('POST', '/api/v1/scans', 'sensor', JSON.stringify(debianStatic), { 'content-type': 'application/json' });
      assert.equal(none.statusCode, 400);
      assert.match(none.json<{ message: string }>().message, /x-tally-protocol/);
      const future = await upload(debianStatic, { 'x-tally-protocol': '99' });
      assert.equal(future.statusCode, 400);
      assert.match(future.json<{ message: string }>().message, /sensor protocol "99" is not supported by this backend \(supported: 1\); upgrade the backend/);
      const known = await req('POST', '/api/v1/sensors/known', 'sensor', JSON.stringify({ imageIds: [scaImage, `sha256:${'0'.repeat(64)}`], diffIds: [`sha256:${'1'.repeat(64)}`] }), sensorHeaders());
      assert.equal(known.statusCode, 200, known.body);
      const k = known.json<{ images: { imageId: string; scanTypes: string[] }[]; diffIds: string[] }>();
      assert.deepEqual(k.images, [{ imageId: scaImage, manifestDigest: null, scanTypes: ['SCA', 'Static'], repoTags: [...scaNode.image.repoTags].sort() }]);
      assert.deepEqual(k.diffIds, []);
    });

    it('hostile uploads: malformed JSON, schema violations, size, encoding, NUL, key reuse', async () => {
      const malformed = await upload('{"schemaVersion": 1, "packages": [ {"id": ');
      assert.equal(malformed.statusCode, 400);
      assert.equal(malformed.json<{ code: string }>().code, 'MALFORMED_JSON');
      assert.equal((await upload('[1,2,3]')).statusCode, 400);
      assert.equal((await upload('')).statusCode, 400);
      const invalid = await upload({ ...debianStatic, schemaVersion: 2 });
      assert.equal(invalid.statusCode, 400);
      assert.ok((invalid.json<{ details: string[] }>().details ?? []).length > 0);
      const badPkg = structuredClone(debianStatic);
      (badPkg.packages[3] as { class: string }).class = 'binary';
      const bp = await upload(badPkg);
      assert.equal(bp.statusCode, 400);
      assert.match(bp.json<{ details: string[] }>().details[0] ?? '', /^\/packages\/3\/class/);
      const wrongType = structuredClone(debianStatic);
      (wrongType.packages[0] as { scanType: string }).scanType = 'SCA';
      assert.equal((await upload(wrongType)).statusCode, 400, 'a package scan type the report did not run');
      const huge = await req('POST', '/api/v1/scans', 'sensor', '{}', { ...sensorHeaders(), 'content-length': String(1024 ** 3) });
      assert.equal(huge.statusCode, 413);
      assert.equal((await upload('{}', { 'content-encoding': 'br' })).statusCode, 415);
      assert.equal((await upload('not gzip', { 'content-encoding': 'gzip' })).statusCode, 400);
      const nul = structuredClone(debianStatic);
      (nul.packages[0] as { name: string }).name = 'a\u0000b';
      const n = await upload(nul);
      assert.equal(n.statusCode, 400);
      assert.equal(n.json<{ code: string }>().code, 'NUL_CHARACTER');
      const long = structuredClone(debianStatic);
      (long.packages[0] as { name: string }).name = 'x'.repeat(5000);
      assert.equal((await upload(long)).statusCode, 400);
      const key = randomBytes(8).toString('hex');
      const k1 = await upload(debianStatic, { 'idempotency-key': key });
      assert.ok(k1.statusCode === 200 || k1.statusCode === 201, k1.body);
      const k2 = await upload({ ...debianStatic, scannedAt: '2030-01-01T00:00:00Z' }, { 'idempotency-key': key });
      assert.equal(k2.statusCode, 409);
      const images = await get<List<Static<typeof ImageSummary>>>('/api/v1/images');
      assert.ok(images.items.every((i) => i.imageId !== null));
    });

    it('stores every hostile string literally and returns it unchanged', async () => {
      const h = structuredClone(debianStatic);
      const imageId = `sha256:${createHash('sha256').update(`hostile-${kind}`).digest('hex')}`;
      h.image.imageId = imageId;
      h.image.ref = HOSTILE.join('|');
      h.image.repoTags = HOSTILE.map((s, i) => `registry.example/${s}:${i}${s}`);
      h.image.repoDigests = [`registry.example/${HOSTILE[0]}@sha256:${'a'.repeat(64)}`];
      h.image.layers[0] = { ...(h.image.layers[0] as ReportJson['image']['layers'][number]), createdBy: HOSTILE[1] as string, comment: HOSTILE[0] as string };
      if (h.image.os) h.image.os = { ...h.image.os, prettyName: HOSTILE[0] as string };
      h.packages = h.packages.slice(0, HOSTILE.length).map((p, i) => {
        const s = HOSTILE[i] as string;
        return {
          ...p,
          name: s,
          version: `${s}-1`,
          purl: `pkg:deb/debian/${s}`,
          locations: [`/var/lib/${s}`],
          licenses: [s],
          metadata: { note: s },
          source: { name: s, version: s },
          layer: { ...p.layer, createdBy: HOSTILE[1] as string },
        };
      });
      (h.image.layers[0] as unknown as { packages: { os: number; lang: number } }).packages = { os: h.packages.length, lang: 0 };
      (h as unknown as { summary: { packages: { total: number; os: number; lang: number } } }).summary.packages = { total: h.packages.length, os: h.packages.length, lang: 0 };
      h.issues = [{ layer: 0, path: HOSTILE[0], extractor: HOSTILE[1], message: HOSTILE[2] } as unknown as { message: string }];
      const r = await upload(h, { 'x-tally-sensor-host': HOSTILE[0] as string });
      assert.equal(r.statusCode, 201, r.body);
      const d = await get<Static<typeof ImageDetail>>(`/api/v1/images/${imageId}`);
      assert.equal(d.ref, h.image.ref);
      assert.deepEqual([...d.repoTags].sort(), [...h.image.repoTags].sort());
      assert.deepEqual(d.repoDigests, h.image.repoDigests);
      assert.equal(d.os?.prettyName, HOSTILE[0]);
      assert.equal(d.sensors[0]?.host, HOSTILE[0]);
      const sw = await get<List<Static<typeof SoftwareItem>>>(`/api/v1/images/${imageId}/software?limit=100`);
      assert.deepEqual(
        sw.items.map((p) => p.name).sort(),
        [...HOSTILE].sort(),
      );
      for (const p of sw.items) {
        assert.equal(p.version, `${p.name}-1`);
        assert.equal(p.purl, `pkg:deb/debian/${p.name}`);
        assert.deepEqual(p.locations, [`/var/lib/${p.name}`]);
        assert.deepEqual(p.licenses, [p.name]);
        assert.deepEqual(p.source, { name: p.name, version: p.name });
      }
      const layers = await get<List<Static<typeof LayerItem>>>(`/api/v1/images/${imageId}/layers`);
      assert.equal(layers.items[0]?.createdBy, HOSTILE[1]);
      assert.equal(layers.items[0]?.comment, HOSTILE[0]);
      // The raw JSON carries the literal, JSON-escaped only as JSON requires: no HTML escaping, no mangling.
      const raw = await req('GET', `/api/v1/images/${imageId}/layers`);
      assert.ok(raw.body.includes(JSON.stringify(HOSTILE[0]).slice(1, -1)));
      assert.match(raw.headers['content-type'] as string, /^application\/json/);
      assert.match(raw.headers['content-security-policy'] as string, /script-src 'self'/);
      // Searches with the same strings: exact matches find exactly one package; LIKE metacharacters are literal.
      for (const s of HOSTILE) {
        const found = await get<List<Static<typeof SoftwareItem>>>(`/api/v1/images/${imageId}/software?q=${q(`name:"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`)}`);
        assert.deepEqual(
          found.items.map((p) => p.name),
          [s],
          `search for ${JSON.stringify(s)}`,
        );
      }
      const percent = await get<List<Static<typeof SoftwareItem>>>(`/api/v1/images/${imageId}/software?q=${q('name:*%*')}`);
      assert.deepEqual(
        percent.items.map((p) => p.name),
        [HOSTILE[3]],
      );
      const tag = await get<List<Static<typeof ImageSummary>>>(`/api/v1/images?q=${q(`repo:"registry.example/${HOSTILE[1] as string}"`)}`);
      assert.deepEqual(
        tag.items.map((i) => i.imageId),
        [imageId],
      );
      // SQL in q is data: a string value, or a syntax error; the tables are still there.
      for (const bad of [`'; DROP TABLE images; --`, `repo:"x' OR '1'='1"`, `name:") OR 1=1 --`, `<script>alert(1)</script>`, `software.name:%`]) {
        const r2 = await req('GET', `/api/v1/images?q=${q(bad)}`);
        assert.ok(r2.statusCode === 200 || r2.statusCode === 400, `${bad}: ${r2.statusCode}`);
        if (r2.statusCode === 400) assert.equal(typeof r2.json<{ column: number }>().column, 'number');
        else assert.ok(r2.json<List<unknown>>().total <= 1, `${bad} matched ${r2.json<List<unknown>>().total}`);
      }
      assert.ok((await get<List<unknown>>('/api/v1/images')).total >= 3);
    });

    it('tokens: created by an admin, listed without secrets, revoked at once', async () => {
      const c = await req('POST', '/api/v1/tokens', 'admin', JSON.stringify({ role: 'viewer', name: '<b>ci</b>' }), { 'content-type': 'application/json' });
      assert.equal(c.statusCode, 201, c.body);
      const created = c.json<Static<typeof TokenItem> & { token: string }>();
      assert.match(created.token, /^tly_[0-9a-f]{12}_/);
      const list = await get<List<Static<typeof TokenItem>>>('/api/v1/tokens?limit=100', 'admin');
      assert.ok(list.items.some((t) => t.id === created.id && t.name === '<b>ci</b>'));
      assert.ok(!JSON.stringify(list).includes(created.token.slice(18)), 'no secret in the list');
      const use = await tb.backend.app.inject({ method: 'GET', url: '/api/v1/images', headers: { authorization: `Bearer ${created.token}` } });
      assert.equal(use.statusCode, 200);
      assert.equal((await req('DELETE', `/api/v1/tokens/${created.id}`, 'admin')).statusCode, 204);
      const after2 = await tb.backend.app.inject({ method: 'GET', url: '/api/v1/images', headers: { authorization: `Bearer ${created.token}` } });
      assert.equal(after2.statusCode, 401);
      assert.equal((await req('DELETE', `/api/v1/tokens/${created.id}`, 'admin')).statusCode, 404);
    });

    it('re-evaluates every image when the database changes (advisory import through the API)', async () => {
      const fresh = await startTestBackend(kind, { vulndb: 'shared' });
      try {
        const auth = { authorization: `Bearer ${fresh.tokens.sensor}` };
        const up = await fresh.backend.app.inject({ method: 'POST', url: '/api/v1/scans', headers: { ...auth, ...sensorHeaders() }, payload: scanReport('debian12', { sca: false, match: false }) });
        assert.equal(up.statusCode, 201, up.body);
        assert.equal(up.json<UploadResponse>().vulnerabilities.total, 0, 'no Debian 12 advisories yet');
        const fixture = readFileSync(new URL('../testdata/debian12-tracker.json', import.meta.url));
        const imp = await fresh.backend.app.inject({
          method: 'POST',
          url: '/api/v1/vulndb/import?name=debian12-tracker.json',
          headers: { authorization: `Bearer ${fresh.tokens.admin}`, 'content-type': 'application/octet-stream' },
          payload: fixture,
        });
        assert.equal(imp.statusCode, 202, imp.body);
        assert.equal(imp.json<{ files: { status: string }[] }>().files[0]?.status, 'imported');
        await fresh.backend.jobs.idle();
        const d = await fresh.backend.app.inject({ method: 'GET', url: `/api/v1/images/${debianImage}`, headers: { authorization: `Bearer ${fresh.tokens.viewer}` } });
        const detail = d.json<Static<typeof ImageDetail>>();
        assert.equal(detail.vulnerabilities.total, 5, 'apt, libapt-pkg6.0, libc-bin, libc6, tar');
        assert.equal(detail.vulnerabilities.bySeverity.NEGLIGIBLE, 5);
        const status = await fresh.backend.app.inject({ method: 'GET', url: '/api/v1/vulndb', headers: { authorization: `Bearer ${fresh.tokens.viewer}` } });
        assert.equal(status.json<{ evaluated: boolean }>().evaluated, true);
        const jobs = await fresh.backend.app.inject({ method: 'GET', url: '/api/v1/jobs', headers: { authorization: `Bearer ${fresh.tokens.admin}` } });
        const done = jobs.json<{ items: { state: string; result: { images: number; added: number } }[] }>().items.find((j) => j.state === 'done' && j.result.added > 0);
        assert.equal(done?.result.added, 5);
      } finally {
        await fresh.close();
      }
    });
  });
}

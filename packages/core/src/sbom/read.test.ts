import assert from 'node:assert/strict';
import { createReadStream, existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_PLATFORM } from '../image/sources/oci-manifest.js';
import { sourceForTarget } from '../image/sources/target.js';
import { isTallyError } from '../model/errors.js';
import type { Package } from '../model/package.js';
import type { ScanReport } from '../model/report.js';
import { renderCycloneDx } from '../report/cyclonedx.js';
import { buildSpdx } from '../report/spdx.js';
import { loadReport } from '../report/testdata/fixture.js';
import { matchPackages } from '../match/match.js';
import { scanImage } from '../scan.js';
import { MemoryVulnDb } from '../vulndb/memory.js';
import type { Advisory } from '../vulndb/model.js';
import { isSkip, parseOsvRecord } from '../vulndb/osv.js';
import { parseSbom, readSbomFile, type SbomDocument } from './read.js';

const report = loadReport();
const json = (p: unknown): unknown => JSON.parse(JSON.stringify(p));
const byName = (doc: SbomDocument, name: string): Package => {
  const p = doc.packages.find((x) => x.name === name);
  assert.ok(p, `no package ${name}`);
  return p;
};
const sha = (c: string): string => `sha256:${c.repeat(64)}`;

function rejects(fn: () => unknown, code: string, message: RegExp): void {
  assert.throws(fn, (err: unknown) => isTallyError(err) && err.code === code && message.test(err.message));
}

function expectRoundTrip(source: ScanReport, doc: SbomDocument): void {
  // the same packages: ids (hash of type, name, version, arch, first location), purls, layers, everything
  assert.deepEqual(json(doc.packages), json(source.packages));
  assert.deepEqual(doc.os, source.image.os);
  const used = new Set(source.packages.map((p) => p.layer.index));
  for (const l of doc.layers) if (used.has(l.index)) assert.deepEqual(l, source.packages.find((p) => p.layer.index === l.index)!.layer);
  // every finding's package is there, identical, so matching gives the same findings
  const ids = new Set(doc.packages.map((p) => p.id));
  for (const f of source.vulnerabilities ?? []) assert.ok(ids.has(f.packageId), `finding ${f.id} lost its package`);
  assert.equal(doc.skippedCount, 0);
  assert.deepEqual(doc.warnings, []);
}

describe('sbom: round trip of Tally output', () => {
  it('CycloneDX → the same packages, layers, distro and image facts', () => {
    const doc = parseSbom(renderCycloneDx(report));
    assert.equal(doc.format, 'cyclonedx');
    assert.equal(doc.specVersion, '1.6');
    expectRoundTrip(report, doc);
    assert.equal(doc.image.imageId, report.image.imageId);
    assert.deepEqual(doc.image.repoTags, report.image.repoTags);
    assert.deepEqual(doc.image.platform, report.image.platform);
    assert.equal(doc.image.ref, 'app.tar');
    assert.deepEqual(doc.scanTypes, ['Static', 'SCA']);
    assert.deepEqual(byName(doc, 'org.apache.logging.log4j:log4j-core').layer, { index: 3, diffId: report.image.layers[3]!.diffId, createdBy: report.image.layers[3]!.createdBy });
  });

  it('SPDX → the same packages, layers, distro and image facts', () => {
    const doc = parseSbom(JSON.stringify(buildSpdx(report)));
    assert.equal(doc.format, 'spdx');
    assert.equal(doc.specVersion, 'SPDX-2.3');
    expectRoundTrip(report, doc);
    assert.equal(doc.image.imageId, report.image.imageId);
    assert.equal(doc.image.name, 'tally-example:latest');
  });

  it('a fresh scan of the example image round-trips through both formats', async (t) => {
    const archive = new URL('../../../../.cache/example-image/app.tar', import.meta.url).pathname;
    if (!existsSync(archive)) return t.skip('example image not built (node --import tsx tools/example-image/build.mts)');
    const scanned = await scanImage(await sourceForTarget(archive, { platform: DEFAULT_PLATFORM, platformExplicit: false }), { performScaScan: true });
    expectRoundTrip(scanned, parseSbom(renderCycloneDx(scanned)));
    expectRoundTrip(scanned, parseSbom(JSON.stringify(buildSpdx(scanned))));
  });
});

describe('sbom: the same findings', () => {
  /** Real OSV records (../shared/vulndb) for the fixture's language packages, plus a Debian tracker record. */
  async function advisories(names: ReadonlySet<string>): Promise<Advisory[]> {
    const dir = new URL('../../../../../shared/vulndb/', import.meta.url).pathname;
    const out: Advisory[] = [];
    for (const file of ['ghsa-maven.osv.ndjson.gz', 'ghsa-npm.osv.ndjson.gz', 'pypi-pypa.osv.ndjson.gz', 'go-vulndb.osv.ndjson.gz']) {
      for await (const line of createInterface({ input: createReadStream(dir + file).pipe(createGunzip()), crlfDelay: Infinity })) {
        if (line.trim() === '') continue;
        const a = parseOsvRecord(JSON.parse(line) as unknown);
        if (!isSkip(a) && a.affected.some((x) => names.has(x.package))) out.push(a);
      }
    }
    // matched by source package: libssl3 is built from openssl
    const openssl = { ecosystem: 'Debian:12', package: 'openssl', versions: [], status: 'fixed' as const, severity: { level: 'HIGH' as const, source: 'debian' } };
    out.push({
      id: 'CVE-2024-0727',
      aliases: [],
      related: [],
      source: 'debian-tracker',
      summary: 'openssl: denial of service via a crafted PKCS12 file',
      details: '',
      published: null,
      modified: null,
      cvss: [],
      severity: null,
      references: [],
      affected: [{ ...openssl, ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '3.0.23-1~deb12u1' }] }] }],
    });
    return out;
  }

  it('matching the packages read back from CycloneDX and SPDX gives the image scan\'s findings', async (t) => {
    if (!existsSync(new URL('../../../../../shared/vulndb/ghsa-maven.osv.ndjson.gz', import.meta.url))) return t.skip('../shared/vulndb not present');
    const db = new MemoryVulnDb(await advisories(new Set(report.packages.map((p) => p.name))));
    const distro = { ...report.image.os!, codename: 'bookworm', detectedBy: 'os-release' };
    const fromImage = matchPackages(report.packages, distro, db);
    const ids = fromImage.findings.map((f) => `${f.id} ${f.package.name}`);
    for (const expected of ['CVE-2024-0727 libssl3', 'CVE-2024-0727 openssl', 'CVE-2021-44228 org.apache.logging.log4j:log4j-core', 'CVE-2021-23337 lodash']) assert.ok(ids.includes(expected), expected);
    assert.ok(ids.filter((i) => i.endsWith(' golang.org/x/net')).length > 5);
    for (const text of [renderCycloneDx(report), JSON.stringify(buildSpdx(report))]) {
      const doc = parseSbom(text);
      const fromSbom = matchPackages(doc.packages, doc.distro, db);
      assert.deepEqual(json(fromSbom.findings), json(fromImage.findings));
      assert.deepEqual(fromSbom.issues, fromImage.issues);
    }
  });
});

describe('sbom: documents from other tools', () => {
  const image = sha('a');
  const cdx = {
    bomFormat: 'CycloneDX',
    specVersion: '1.5',
    metadata: {
      component: {
        type: 'container',
        name: 'alpine:3.19',
        purl: `pkg:oci/alpine@${image.replace(':', '%3A')}?arch=amd64&repository_url=index.docker.io%2Flibrary%2Falpine`,
        properties: [
          { name: 'aquasecurity:trivy:ImageID', value: sha('b') },
          { name: 'aquasecurity:trivy:RepoTag', value: 'alpine:3.19' },
        ],
      },
    },
    components: [
      { type: 'operating-system', name: 'alpine', version: '3.19.1' },
      {
        type: 'library',
        name: 'musl',
        version: '1.2.4-r2',
        purl: 'pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=3.19.1',
        properties: [
          { name: 'aquasecurity:trivy:SrcName', value: 'musl' },
          { name: 'aquasecurity:trivy:SrcVersion', value: '1.2.4' },
          { name: 'aquasecurity:trivy:SrcRelease', value: 'r2' },
        ],
      },
      { type: 'application', name: 'app.jar', components: [{ type: 'library', group: 'org.slf4j', name: 'slf4j-api', version: '1.7.36', purl: 'pkg:maven/org.slf4j/slf4j-api@1.7.36' }] },
      { type: 'library', name: 'no-purl', version: '1' },
      { type: 'library', name: 'serde', purl: 'pkg:cargo/serde@1.0.0' },
      { type: 'library', name: 'bad', purl: 'not a purl' },
      // packageurl-js 2.0.1 throws a ReferenceError on this one; the lenient parse still reads it
      { type: 'library', name: 'golang.org/x/text', purl: 'pkg:golang/golang.org/x/text@v1' },
      { type: 'library', name: 'PyYAML', version: '6.0', purl: 'pkg:pypi/pyyaml@6.0', licenses: [{ license: { id: 'MIT' } }] },
      { type: 'library', name: 'express', purl: 'pkg:npm/express@4.18.2', licenses: [{ expression: '(MIT OR Apache-2.0)' }] },
      { type: 'library', name: 'openssl-libs', purl: 'pkg:rpm/redhat/openssl-libs@3.0.7-27.el9?arch=x86_64&epoch=1&upstream=openssl-3.0.7-27.el9.src.rpm' },
      { type: 'file', name: '/etc/passwd' },
    ],
  };

  it('CycloneDX 1.5 (Trivy-like): purl identity, defaults, nested components, source packages, skips with reasons', () => {
    const doc = parseSbom(JSON.stringify(cdx));
    assert.deepEqual(doc.os, { family: 'alpine', name: 'alpine', version: '3.19.1', prettyName: null });
    assert.equal(doc.image.manifestDigest, image);
    assert.equal(doc.image.imageId, sha('b'));
    assert.deepEqual(doc.image.repoTags, ['alpine:3.19']);
    assert.equal(doc.image.name, 'alpine:3.19');
    const musl = byName(doc, 'musl');
    assert.deepEqual(
      { ...musl, id: '' },
      {
        id: '',
        name: 'musl',
        version: '1.2.4-r2',
        type: 'apk',
        purl: 'pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=3.19.1',
        class: 'os',
        scanType: 'Static',
        source: { name: 'musl', version: '1.2.4-r2' },
        arch: 'x86_64',
        layer: { index: 0, diffId: null, createdBy: null },
        locations: ['sbom'],
        evidence: 'declared',
      },
    );
    assert.match(musl.id, /^[0-9a-f]{64}$/);
    assert.equal(byName(doc, 'org.slf4j:slf4j-api').scanType, 'SCA');
    assert.equal(byName(doc, 'golang.org/x/text').version, 'v1');
    // the document's spelling is kept when it is the purl's name by PyPI's rules
    assert.deepEqual(byName(doc, 'PyYAML').licenses, ['MIT']);
    assert.deepEqual(byName(doc, 'express').licenses, ['(MIT OR Apache-2.0)']);
    const rpm = byName(doc, 'openssl-libs');
    assert.equal(rpm.version, '1:3.0.7-27.el9');
    assert.deepEqual(rpm.source, { name: 'openssl', version: '3.0.7-27.el9' });
    assert.deepEqual(
      doc.skipped.map((s) => [s.name, s.reason.replace(/:.*/, '')]),
      [
        ['app.jar', 'no purl'],
        ['no-purl', 'no purl'],
        ['serde', 'purl type "cargo" is not one Tally matches'],
        ['bad', 'unparseable purl'],
      ],
    );
    assert.equal(doc.packages.length, 6);
  });

  it('CycloneDX 1.4 and 1.6 are read too; other versions are refused', () => {
    for (const specVersion of ['1.4', '1.6']) assert.equal(parseSbom(JSON.stringify({ ...cdx, specVersion })).packages.length, 6);
    rejects(() => parseSbom(JSON.stringify({ ...cdx, specVersion: '2.0' })), 'UNKNOWN_FORMAT', /specVersion "2\.0"/);
  });

  it('SPDX 2.3 (Syft-like): purl external refs, upstream source, distro qualifier, extracted licenses, image package', () => {
    const spdx = {
      spdxVersion: 'SPDX-2.3',
      dataLicense: 'CC0-1.0',
      SPDXID: 'SPDXRef-DOCUMENT',
      name: 'debian:12',
      documentNamespace: 'https://example.invalid/debian-12',
      creationInfo: { created: '2026-01-01T00:00:00Z', creators: ['Tool: syft'] },
      packages: [
        { SPDXID: 'SPDXRef-Image', name: 'debian', versionInfo: image, primaryPackagePurpose: 'CONTAINER', downloadLocation: 'NOASSERTION' },
        {
          SPDXID: 'SPDXRef-libssl3',
          name: 'libssl3',
          versionInfo: '3.0.11-1~deb12u2',
          downloadLocation: 'NOASSERTION',
          licenseDeclared: 'Apache-2.0',
          externalRefs: [
            { referenceCategory: 'SECURITY', referenceType: 'cpe23Type', referenceLocator: 'cpe:2.3:a:libssl3:libssl3:3.0.11:*:*:*:*:*:*:*' },
            { referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: 'pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&upstream=openssl&distro=debian-12' },
          ],
        },
        {
          SPDXID: 'SPDXRef-babel',
          name: '@babel/core',
          versionInfo: '7.0.0',
          downloadLocation: 'NOASSERTION',
          licenseDeclared: 'NOASSERTION',
          licenseConcluded: 'LicenseRef-x',
          externalRefs: [{ referenceCategory: 'PACKAGE_MANAGER', referenceType: 'purl', referenceLocator: 'pkg:npm/%40babel/core@7.0.0' }],
        },
        { SPDXID: 'SPDXRef-File', name: 'no purl here', downloadLocation: 'NOASSERTION' },
      ],
      hasExtractedLicensingInfos: [{ licenseId: 'LicenseRef-x', extractedText: 'Some text', name: 'Custom X' }],
    };
    const doc = parseSbom(Buffer.from(JSON.stringify(spdx)));
    assert.deepEqual(doc.os, { family: 'debian', name: 'debian', version: '12', prettyName: null });
    assert.equal(doc.image.imageId, image);
    const ssl = byName(doc, 'libssl3');
    assert.deepEqual([ssl.source, ssl.arch, ssl.licenses, ssl.class], [{ name: 'openssl', version: '3.0.11-1~deb12u2' }, 'amd64', ['Apache-2.0'], 'os']);
    const babel = byName(doc, '@babel/core');
    assert.deepEqual([babel.type, babel.licenses, babel.source], ['npm', ['Custom X'], undefined]);
    assert.deepEqual(doc.skipped, [{ name: 'no purl here', purl: null, reason: 'no purl' }]);
    rejects(() => parseSbom(JSON.stringify({ ...spdx, spdxVersion: 'SPDX-3.0' })), 'UNKNOWN_FORMAT', /SPDX-3\.0/);
  });
});

describe('sbom: hostile input', () => {
  it('refuses what is not a CycloneDX or SPDX JSON document', () => {
    rejects(() => parseSbom('{'), 'UNKNOWN_FORMAT', /^sbom: not JSON/);
    rejects(() => parseSbom('[1,2]'), 'UNKNOWN_FORMAT', /not a JSON object/);
    rejects(() => parseSbom('"CycloneDX"'), 'UNKNOWN_FORMAT', /not a JSON object/);
    rejects(() => parseSbom('{"bomFormat":"SPDX"}'), 'UNKNOWN_FORMAT', /neither CycloneDX/);
    rejects(() => parseSbom(Buffer.from([0xff, 0xfe, 0x00])), 'UNKNOWN_FORMAT', /not JSON/);
  });

  it('refuses documents over the size limit before parsing them', () => {
    const text = JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.6', components: [] });
    rejects(() => parseSbom(text, { maxBytes: 10 }), 'TARGET_UNREADABLE', /over the 10-byte limit/);
    assert.equal(parseSbom('\uFEFF' + text).packages.length, 0);
  });

  it('survives wrong types anywhere, and bounds entries, nesting, properties and the skipped list', () => {
    const weird = {
      bomFormat: 'CycloneDX',
      specVersion: '1.6',
      metadata: 7,
      components: [null, 1, 'x', [], { type: 'library', name: 5, purl: 7, properties: 'no', licenses: [null, { license: 3 }, { expression: 9 }] }, { type: 'library', purl: 'pkg:npm/a@1', properties: [null, { name: 1, value: 2 }], licenses: {} }],
    };
    const doc = parseSbom(JSON.stringify(weird));
    assert.deepEqual(doc.packages.map((p) => p.name), ['a']);
    assert.equal(doc.image.name, null);

    const many = { bomFormat: 'CycloneDX', specVersion: '1.6', components: Array.from({ length: 50 }, (_, i) => ({ type: 'library', name: `p${i}`, purl: `pkg:npm/p${i}@1` })) };
    const capped = parseSbom(JSON.stringify(many), { maxEntries: 10 });
    assert.equal(capped.packages.length, 10);
    assert.deepEqual(capped.warnings, ['more than 10 components; the rest were not read']);

    // 3000 levels of nesting (written as text: JSON.stringify itself recurses): walked without recursion, stopped at maxDepth
    const levels = 3000;
    let nested = '';
    for (let i = 0; i < levels; i++) nested += `{"type":"library","name":"n${i}","purl":"pkg:npm/n${i}@1","components":[`;
    nested += ']}'.repeat(levels);
    const deep = parseSbom(`{"bomFormat":"CycloneDX","specVersion":"1.6","components":[${nested}]}`, { maxDepth: 32 });
    assert.equal(deep.packages.length, 32);
    assert.deepEqual(deep.warnings, ['components nested deeper than 32 levels were not read']);

    const noPurls = { bomFormat: 'CycloneDX', specVersion: '1.6', components: Array.from({ length: 1500 }, (_, i) => ({ type: 'library', name: `x${i}` })) };
    const skipped = parseSbom(JSON.stringify(noPurls));
    assert.equal(skipped.skipped.length, 1000);
    assert.equal(skipped.skippedCount, 1500);

    const longPurl = parseSbom(JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.6', components: [{ type: 'library', name: 'long', purl: `pkg:npm/${'a'.repeat(5000)}@1` }] }));
    assert.deepEqual(longPurl.skipped.map((s) => s.reason), ['purl longer than 4096 characters']);

    const props = Array.from({ length: 10 }, (_, i) => ({ name: 'tally:location', value: `/l${i}` }));
    const fewProps = parseSbom(JSON.stringify({ bomFormat: 'CycloneDX', specVersion: '1.6', components: [{ type: 'library', name: 'p', purl: 'pkg:npm/p@1', properties: props }] }), { maxPropertiesPerEntry: 3 });
    assert.deepEqual(fewProps.packages[0]!.locations, ['/l0', '/l1', '/l2']);
    assert.equal(fewProps.warnings.length, 1);
  });

  it('does not believe tally properties that do not fit: layer index, diffId, scan type, class, prototype keys', () => {
    const prop = (name: string, value: string) => ({ name, value });
    const doc = parseSbom(
      JSON.stringify({
        bomFormat: 'CycloneDX',
        specVersion: '1.6',
        components: [
          {
            type: 'library',
            name: 'evil',
            purl: 'pkg:deb/debian/evil@1?arch=amd64',
            properties: [
              prop('tally:layer:index', '99999999'),
              prop('tally:scanType', 'SCA'),
              prop('tally:class', 'lang'),
              prop('tally:metadata:__proto__', 'polluted'),
              prop('tally:metadata:toString', 'x'),
              prop('tally:ownedBy:type', 'cargo'),
            ],
          },
          { type: 'library', name: 'ok', purl: 'pkg:npm/ok@1', properties: [prop('tally:layer:index', '2'), prop('tally:layer:diffId', 'sha256:nothex'), prop('tally:evidence', 'sworn'), prop('tally:scanType', 'Bogus')] },
        ],
      }),
    );
    const evil = byName(doc, 'evil');
    assert.deepEqual(evil.layer, { index: 0, diffId: null, createdBy: null });
    assert.deepEqual([evil.class, evil.scanType, evil.ownedBy], ['os', 'Static', undefined]);
    assert.equal(Object.getPrototypeOf(evil.metadata), Object.prototype);
    assert.equal(evil.metadata!['toString'], 'x');
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
    const ok = byName(doc, 'ok');
    assert.deepEqual([ok.layer, ok.evidence, ok.scanType], [{ index: 2, diffId: null, createdBy: null }, 'declared', 'SCA']);
    // layers 0..2 are listed, the gap with nothing known
    assert.deepEqual(doc.layers.map((l) => l.index), [0, 1, 2]);
  });
});

describe('sbom: files', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tally-sbom-test-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('reads a file, and refuses missing, directory and oversized targets with distinct codes', async () => {
    const path = join(dir, 'bom.cdx.json');
    await writeFile(path, renderCycloneDx(report));
    assert.equal((await readSbomFile(path)).packages.length, report.packages.length);
    await assert.rejects(readSbomFile(join(dir, 'missing.json')), (e: unknown) => isTallyError(e) && e.code === 'TARGET_NOT_FOUND');
    await assert.rejects(readSbomFile(dir), (e: unknown) => isTallyError(e) && e.code === 'TARGET_UNREADABLE');
    await assert.rejects(readSbomFile(path, { maxBytes: 1000 }), (e: unknown) => isTallyError(e) && e.code === 'TARGET_UNREADABLE' && /over the 1000-byte limit/.test(e.message));
  });
});

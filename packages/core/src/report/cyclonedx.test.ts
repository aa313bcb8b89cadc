import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import type { Package } from '../model/package.js';
import type { ScanReport } from '../model/report.js';
import { validateCycloneDx } from '../testing/sbom-schemas.js';
import { validateReport } from '../testing/report-schema.js';
import { imagePurl } from '../sbom/image.js';
import { cvssSeverity, cyclonedxFormatter, renderCycloneDx } from './cyclonedx.js';
import { HOSTILE, loadReport } from './testdata/fixture.js';

interface Prop {
  name: string;
  value: string;
}
interface Component {
  type: string;
  name: string;
  group?: string;
  version?: string;
  purl?: string;
  'bom-ref'?: string;
  licenses?: ({ license: { id?: string; name?: string } } | { expression: string })[];
  properties?: Prop[];
  publisher?: string;
}
interface Rating {
  source?: { name?: string };
  score?: number;
  severity?: string;
  method?: string;
  vector?: string;
}
interface Vulnerability {
  'bom-ref': string;
  id: string;
  source: { name: string; url: string };
  ratings: Rating[];
  references?: { id: string; source: { name: string; url: string } }[];
  description: string;
  recommendation: string;
  analysis?: { response?: string[] };
  affects: { ref: string; versions: { version: string; status: string }[] }[];
  properties: Prop[];
}
interface Bom {
  $schema: string;
  bomFormat: string;
  specVersion: string;
  serialNumber: string;
  metadata: { timestamp: string; tools: { components: Component[] }; component: Component; properties: Prop[] };
  components: Component[];
  dependencies: { ref: string; dependsOn?: string[] }[];
  vulnerabilities?: Vulnerability[];
}

const report = loadReport();
const bom = JSON.parse(renderCycloneDx(report)) as Bom;
const props = (c: { properties?: Prop[] }, name: string): string[] => (c.properties ?? []).filter((p) => p.name === name).map((p) => p.value);
const pkg = (name: string): Package => report.packages.find((p) => p.name === name)!;
const component = (p: Package): Component => bom.components.find((c) => c['bom-ref'] === p.id)!;

describe('CycloneDX 1.6', () => {
  it('the fixture is a valid Tally report (a real scan of the example image plus hand-made findings)', () => {
    validateReport(report);
    assert.ok(report.packages.filter((p) => p.type === 'deb').length >= 15);
  });

  it('validates against the official 1.6 schema (with spdx and jsf companions) and its references resolve', () => {
    validateCycloneDx(bom);
    assert.equal(bom.bomFormat, 'CycloneDX');
    assert.equal(bom.specVersion, '1.6');
    assert.match(bom.serialNumber, /^urn:uuid:[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('is the same bytes for the same report, and a different serial number for another scan', () => {
    assert.equal(renderCycloneDx(report), renderCycloneDx(report));
    const later = JSON.parse(renderCycloneDx({ ...report, scannedAt: '2026-11-30T10:00:00Z' })) as Bom;
    assert.notEqual(later.serialNumber, bom.serialNumber);
  });

  it('describes the image as metadata.component: container, tag, image id, pkg:oci purl; tools = tally; timestamp', () => {
    const img = bom.metadata.component;
    assert.equal(img.type, 'container');
    assert.equal(img.name, 'tally-example:latest');
    assert.equal(img.version, report.image.imageId);
    assert.equal(img.purl, `pkg:oci/tally-example@${report.image.imageId!}?arch=amd64&tag=latest`);
    assert.deepEqual(props(img, 'tally:image:imageId'), [report.image.imageId]);
    assert.deepEqual(bom.metadata.tools.components.map((t) => [t.type, t.name, t.version]), [['application', 'tally', report.tool.version]]);
    assert.equal(bom.metadata.timestamp, '2026-11-29T10:00:00.123Z');
    assert.deepEqual(props(bom.metadata, 'tally:scanType'), ['Static', 'SCA']);
  });

  it('builds the image purl per the oci type: repository name, digest, registry only where there is one', () => {
    const img = report.image;
    const digest = `sha256:${'c'.repeat(64)}`;
    const id = img.imageId!;
    const purl = (over: Partial<ScanReport['image']>): string | null => imagePurl({ ...img, ...over });
    assert.equal(purl({ repoTags: [], ref: 'docker-archive:/tmp/My App.tar:app:1' }), `pkg:oci/my%20app@${id}?arch=amd64`);
    assert.equal(purl({ repoTags: [], ref: 'oci:/tmp/layout:latest' }), `pkg:oci/layout@${id}?arch=amd64`);
    assert.equal(purl({ repoTags: [], source: 'registry', ref: 'debian:12', manifestDigest: digest }), `pkg:oci/debian@${digest}?arch=amd64&repository_url=docker.io%2Flibrary%2Fdebian&tag=12`);
    assert.equal(purl({ repoTags: ['localhost:5000/team/App:1.2'], manifestDigest: digest }), `pkg:oci/app@${digest}?arch=amd64&repository_url=localhost%3A5000%2Fteam%2Fapp&tag=1.2`);
    assert.equal(purl({ imageId: null, manifestDigest: null }), null);
  });

  it('has one library component per package (bom-ref = package id, purl) and one operating-system component', () => {
    const libs = bom.components.filter((c) => c.type === 'library');
    assert.equal(libs.length, report.packages.length);
    assert.deepEqual(libs.map((c) => c['bom-ref']), report.packages.map((p) => p.id));
    assert.deepEqual(libs.map((c) => c.purl), report.packages.map((p) => p.purl));
    const os = bom.components.filter((c) => c.type === 'operating-system');
    assert.deepEqual(os.map((c) => [c.name, c.version]), [['debian', '12']]);
  });

  it('carries layer, scan type, class, locations, evidence, identifiedBy and source package as tally properties', () => {
    const openssl = component(pkg('openssl'));
    assert.deepEqual(props(openssl, 'tally:layer:index'), ['1']);
    assert.deepEqual(props(openssl, 'tally:layer:diffId'), [pkg('openssl').layer.diffId]);
    assert.match(props(openssl, 'tally:layer:createdBy')[0]!, /apt-get install .* openssl/);
    assert.deepEqual(props(openssl, 'tally:scanType'), ['Static']);
    assert.deepEqual(props(openssl, 'tally:class'), ['os']);
    assert.deepEqual(props(openssl, 'tally:location'), ['/var/lib/dpkg/status']);
    assert.deepEqual(props(openssl, 'tally:evidence'), ['installed']);
    assert.deepEqual(props(openssl, 'tally:source:name'), ['openssl']);
    const log4j = component(pkg('org.apache.logging.log4j:log4j-core'));
    assert.deepEqual([log4j.group, log4j.name], ['org.apache.logging.log4j', 'log4j-core']);
    assert.deepEqual(props(log4j, 'tally:location'), ['/app/app.jar!/BOOT-INF/lib/log4j-core-2.14.1.jar']);
    assert.deepEqual(props(log4j, 'tally:identifiedBy'), ['pom.properties']);
    assert.deepEqual(props(component(pkg('lodash')), 'tally:location'), ['/app/node_modules/lodash/package.json', '/app/package-lock.json']);
  });

  it('writes licenses as SPDX ids, one expression, or names (never an expression mixed into a list)', () => {
    assert.deepEqual(component(pkg('org.apache.logging.log4j:log4j-core')).licenses, [{ license: { id: 'Apache-2.0' } }]);
    assert.deepEqual(component(pkg('com.example:app')).licenses, [{ license: { name: 'Proprietary "Example" License <b>' } }]);
    const hostile = component(pkg(`@evil/${HOSTILE}`));
    assert.deepEqual(hostile.licenses, [
      { license: { name: 'MIT OR Apache-2.0' } },
      { license: { id: 'GPL-2.0+' } },
      { license: { name: `Custom "license"\nline2 <b>${HOSTILE}` } },
    ]);
    const single = JSON.parse(renderCycloneDx(withLicenses(['(MIT OR Apache-2.0) AND BSD-3-Clause']))) as Bom;
    validateCycloneDx(single);
    assert.deepEqual(single.components.find((c) => c.type === 'library')!.licenses, [{ expression: '(MIT OR Apache-2.0) AND BSD-3-Clause' }]);
  });

  it('keeps hostile names, versions and createdBy byte for byte (JSON escapes them)', () => {
    const hostile = component(pkg(`@evil/${HOSTILE}`));
    assert.deepEqual([hostile.group, hostile.name, hostile.version], ['@evil', HOSTILE, `1.0.0-"beta"\n<script>\u0001`]);
    assert.ok(props(hostile, 'tally:layer:createdBy')[0]!.includes(HOSTILE));
    assert.equal(hostile.publisher, `Evil ${HOSTILE} Corp`);
  });

  it('links the image to every package and the OS, and the OS to its packages', () => {
    const deps = new Map(bom.dependencies.map((d) => [d.ref, d.dependsOn ?? []]));
    const image = deps.get(bom.metadata.component['bom-ref']!)!;
    assert.deepEqual(new Set(image), new Set(['os:debian@12', ...report.packages.map((p) => p.id)]));
    assert.deepEqual(new Set(deps.get('os:debian@12')), new Set(report.packages.filter((p) => p.class === 'os').map((p) => p.id)));
  });

  it('has one vulnerability per finding: ratings per CVSS plus the vendor rating, affects the package, fixed versions', () => {
    const vulns = bom.vulnerabilities!;
    assert.equal(vulns.length, report.vulnerabilities!.length);
    const log4j = vulns.find((v) => v.id === 'CVE-2021-44228')!;
    assert.deepEqual(
      log4j.ratings.map((r) => [r.method, r.score, r.severity, r.source?.name]),
      [
        ['CVSSv31', 10, 'critical', 'nvd'],
        ['CVSSv2', 9.3, 'high', 'nvd'],
        ['other', undefined, 'critical', 'ghsa'],
      ],
    );
    assert.equal(log4j.ratings[0]!.vector, 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H');
    assert.deepEqual(log4j.affects, [
      {
        ref: pkg('org.apache.logging.log4j:log4j-core').id,
        versions: [
          { version: '2.14.1', status: 'affected' },
          { version: '2.15.0', status: 'unaffected' },
          { version: '2.12.2', status: 'unaffected' },
        ],
      },
    ]);
    assert.equal(log4j.recommendation, 'Upgrade org.apache.logging.log4j:log4j-core to 2.15.0 or 2.12.2.');
    assert.deepEqual(log4j.analysis, { response: ['update'] });
    assert.deepEqual(props(log4j, 'tally:fixedVersion'), ['2.15.0', '2.12.2']);
    assert.deepEqual(props(log4j, 'tally:kev'), ['true']);
    assert.deepEqual(props(log4j, 'tally:epss'), ['0.975']);
    assert.deepEqual(log4j.source, { name: 'ghsa', url: 'https://github.com/advisories/GHSA-jfh8-c2jp-5v3q' });
    assert.deepEqual(log4j.references!.map((r) => r.id), ['GHSA-jfh8-c2jp-5v3q']);
    assert.equal(log4j.description, 'Remote code injection in Log4j (JNDI lookups)');

    const v4 = vulns.find((v) => v.id === 'GHSA-xxxx-yyyy-zzzz')!;
    assert.equal(v4.ratings[0]!.method, 'CVSSv4');
    assert.equal(v4.analysis, undefined);
    assert.match(v4.recommendation, /^No fixed version/);
    const wontfix = vulns.find((v) => v.id === 'CVE-2023-45853')!;
    assert.deepEqual(wontfix.analysis, { response: ['will_not_fix'] });
    assert.deepEqual(props(wontfix, 'tally:status'), ['will_not_fix']);
    // the same CVE in two packages: two entries, each affecting its own package
    const dsa = vulns.filter((v) => v.id === 'CVE-2024-0727');
    assert.deepEqual(dsa.map((v) => v.affects[0]!.ref).sort(), [pkg('openssl').id, pkg('libssl3').id].sort());
    assert.equal(new Set(vulns.map((v) => v['bom-ref'])).size, vulns.length);
  });

  it('is checked by a validator that rejects what the schema or the references forbid', () => {
    const badType = structuredClone(bom);
    badType.components[0]!.type = 'bogus';
    assert.throws(() => validateCycloneDx(badType), /CycloneDX is not valid/);
    const badRef = structuredClone(bom);
    badRef.vulnerabilities![0]!.affects[0]!.ref = 'nowhere';
    assert.throws(() => validateCycloneDx(badRef), /affects unknown ref nowhere/);
    const badLicense = structuredClone(bom);
    badLicense.components.find((c) => c.type === 'library')!.licenses = [{ license: { id: 'Not-A-License' } }];
    assert.throws(() => validateCycloneDx(badLicense), /CycloneDX is not valid/);
  });

  it('rates CVSS scores with the spec bands', () => {
    assert.equal(cvssSeverity('3.1', 9.8), 'CRITICAL');
    assert.equal(cvssSeverity('3.1', 7), 'HIGH');
    assert.equal(cvssSeverity('4.0', 0), 'NONE');
    assert.equal(cvssSeverity('2.0', 9.3), 'HIGH');
    assert.equal(cvssSeverity('2.0', 3.9), 'LOW');
  });

  it('still validates with no vulnerabilities, no OS, no image id and no tags (a rootfs scan)', () => {
    const { vulnerabilities: _matched, ...unmatched } = report;
    const bare: ScanReport = {
      ...unmatched,
      image: { ...report.image, imageId: null, manifestDigest: null, repoTags: [], os: null, source: 'rootfs', ref: '/tmp/root fs' },
      packages: report.packages.filter((p) => p.class === 'lang'),
    };
    const out = JSON.parse(renderCycloneDx(bare)) as Bom;
    validateCycloneDx(out);
    assert.equal(out.metadata.component.purl, undefined);
    assert.equal(out.metadata.component.name, '/tmp/root fs');
    assert.equal(out.vulnerabilities, undefined);
  });

  it('writes through the Formatter interface', async () => {
    const chunks: string[] = [];
    const out = new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk.toString('utf8'));
        cb();
      },
    });
    await cyclonedxFormatter.write(report, out, { color: false });
    assert.equal(cyclonedxFormatter.name, 'cyclonedx');
    validateCycloneDx(JSON.parse(chunks.join('')));
  });
});

function withLicenses(licenses: string[]): ScanReport {
  const p = report.packages.find((x) => x.class === 'lang')!;
  const { vulnerabilities: _omit, ...rest } = report;
  return { ...rest, packages: [{ ...p, licenses }] };
}

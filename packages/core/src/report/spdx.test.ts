import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import parseSpdxExpression from 'spdx-expression-parse';
import type { Package } from '../model/package.js';
import type { ScanReport } from '../model/report.js';
import { SPDX_ANNOTATION_PREFIX } from '../sbom/properties.js';
import { validateSpdx } from '../testing/sbom-schemas.js';
import { buildSpdx, spdxFormatter, SPDX_IMAGE_ID, SPDX_OS_ID, type SpdxDocument, type SpdxPackage } from './spdx.js';
import { HOSTILE, loadReport } from './testdata/fixture.js';

const report = loadReport();
const doc = buildSpdx(report);
const json = JSON.parse(JSON.stringify(doc)) as SpdxDocument;
const pkg = (name: string): Package => report.packages.find((p) => p.name === name)!;
const spdxOf = (p: Package): SpdxPackage => doc.packages.find((x) => x.externalRefs?.[0]?.referenceLocator === p.purl)!;

describe('SPDX 2.3', () => {
  it('validates against the official 2.3 schema, plus id, relationship and license-expression checks', () => {
    validateSpdx(json);
    assert.equal(json.spdxVersion, 'SPDX-2.3');
    assert.equal(json.dataLicense, 'CC0-1.0');
    assert.equal(json.SPDXID, 'SPDXRef-DOCUMENT');
    assert.equal('$schema' in json, false);
  });

  it('has a namespace unique per report (image id and scan time in it) and a creation time without fractions', () => {
    assert.equal(json.creationInfo.created, '2026-11-29T10:00:00Z');
    assert.deepEqual(json.creationInfo.creators, [`Tool: tally-${report.tool.version}`]);
    assert.ok(json.documentNamespace.startsWith('https://tally.dev/spdx/tally-example-latest/'));
    assert.ok(json.documentNamespace.includes(report.image.imageId!.replace('sha256:', '')));
    assert.ok(json.documentNamespace.includes('2026-11-29T100000Z'));
    const later = buildSpdx({ ...report, scannedAt: '2026-11-29T10:00:00.456Z' });
    assert.notEqual(later.documentNamespace, json.documentNamespace);
  });

  it('has the image (CONTAINER, pkg:oci purl), the OS, and one package per scanned package with its purl', () => {
    const image = doc.packages[0]!;
    assert.equal(image.SPDXID, SPDX_IMAGE_ID);
    assert.equal(image.primaryPackagePurpose, 'CONTAINER');
    assert.equal(image.versionInfo, report.image.imageId);
    assert.equal(image.externalRefs![0]!.referenceLocator, `pkg:oci/tally-example@${report.image.imageId!}?arch=amd64&tag=latest`);
    const os = doc.packages[1]!;
    assert.deepEqual([os.SPDXID, os.name, os.versionInfo, os.primaryPackagePurpose], [SPDX_OS_ID, 'debian', '12', 'OPERATING_SYSTEM']);
    const rest = doc.packages.slice(2);
    assert.equal(rest.length, report.packages.length);
    for (const [i, p] of report.packages.entries()) {
      const s = rest[i]!;
      assert.equal(s.name, p.name);
      assert.equal(s.versionInfo, p.version);
      assert.equal(s.downloadLocation, 'NOASSERTION');
      assert.equal(s.licenseConcluded, 'NOASSERTION');
      assert.equal(s.filesAnalyzed, false);
      assert.deepEqual(s.externalRefs, [{ referenceCategory: 'PACKAGE-MANAGER', referenceType: 'purl', referenceLocator: p.purl }]);
      assert.match(s.SPDXID, /^SPDXRef-[A-Za-z0-9.-]+$/);
    }
  });

  it('relates DOCUMENT DESCRIBES image and image CONTAINS the OS and each package', () => {
    assert.deepEqual(doc.relationships[0], { spdxElementId: 'SPDXRef-DOCUMENT', relationshipType: 'DESCRIBES', relatedSpdxElement: SPDX_IMAGE_ID });
    const contained = doc.relationships.filter((r) => r.spdxElementId === SPDX_IMAGE_ID && r.relationshipType === 'CONTAINS').map((r) => r.relatedSpdxElement);
    assert.deepEqual(contained, doc.packages.slice(1).map((p) => p.SPDXID));
  });

  it('states layer and scan type in the comment and carries the tally properties in an annotation', () => {
    const s = spdxOf(pkg('openssl'));
    assert.match(s.comment!, /^Introduced by layer 1 \(RUN .*openssl.*\); found by the Static scan \(os package, evidence: installed\) at \/var\/lib\/dpkg\/status\.$/);
    const note = s.annotations![0]!;
    assert.equal(note.annotationType, 'OTHER');
    assert.equal(note.annotator, `Tool: tally-${report.tool.version}`);
    const props = JSON.parse(note.comment.slice(SPDX_ANNOTATION_PREFIX.length)) as [string, string][];
    assert.deepEqual(props.filter(([n]) => n.startsWith('tally:layer:index') || n === 'tally:scanType'), [
      ['tally:layer:index', '1'],
      ['tally:scanType', 'Static'],
    ]);
    assert.equal(s.sourceInfo, 'built from source package openssl 3.0.22-1~deb12u2');
  });

  it('declares licenses as valid SPDX expressions, with LicenseRefs for the strings that are not', () => {
    assert.equal(spdxOf(pkg('org.apache.logging.log4j:log4j-core')).licenseDeclared, 'Apache-2.0');
    assert.equal(spdxOf(pkg('openssl')).licenseDeclared, 'NOASSERTION');
    const hostile = spdxOf(pkg(`@evil/${HOSTILE}`)).licenseDeclared;
    assert.match(hostile, /^\(MIT OR Apache-2\.0\) AND GPL-2\.0\+ AND LicenseRef-[A-Za-z0-9.-]+$/);
    parseSpdxExpression(hostile);
    const ref = /LicenseRef-[A-Za-z0-9.-]+$/.exec(hostile)![0];
    const extracted = doc.hasExtractedLicensingInfos!.find((e) => e.licenseId === ref)!;
    assert.equal(extracted.extractedText, `Custom "license"\nline2 <b>${HOSTILE}`);
    const requests = spdxOf(pkg('requests')).licenseDeclared;
    assert.equal(doc.hasExtractedLicensingInfos!.find((e) => e.licenseId === requests)!.extractedText, 'Apache 2.0');
  });

  it('declares a LicenseRef the package named itself, so the document stays self-contained', () => {
    const p = report.packages.find((x) => x.class === 'lang')!;
    const out = buildSpdx({ ...report, packages: [{ ...p, licenses: ['LicenseRef-acme', 'MIT'] }], vulnerabilities: [] });
    validateSpdx(JSON.parse(JSON.stringify(out)));
    assert.equal(out.packages[2]!.licenseDeclared, 'LicenseRef-acme AND MIT');
    assert.equal(out.hasExtractedLicensingInfos![0]!.licenseId, 'LicenseRef-acme');
  });

  it('derives safe, unique SPDX ids from hostile names and colliding id prefixes', () => {
    const base = report.packages.find((p) => p.name === 'lodash')!;
    const twins: Package[] = [
      { ...base, id: 'a'.repeat(64), name: HOSTILE },
      { ...base, id: 'a'.repeat(63) + 'b', name: HOSTILE },
      { ...base, id: 'a'.repeat(63) + 'b', name: HOSTILE, version: '2' },
    ];
    const out = buildSpdx({ ...report, packages: twins, vulnerabilities: [] });
    validateSpdx(JSON.parse(JSON.stringify(out)));
    const ids = out.packages.slice(2).map((p) => p.SPDXID);
    assert.equal(new Set(ids).size, 3);
    for (const id of ids) assert.match(id, /^SPDXRef-Package-npm-img-src-x-onerror-alert-1-quoted-single-amp-second-line-31m-a{16}/);
  });

  it('still validates without OS, image id, tags or packages', () => {
    const { vulnerabilities: _v, ...rest } = report;
    const bare: ScanReport = { ...rest, image: { ...report.image, imageId: null, manifestDigest: null, repoTags: [], os: null, ref: HOSTILE }, packages: [] };
    const out = buildSpdx(bare);
    validateSpdx(JSON.parse(JSON.stringify(out)));
    assert.equal(out.packages.length, 1);
    assert.equal(out.packages[0]!.externalRefs, undefined);
    assert.ok(out.documentNamespace.includes('/no-image-id/'));
  });

  it('is checked by a validator that rejects bad ids, dangling relationships and bad expressions', () => {
    const badId = structuredClone(json) as unknown as { packages: { SPDXID: string }[] };
    badId.packages[2]!.SPDXID = 'SPDXRef-has space';
    assert.throws(() => validateSpdx(badId), /bad SPDXID/);
    const dangling = structuredClone(json) as unknown as { relationships: { relatedSpdxElement: string }[] };
    dangling.relationships[1]!.relatedSpdxElement = 'SPDXRef-nowhere';
    assert.throws(() => validateSpdx(dangling), /unknown element SPDXRef-nowhere/);
    const badLicense = structuredClone(json) as unknown as { packages: { licenseDeclared: string }[] };
    badLicense.packages[2]!.licenseDeclared = 'Apache 2.0';
    assert.throws(() => validateSpdx(badLicense), /not an SPDX expression/);
    assert.throws(() => validateSpdx({ ...json, $schema: 'https://example.invalid' }), /SPDX is not valid/);
  });

  it('writes through the Formatter interface', async () => {
    const chunks: string[] = [];
    const out = new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk.toString('utf8'));
        cb();
      },
    });
    await spdxFormatter.write(report, out, { color: false });
    validateSpdx(JSON.parse(chunks.join('')));
  });
});

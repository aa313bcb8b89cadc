import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readJson, repoRoot, tally, testImages } from './support.js';
import type { ScanReport } from '@tally/core';
import { validateReport } from '../../../core/src/testing/report-schema.js';

let images: string;
let cache: string;
const vulndb = join(repoRoot, '../shared/vulndb');

function scan(target: string, ...extra: string[]): ScanReport {
  const r = tally(['scan', target, '--format', 'json', '--quiet', '--no-cache', '--cache-dir', cache, ...extra]);
  if (r.code !== 0) throw new Error(`tally scan exited ${r.code}: ${r.stderr}`);
  const report = JSON.parse(r.stdout) as ScanReport;
  validateReport(report);
  return report;
}

before(() => {
  images = testImages();
  cache = mkdtempSync(join(tmpdir(), 'tally-vuln-e2e-'));
  const imported = tally(['db', 'import', vulndb, '--cache-dir', cache]);
  assert.equal(imported.code, 0, imported.stderr);
  assert.match(imported.stdout, /records imported/);
});
after(() => rmSync(cache, { recursive: true, force: true }));

describe('vulnerability matching end to end', () => {
  it('db status lists the imported sources', () => {
    const r = tally(['db', 'status', '--json', '--cache-dir', cache]);
    assert.equal(r.code, 0);
    const status = JSON.parse(r.stdout) as { totals: { advisories: number; kev: number }; sources: unknown[] };
    assert.ok(status.totals.advisories > 30000);
    assert.ok(status.totals.kev > 1000);
    assert.ok(status.sources.length >= 15);
  });

  it('reports the DSA-backed findings of a Debian image by source package, epochs included', () => {
    const expected = readJson<{ expectedFindings: Record<string, string[]>; downgraded: Record<string, { fixedBy: string }> }>(join(images, 'debian11-dsa/expected.json'));
    const report = scan(join(images, 'debian11-dsa/docker-archive.tar'));
    for (const [pkg, cves] of Object.entries(expected.expectedFindings)) {
      const found = report.vulnerabilities!.filter((v) => v.package.name === pkg);
      assert.deepEqual(found.map((v) => v.id).sort(), [...cves].sort(), pkg);
      for (const v of found) {
        assert.equal(v.match.by, 'source-package');
        assert.equal(v.match.ecosystem, 'Debian:11');
        assert.deepEqual(v.fixedVersions, [expected.downgraded[pkg]!.fixedBy]);
        assert.ok(v.aliases.some((a) => a.startsWith('DSA-')));
        assert.equal(v.scanType, 'Static');
        assert.equal(v.class, 'os');
      }
    }
  });

  it('reports the lodash and minimist GHSAs of an npm install, with fixed versions', () => {
    const report = scan(join(images, 'sca-node/docker-archive.tar'), '--perform-sca-scan');
    const on = (name: string, version: string) => report.vulnerabilities!.filter((v) => v.package.name === name && v.package.version === version);
    const lodash = on('lodash', '4.17.15');
    for (const [cve, ghsa, fixed] of [
      ['CVE-2020-8203', 'GHSA-p6mc-m468-83gw', '4.17.19'],
      ['CVE-2021-23337', 'GHSA-35jh-r3h4-6jhm', '4.17.21'],
    ] as const) {
      const f = lodash.find((v) => v.id === cve);
      assert.ok(f, `${cve} on lodash@4.17.15`);
      assert.ok(f.aliases.includes(ghsa), `${cve} carries ${ghsa}`);
      assert.ok(f.fixedVersions.includes(fixed) || f.fixedVersions.some((v) => v > '4.17.15'), `${cve} fixed in ${f.fixedVersions.join(',')}`);
      assert.equal(f.scanType, 'SCA');
      assert.equal(f.severitySource, 'ghsa');
    }
    const minimist = on('minimist', '0.0.8').find((v) => v.id === 'CVE-2021-44906');
    assert.ok(minimist?.aliases.includes('GHSA-xvch-5gv4-984h'));
    assert.deepEqual(minimist?.fixedVersions, ['0.2.4', '1.2.6']);
    assert.equal(minimist?.severity, 'CRITICAL');
  });

  it('reports Go standard-library advisories from the Go version of a binary', () => {
    const report = scan(join(images, 'sca-go/docker-archive.tar'), '--perform-sca-scan');
    const stdlib = report.vulnerabilities!.filter((v) => v.package.name === 'stdlib' && v.match.by === 'go-stdlib');
    assert.ok(stdlib.length > 10, `${stdlib.length} stdlib findings`);
    assert.ok(stdlib.every((v) => v.aliases.some((a) => a.startsWith('GO-')) || v.id.startsWith('GO-')));
    assert.ok(stdlib.some((v) => v.package.version === 'v1.15.15'), 'the bullseye runc binary was built with go1.15.15');
  });

  it('filters by severity, fixed state and scan type, and the counts follow', () => {
    const all = scan(join(images, 'sca-node/docker-archive.tar'), '--perform-sca-scan');
    const high = scan(join(images, 'sca-node/docker-archive.tar'), '--perform-sca-scan', '--severity', 'HIGH,CRITICAL');
    assert.ok(high.vulnerabilities!.length > 0 && high.vulnerabilities!.length < all.vulnerabilities!.length);
    assert.ok(high.vulnerabilities!.every((v) => v.severity === 'HIGH' || v.severity === 'CRITICAL'));
    assert.equal(high.summary.vulnerabilities!.LOW, 0);
    const fixedOnly = scan(join(images, 'sca-node/docker-archive.tar'), '--perform-sca-scan', '--ignore-unfixed');
    assert.ok(fixedOnly.vulnerabilities!.every((v) => v.fixedVersions.length > 0));
    const staticOnly = scan(join(images, 'sca-node/docker-archive.tar'), '--perform-sca-scan', '--scan-type', 'Static');
    assert.ok(staticOnly.vulnerabilities!.every((v) => v.scanType === 'Static'));
    const bad = tally(['scan', join(images, 'sca-node/docker-archive.tar'), '--severity', 'SEVERE', '--cache-dir', cache, '-q']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /unknown severity "SEVERE"/);
  });
});

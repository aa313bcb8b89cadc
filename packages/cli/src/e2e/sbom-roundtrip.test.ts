/**
 * Round trip: an image scanned once to CycloneDX, SPDX and JSON (several outputs in one run); the SBOMs validate
 * against the official schemas; `tally scan sbom:FILE` of each SBOM then finds exactly what the image scan found.
 * Real images from tools/build-test-images.sh: sca-node (npm, yarn, pnpm installs and the node runtime), sca-java
 * (jars) and debian11-dsa (Debian packages matched by source package, epochs included).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Finding, ScanReport } from '@tally/core';
import { validateReport } from '../../../core/src/testing/report-schema.js';
import { validateCycloneDx, validateSpdx } from '../../../core/src/testing/sbom-schemas.js';
import { repoRoot, tally, testImages } from './support.js';

const bin = join(repoRoot, 'packages/cli/bin/tally.js');
let images: string;
let work: string;
let cache: string;

/** Runs in the scratch directory, so an ignore file in the caller's working directory cannot change the findings. */
function run(args: readonly string[]): void {
  const r = spawnSync(process.execPath, [bin, ...args, '-q', '--cache-dir', cache], { cwd: work, encoding: 'utf8' });
  assert.equal(r.status, 0, `tally ${args.join(' ')}: ${r.stderr}`);
}

function readReport(file: string): ScanReport {
  const report = JSON.parse(readFileSync(join(work, file), 'utf8')) as ScanReport;
  validateReport(report);
  return report;
}

/** What the acceptance compares: id, package name and version, fixed versions. */
function keys(findings: readonly Finding[]): string[] {
  return findings.map((f) => `${f.id} ${f.package.name}@${f.package.version} fixed:${[...f.fixedVersions].sort().join(',')}`).sort();
}

function sorted(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => (a.packageId + a.id < b.packageId + b.id ? -1 : a.packageId + a.id > b.packageId + b.id ? 1 : 0));
}

before(() => {
  images = testImages();
  work = mkdtempSync(join(tmpdir(), 'tally-sbom-roundtrip-'));
  cache = join(work, 'cache');
  const imported = tally(['db', 'import', join(repoRoot, '../shared/vulndb'), '--cache-dir', cache]);
  assert.equal(imported.code, 0, imported.stderr);
});
after(() => rmSync(work, { recursive: true, force: true }));

describe('SBOM round trip', () => {
  for (const [name, minFindings] of [
    ['sca-node', 20],
    ['sca-java', 1],
    ['debian11-dsa', 6],
  ] as const) {
    it(`${name}: the CycloneDX and SPDX SBOMs, re-scanned, give the image scan's findings`, () => {
      run(['scan', join(images, name, 'docker-archive.tar'), '--perform-sca-scan', '--no-cache', '-f', 'cyclonedx', '-o', `${name}.cdx.json`, '-f', 'spdx', '-o', `${name}.spdx.json`, '-f', 'json', '-o', `${name}.json`]);
      const image = readReport(`${name}.json`);
      const findings = image.vulnerabilities ?? [];
      assert.ok(findings.length >= minFindings, `${name}: ${findings.length} findings`);

      const cdx: unknown = JSON.parse(readFileSync(join(work, `${name}.cdx.json`), 'utf8'));
      validateCycloneDx(cdx);
      const spdx: unknown = JSON.parse(readFileSync(join(work, `${name}.spdx.json`), 'utf8'));
      validateSpdx(spdx);

      for (const sbom of [`${name}.cdx.json`, `${name}.spdx.json`]) {
        run(['scan', `sbom:${sbom}`, '-f', 'json', '-o', `${sbom}.rescan.json`]);
        const rescan = readReport(`${sbom}.rescan.json`);
        assert.equal(rescan.image.source, 'sbom');
        assert.equal(rescan.packages.length, image.packages.length, `${sbom}: packages`);
        assert.deepEqual(keys(rescan.vulnerabilities ?? []), keys(findings), `${sbom}: findings (id, package, fixed versions)`);
        // more than the acceptance asks: the whole finding survives, package id, layer, severity and match included
        assert.deepEqual(sorted(rescan.vulnerabilities ?? []), sorted(findings), `${sbom}: findings in full`);
        assert.deepEqual(rescan.summary.vulnerabilities, image.summary.vulnerabilities);
      }
    });
  }
});

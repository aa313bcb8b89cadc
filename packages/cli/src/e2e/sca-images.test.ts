import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { readJson, scanJson, testImages, type ScanJson } from './support.js';

interface Expected {
  name: string;
  version: string;
  location: string;
}

let images: string;
before(() => {
  images = testImages();
});

function expectedOf(eco: string): Expected[] {
  const dir = join(images, `sca-${eco}`);
  return readdirSync(dir)
    .filter((f) => f.endsWith('-expected.json'))
    .flatMap((f) => readJson<Expected[]>(join(dir, f)));
}

/** Expected packages the scan did not report at that location (name, version and location all must agree). */
function misses(report: ScanJson, expected: Expected[]): string[] {
  return expected
    .filter((e) => !report.packages.some((p) => p.name === e.name && p.version === e.version && p.locations.some((l) => l === e.location || l.startsWith(e.location + '!/'))))
    .map((e) => `${e.name}@${e.version} at ${e.location}`);
}

for (const eco of ['java', 'python', 'go', 'node', 'dotnet']) {
  describe(`SCA scan of the ${eco} image`, () => {
    it('finds every package known to be there, as SCA language packages in the added layer', () => {
      const expected = expectedOf(eco);
      assert.ok(expected.length > 0);
      const report = scanJson(join(images, `sca-${eco}/docker-archive.tar`), ['--perform-sca-scan']);
      assert.deepEqual(report.scanTypes, ['Static', 'SCA']);
      assert.deepEqual(misses(report, expected), []);
      const lang = report.packages.filter((p) => p.class === 'lang');
      assert.ok(lang.every((p) => p.scanType === 'SCA' && p.layer.index === 1), 'language packages come from the SCA layer');
      assert.ok(report.packages.filter((p) => p.class === 'os').every((p) => p.scanType === 'Static'));
      assert.deepEqual(report.issues, []);
    });

    it('reports no language package without --perform-sca-scan', () => {
      const report = scanJson(join(images, `sca-${eco}/docker-archive.tar`));
      assert.deepEqual(report.scanTypes, ['Static']);
      assert.equal(report.packages.filter((p) => p.class === 'lang').length, 0);
    });
  });
}

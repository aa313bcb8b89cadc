import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { CvssScore } from '../model/report.js';
import { byId, loadOsv } from './testdata/fixtures.js';
import { cvssSeverity, decideSeverity, erratumRating, scoreCvss, validateCvss } from './severity.js';

describe('CVSS scoring (known scores)', () => {
  const known: ReadonlyArray<readonly [string, string, number]> = [
    ['3.1', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 9.8],
    ['3.1', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H', 7.5],
    ['3.1', 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H', 7.4],
    ['3.1', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N', 0],
    // Temporal metrics do not change the reported (base) score.
    ['3.1', 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:U/RL:O/RC:C', 9.8],
    ['3.0', 'CVSS:3.0/AV:N/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H', 8.8],
    ['2.0', 'AV:N/AC:L/Au:N/C:P/I:P/A:P', 7.5],
    ['2.0', 'AV:N/AC:M/Au:N/C:N/I:P/A:N', 4.3],
    ['4.0', 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', 9.3],
    ['4.0', 'CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', 8.5],
  ];
  for (const [version, vector, score] of known) {
    test(`${vector} → ${score}`, () => {
      assert.deepEqual(scoreCvss(vector), { ok: true, version, score });
    });
  }

  test('GHSA-8g4q-xg66-9fp4 carries both v3.1 and v4.0 vectors, both scored', async () => {
    const a = byId((await loadOsv('ghsa-nuget.osv.ndjson.gz')).advisories, 'GHSA-8g4q-xg66-9fp4');
    const scored = a.cvss.map((v) => scoreCvss(v.vector, v.type));
    assert.deepEqual(scored, [
      { ok: true, version: '3.1', score: 7.5 },
      { ok: true, version: '4.0', score: 8.8 },
    ]);
  });

  test('every vector in the real OSV data validates and scores above 0 unless it has no impact', async () => {
    let n = 0;
    for (const f of ['ghsa-npm.osv.ndjson.gz', 'ghsa-nuget.osv.ndjson.gz', 'ghsa-maven.osv.ndjson.gz', 'maven-osvdev-2024.osv.ndjson.gz', 'pypi-pypa.osv.ndjson.gz', 'osv-format-samples.osv.ndjson.gz']) {
      for (const a of (await loadOsv(f)).advisories) {
        for (const v of a.cvss) {
          const r = scoreCvss(v.vector, v.type);
          assert.ok(r.ok, `${a.id}: ${v.vector}: ${r.ok ? '' : r.reason}`);
          n++;
        }
      }
    }
    assert.ok(n > 500, `scored ${n} vectors`);
  });
});

describe('CVSS validation', () => {
  const invalid: ReadonlyArray<readonly [string, RegExp]> = [
    ['garbage', /malformed metric/],
    ['', /no metrics/],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H', /missing base metric A/],
    ['CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', /illegal value "X" for AV/],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/A:L', /given twice/],
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/ZZ:1', /unknown metric "ZZ"/],
    ['CVSS:3.2/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', /unknown CVSS version prefix/],
    ['CVSS:4.0/AV:N/AC:L/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', /missing base metric AT/],
    ['CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:R/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', /illegal value "R" for UI/], // v3 value in v4
    ['AV:N/AC:L/Au:N/C:H/I:P/A:P', /illegal value "H" for C/], // v3 value in v2
    ['AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', /unknown metric "PR"/], // v3 body without its prefix
    ['CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/', /malformed metric/],
  ];
  for (const [vector, reason] of invalid) {
    test(`rejects ${JSON.stringify(vector)}`, () => {
      const r = validateCvss(vector);
      assert.equal(r.ok, false);
      assert.match(r.ok ? '' : r.reason, reason);
      // And scoring refuses instead of returning ae-cvss-calculator's 0.
      assert.equal(scoreCvss(vector).ok, false);
    });
  }

  test('the v3.x prefix decides 3.0 vs 3.1', () => {
    assert.deepEqual(validateCvss('CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'), { ok: true, version: '3.0' });
    assert.deepEqual(validateCvss('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H'), { ok: true, version: '3.1' });
  });

  test('the declared OSV type must agree with the vector', () => {
    assert.equal(validateCvss('AV:N/AC:L/Au:N/C:P/I:P/A:P', 'CVSS_V3').ok, false);
    assert.equal(validateCvss('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 'CVSS_V4').ok, false);
    assert.equal(validateCvss('CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', 'CVSS_V3').ok, true);
  });

  test('environmental and supplemental v4 metrics are accepted', () => {
    assert.equal(validateCvss('CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:A/MSI:S/U:Amber/AU:Y').ok, true);
  });
});

describe('qualitative ratings (FIRST)', () => {
  test('v3/v4 boundaries', () => {
    assert.equal(cvssSeverity('3.1', 0), 'NEGLIGIBLE');
    assert.equal(cvssSeverity('3.1', 0.1), 'LOW');
    assert.equal(cvssSeverity('3.1', 3.9), 'LOW');
    assert.equal(cvssSeverity('3.1', 4.0), 'MEDIUM');
    assert.equal(cvssSeverity('3.1', 6.9), 'MEDIUM');
    assert.equal(cvssSeverity('4.0', 7.0), 'HIGH');
    assert.equal(cvssSeverity('3.0', 8.9), 'HIGH');
    assert.equal(cvssSeverity('3.1', 9.0), 'CRITICAL');
    assert.equal(cvssSeverity('4.0', 10), 'CRITICAL');
  });
  test('v2 has no CRITICAL', () => {
    assert.equal(cvssSeverity('2.0', 0), 'LOW');
    assert.equal(cvssSeverity('2.0', 3.9), 'LOW');
    assert.equal(cvssSeverity('2.0', 4.0), 'MEDIUM');
    assert.equal(cvssSeverity('2.0', 7.0), 'HIGH');
    assert.equal(cvssSeverity('2.0', 10), 'HIGH');
  });
});

describe('precedence rule', () => {
  const v31: CvssScore = { version: '3.1', vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', score: 9.8, source: 'nvd' };
  const v2: CvssScore = { version: '2.0', vector: 'AV:N/AC:L/Au:N/C:P/I:P/A:P', score: 7.5, source: 'nvd' };
  const v4: CvssScore = { version: '4.0', vector: 'CVSS:4.0/AV:L/AC:L/AT:N/PR:L/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N', score: 8.5, source: 'ghsa' };

  test('OS package: the distro rating of the package wins over CVSS (unimportant → NEGLIGIBLE)', () => {
    assert.deepEqual(
      decideSeverity({ class: 'os', packageRatings: [{ level: 'NEGLIGIBLE', source: 'debian' }], advisoryRatings: [], cvss: [v31] }),
      { severity: 'NEGLIGIBLE', source: 'debian' },
    );
  });
  test('OS package: a GHSA rating is not a distro rating; CVSS decides', () => {
    assert.deepEqual(decideSeverity({ class: 'os', packageRatings: [], advisoryRatings: [{ level: 'LOW', source: 'ghsa' }], cvss: [v2, v31] }), {
      severity: 'CRITICAL',
      source: 'cvss-v3.1',
    });
  });
  test('OS package: the erratum rating when the package has none', () => {
    assert.deepEqual(decideSeverity({ class: 'os', packageRatings: [], advisoryRatings: [{ level: 'HIGH', source: 'almalinux' }], cvss: [v31] }), {
      severity: 'HIGH',
      source: 'almalinux',
    });
  });
  test('language package: GHSA rating wins over CVSS', () => {
    assert.deepEqual(decideSeverity({ class: 'lang', packageRatings: [], advisoryRatings: [{ level: 'MEDIUM', source: 'ghsa' }], cvss: [v31] }), {
      severity: 'MEDIUM',
      source: 'ghsa',
    });
  });
  test('CVSS: the newest version wins, not the highest score', () => {
    assert.deepEqual(decideSeverity({ class: 'lang', packageRatings: [], advisoryRatings: [], cvss: [v31, v2, v4] }), { severity: 'HIGH', source: 'cvss-v4.0' });
    assert.deepEqual(decideSeverity({ class: 'lang', packageRatings: [], advisoryRatings: [], cvss: [v2] }), { severity: 'HIGH', source: 'cvss-v2.0' });
  });
  test('several ratings in the deciding tier → the highest', () => {
    assert.deepEqual(
      decideSeverity({
        class: 'os',
        packageRatings: [
          { level: 'LOW', source: 'debian' },
          { level: 'MEDIUM', source: 'debian' },
        ],
        advisoryRatings: [],
        cvss: [],
      }),
      { severity: 'MEDIUM', source: 'debian' },
    );
  });
  test('nothing → UNKNOWN / none', () => {
    assert.deepEqual(decideSeverity({ class: 'lang', packageRatings: [], advisoryRatings: [], cvss: [] }), { severity: 'UNKNOWN', source: 'none' });
  });
  test('Red Hat family erratum titles carry the rating', async () => {
    const alsa = byId((await loadOsv('almalinux.osv.ndjson.gz')).advisories, 'ALSA-2025:10073');
    assert.equal(alsa.summary, 'Important: firefox security update');
    assert.deepEqual(erratumRating(alsa), { level: 'HIGH', source: 'almalinux' });
    assert.equal(erratumRating({ id: 'GHSA-xxxx-xxxx-xxxx', summary: 'Important: x' }), null);
    assert.equal(erratumRating({ id: 'ALBA-2019:0973', summary: 'container-tools bug fix update' }), null);
  });
});

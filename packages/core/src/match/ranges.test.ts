import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { schemeFor } from '../version/registry.js';
import type { Affected, AffectedRange, RangeEvent } from '../vulndb/model.js';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { boundCoercion, equalityKey, evaluateAffected, evaluateRange, VersionComparator } from './ranges.js';
import { byId, loadOsv } from './testdata/fixtures.js';

function cmpFor(type: string, ecosystem: string, installed: string): VersionComparator {
  const scheme = schemeFor(type);
  assert.ok(scheme);
  assert.ok(scheme.valid(installed), `${installed} valid for ${type}`);
  return new VersionComparator(scheme, installed, boundCoercion(ecosystem));
}

function range(...events: RangeEvent[]): AffectedRange {
  return { type: 'ECOSYSTEM', events };
}

function entry(ecosystem: string, ranges: AffectedRange[], versions: string[] = []): Affected {
  return { ecosystem, package: 'x', ranges, versions };
}

const verdict = (type: string, ecosystem: string, e: Affected, v: string): string => evaluateAffected(e, cmpFor(type, ecosystem, v)).verdict;

describe('OSV range evaluation (spec algorithm)', () => {
  test('introduced/fixed: half-open interval', () => {
    const r = range({ introduced: '1.0.0' }, { fixed: '1.2.0' });
    assert.equal(evaluateRange(r, cmpFor('npm', 'npm', '0.9.0')).verdict, 'not_affected');
    assert.equal(evaluateRange(r, cmpFor('npm', 'npm', '1.0.0')).verdict, 'affected');
    assert.equal(evaluateRange(r, cmpFor('npm', 'npm', '1.1.9')).verdict, 'affected');
    assert.equal(evaluateRange(r, cmpFor('npm', 'npm', '1.2.0')).verdict, 'not_affected');
    assert.equal(evaluateRange(r, cmpFor('npm', 'npm', '1.2.0-rc.1')).verdict, 'affected');
  });

  test('introduced "0" is below every version and never parsed (npm refuses "0")', () => {
    const r = range({ introduced: '0' }, { fixed: '1.0.0' });
    const res = evaluateRange(r, cmpFor('npm', 'npm', '0.0.1'));
    assert.equal(res.verdict, 'affected');
    assert.equal(res.display, '<1.0.0');
    assert.deepEqual(res.problems, []);
  });

  test('last_affected is inclusive', () => {
    const r = range({ introduced: '1.2' }, { last_affected: '1.2.17' });
    assert.equal(evaluateRange(r, cmpFor('maven', 'Maven', '1.2.17')).verdict, 'affected');
    assert.equal(evaluateRange(r, cmpFor('maven', 'Maven', '1.2.17')).display, '>=1.2, <=1.2.17');
    assert.equal(evaluateRange(r, cmpFor('maven', 'Maven', '1.2.18')).verdict, 'not_affected');
    assert.equal(evaluateRange(r, cmpFor('maven', 'Maven', '1.1')).verdict, 'not_affected');
  });

  test('several introduced/fixed pairs in one range, listed out of order', () => {
    // The Go stdlib shape, shuffled: [0, 1.19.10) ∪ [1.20.0-0, 1.20.5)
    const r = range({ fixed: '1.20.5' }, { introduced: '1.20.0-0' }, { fixed: '1.19.10' }, { introduced: '0' });
    const at = (v: string) => evaluateRange(r, cmpFor('golang', 'Go', v));
    assert.equal(at('1.19.9').verdict, 'affected');
    assert.equal(at('1.19.9').display, '<1.19.10');
    assert.equal(at('1.19.10').verdict, 'not_affected');
    assert.equal(at('1.19.12').verdict, 'not_affected');
    assert.equal(at('1.20.0-rc.1').verdict, 'affected');
    assert.equal(at('1.20.4').verdict, 'affected');
    assert.equal(at('1.20.4').display, '>=1.20.0-0, <1.20.5');
    assert.equal(at('1.20.5').verdict, 'not_affected');
    assert.equal(at('v1.20.4').verdict, 'affected'); // the inventory spells stdlib with a v
    assert.deepEqual([...at('1.19.9').fixed].sort(), ['1.19.10', '1.20.5']);
  });

  test('limit caps a range; "*" is no limit', () => {
    const r = range({ introduced: '0' }, { limit: '2.0.0' });
    assert.equal(evaluateRange(r, cmpFor('npm', 'npm', '1.9.9')).verdict, 'affected');
    assert.equal(evaluateRange(r, cmpFor('npm', 'npm', '2.0.0')).verdict, 'not_affected');
    assert.equal(evaluateRange(range({ introduced: '1.0.0' }, { limit: '*' }), cmpFor('npm', 'npm', '9.0.0')).verdict, 'affected');
  });

  test('an open range (no fix) is affected from its introduced version on', () => {
    const r = range({ introduced: '0' });
    const res = evaluateRange(r, cmpFor('deb', 'Debian:12', '1:2.3-4'));
    assert.equal(res.verdict, 'affected');
    assert.equal(res.display, '>=0');
  });

  test('equal opening and closing bounds: an empty interval', () => {
    assert.equal(evaluateRange(range({ introduced: '1.0.0' }, { fixed: '1.0.0' }), cmpFor('npm', 'npm', '1.0.0')).verdict, 'not_affected');
    assert.equal(evaluateRange(range({ introduced: '1.0.0' }, { last_affected: '1.0.0' }), cmpFor('npm', 'npm', '1.0.0')).verdict, 'affected');
  });

  test('the explicit versions list (exact spelling, then scheme equality)', () => {
    const e = entry('PyPI', [], ['0.7.29', '1.0']);
    assert.equal(verdict('pypi', 'PyPI', e, '0.7.29'), 'affected');
    assert.equal(verdict('pypi', 'PyPI', e, '1.0.0'), 'affected'); // PEP 440: 1.0 == 1.0.0
    assert.equal(verdict('pypi', 'PyPI', e, '0.7.30'), 'not_affected');
    assert.deepEqual(evaluateAffected(e, cmpFor('pypi', 'PyPI', '0.7.29')).ranges, ['=0.7.29']);
  });

  test('GIT ranges are ignored', () => {
    const e: Affected = { ecosystem: 'PyPI', package: 'x', ranges: [{ type: 'GIT', events: [{ introduced: '0' }, { fixed: 'abc123' }] }], versions: [] };
    assert.equal(verdict('pypi', 'PyPI', e, '1.0'), 'not_affected');
    assert.deepEqual(evaluateAffected(e, cmpFor('pypi', 'PyPI', '1.0')).problems, []);
  });

  test('npm partial bounds are read as full versions (GHSA-r683-j2x4-v87g: introduced "1.0")', async () => {
    const a = byId((await loadOsv('ghsa-npm.osv.ndjson.gz')).advisories, 'GHSA-r683-j2x4-v87g');
    const e = a.affected[0]!;
    assert.deepEqual(e.ranges[0]!.events[0], { introduced: '1.0' });
    assert.equal(verdict('npm', 'npm', e, '3.0.0'), 'affected');
    assert.equal(verdict('npm', 'npm', e, '3.1.1'), 'not_affected');
    assert.equal(verdict('npm', 'npm', e, '0.9.0'), 'not_affected');
    assert.deepEqual(evaluateAffected(e, cmpFor('npm', 'npm', '3.0.0')).ranges, ['>=1.0, <3.1.1']);
  });
});

describe('unparsable input is never "not affected"', () => {
  test('a fixed bound the scheme refuses → unknown, with the problem', () => {
    const e = entry('npm', [range({ introduced: '0' }, { fixed: 'not-a-version' })]);
    const res = evaluateAffected(e, cmpFor('npm', 'npm', '1.0.0'));
    assert.equal(res.verdict, 'unknown');
    assert.equal(res.problems[0]?.kind, 'range-bound');
    assert.equal(res.problems[0]?.value, 'not-a-version');
    assert.deepEqual(res.ranges, ['>=0, <not-a-version']);
  });

  test('a refused closing bound cannot make a version below introduced affected', () => {
    const e = entry('npm', [range({ introduced: '2.0.0' }, { fixed: 'bogus' })]);
    const res = evaluateAffected(e, cmpFor('npm', 'npm', '1.0.0'));
    assert.equal(res.verdict, 'not_affected');
    assert.equal(res.problems.length, 1); // still reported
  });

  test('a refused opening bound cannot make an affected version safe', () => {
    const e = entry('npm', [range({ introduced: '0' }, { introduced: 'bogus' }, { fixed: '3.0.0' })]);
    assert.equal(evaluateAffected(e, cmpFor('npm', 'npm', '1.0.0')).verdict, 'affected');
  });

  test('another range of the entry deciding "affected" wins over an undecidable one', () => {
    const e = entry('npm', [range({ introduced: '0' }, { fixed: 'bogus' }), range({ introduced: '1.0.0' }, { fixed: '2.0.0' })]);
    assert.equal(evaluateAffected(e, cmpFor('npm', 'npm', '1.5.0')).verdict, 'affected');
  });

  test('a range without introduced is undecidable', () => {
    const e = entry('npm', [range({ fixed: '2.0.0' })]);
    const res = evaluateAffected(e, cmpFor('npm', 'npm', '1.0.0'));
    assert.equal(res.verdict, 'unknown');
    assert.match(res.problems[0]?.reason ?? '', /no introduced/);
  });

  test('an installed version the scheme refuses → unknown for every entry with data', () => {
    const e = entry('npm', [range({ introduced: '0' }, { fixed: '2.0.0' })]);
    const res = evaluateAffected(e, null, { value: 'latest', reason: 'not semver' });
    assert.equal(res.verdict, 'unknown');
    assert.deepEqual(res.problems, [{ kind: 'installed-version', value: 'latest', reason: 'not semver' }]);
    assert.deepEqual(res.fixed, ['2.0.0']);
  });

  test('a distro "not affected" status needs no version at all', () => {
    const e: Affected = { ecosystem: 'Debian:12', package: 'x', ranges: [], versions: [], status: 'not_affected' };
    assert.equal(evaluateAffected(e, null, { value: '', reason: 'empty' }).verdict, 'not_affected');
  });
});

describe('Log4Shell (GHSA-jfh8-c2jp-5v3q): three affected entries for log4j-core', () => {
  const cases: ReadonlyArray<readonly [string, 'affected' | 'not_affected', string[]]> = [
    ['2.0-beta9', 'affected', ['2.3.1', '2.12.2', '2.15.0']],
    ['2.3', 'affected', ['2.3.1', '2.12.2', '2.15.0']],
    ['2.3.1', 'not_affected', ['2.12.2', '2.15.0']],
    ['2.4', 'affected', ['2.12.2', '2.15.0']],
    ['2.12.1', 'affected', ['2.12.2', '2.15.0']],
    ['2.12.2', 'not_affected', ['2.15.0']],
    ['2.13.0', 'affected', ['2.15.0']],
    ['2.14.1', 'affected', ['2.15.0']],
    ['2.15.0', 'not_affected', []],
    ['2.17.1', 'not_affected', []],
  ];
  for (const [v, want, fixedAbove] of cases) {
    test(`log4j-core ${v} → ${want}`, async () => {
      const a = byId((await loadOsv('ghsa-maven.osv.ndjson.gz')).advisories, 'GHSA-jfh8-c2jp-5v3q');
      const entries = a.affected.filter((e) => e.package === 'org.apache.logging.log4j:log4j-core');
      assert.equal(entries.length, 3);
      const results = entries.map((e) => evaluateAffected(e, cmpFor('maven', 'Maven', v)));
      assert.equal(results.some((r) => r.verdict === 'affected') ? 'affected' : 'not_affected', want);
      assert.ok(results.every((r) => r.verdict !== 'unknown'));
      assert.deepEqual([...new Set(results.flatMap((r) => r.fixed))].sort(), fixedAbove.sort());
    });
  }
  test('2.14.1 is in the range ">=2.13.0, <2.15.0"', async () => {
    const a = byId((await loadOsv('ghsa-maven.osv.ndjson.gz')).advisories, 'GHSA-jfh8-c2jp-5v3q');
    const hits = a.affected
      .filter((x) => x.package === 'org.apache.logging.log4j:log4j-core')
      .flatMap((e) => evaluateAffected(e, cmpFor('maven', 'Maven', '2.14.1')).ranges);
    assert.deepEqual(hits, ['>=2.13.0, <2.15.0']);
  });
});

describe('versions-list shortcut (equalityKey)', () => {
  const dir = fileURLToPath(new URL('../../../../../shared/version-vectors/', import.meta.url));
  const files: ReadonlyArray<readonly [string, string]> = [
    ['pep440.txt', 'pypi'],
    ['maven.txt', 'maven'],
    ['npm-semver.txt', 'npm'],
    ['go.txt', 'golang'],
    ['nuget.txt', 'nuget'],
  ];
  for (const [file, type] of files) {
    test(`equal versions have equal keys: every "=" line of ${file}, confirmed by the ${type} scheme`, () => {
      const scheme = schemeFor(type)!;
      let n = 0;
      for (const line of readFileSync(dir + file, 'utf8').split('\n')) {
        const parts = line.trim().split(' ');
        if (line.startsWith('#') || parts.length !== 3 || parts[1] !== '=') continue;
        const [a = '', , b = ''] = parts;
        if (!scheme.valid(a) || !scheme.valid(b) || scheme.compare(a, b) !== 0) continue;
        assert.equal(equalityKey(a), equalityKey(b), `${file}: ${line}`);
        n++;
      }
      assert.ok(n > 0);
    });
  }
  test('keys', () => {
    assert.equal(equalityKey('1.0.0'), '1');
    assert.equal(equalityKey('0!01.0a0.post00'), '1');
    assert.equal(equalityKey('v1.2.3+build.5'), '1.2.3');
    assert.equal(equalityKey('2.0.RELEASE'), '2');
  });
  test('a listed version found by scheme equality only (PyPI "2" = "2.0.0")', () => {
    const e = entry('PyPI', [], ['1.9', '2', '2.1']);
    assert.deepEqual(evaluateAffected(e, cmpFor('pypi', 'PyPI', '2.0.0')).ranges, ['=2']);
    assert.equal(evaluateAffected(e, cmpFor('pypi', 'PyPI', '2.0.1')).verdict, 'not_affected');
  });
});

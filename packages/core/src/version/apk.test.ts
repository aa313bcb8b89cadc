import assert from 'node:assert/strict';
import { test } from 'node:test';
import { apkScheme, apkVersionMatch, compareApkFuzzy, isStrictApkVersion } from './apk.js';
import { InvalidVersionError } from './scheme.js';

/** Assert a chain such as `a < b = c`, both ways round. */
function chain(spec: string): void {
  const parts = spec.split(' ');
  for (let i = 1; i + 1 < parts.length; i += 2) {
    const [a, op, b] = [parts[i - 1] ?? '', parts[i] ?? '', parts[i + 1] ?? ''];
    const want = op === '<' ? -1 : op === '>' ? 1 : 0;
    assert.equal(apkScheme.compare(a, b), want, `${a} ${op} ${b}`);
    assert.equal(apkScheme.compare(b, a), -want || 0, `${b} vs ${a}`);
  }
}

test('apk: pre-release suffixes sort before the release, post-release ones after', () => {
  chain('1.2_alpha < 1.2_alpha2 < 1.2_beta < 1.2_pre1 < 1.2_rc1 < 1.2 < 1.2_cvs1 < 1.2_svn1 < 1.2_git1 < 1.2_hg1 < 1.2_p1');
  chain('1.2_rc1 < 1.2 < 1.2-r0 < 1.2-r1 < 1.2-r10 < 1.2_p1 < 1.2a < 1.2.1');
  chain('1.2_p1_pre2 < 1.2_p1 < 1.2_p1_p1');
});

test('apk: a dotted component with a leading zero compares as a string (apk-tools 3)', () => {
  chain('8.2.0 < 8.2.001 < 8.2.0015 < 8.2.002 < 8.2.1');
  chain('01.2 = 1.2'); // the first component is always numeric
});

test('apk: the commit hash compares before the revision', () => {
  chain('1.0~1234-r1 < 1.0~2345-r0');
  chain('1.0~1234-r0 < 1.0~1234-r1');
});

test('apk: lenient reading of versions apk-tools 3 would refuse (as apk version -t compares them)', () => {
  chain('6.6.2_p1 < 6.6.2p1 < 6.6.2p2 < 6.6.3');
  chain('0...8 < 0..8 < 0..8.1');
  chain('0.r1 < 0r2');
  chain('1-r = 1-r0 < 1-r1');
  chain('1-ruff < 1'); // `-r` followed by a letter is not a revision: junk
  chain('1.2_blah < 1.2 < 1.2_cvs1');
  chain('1-ruff1 = 1-ruff2 = 1--x');
  chain('.1 < 1');
  chain('a < b');
  for (const v of ['6.6.2p1', '1-ruff', 'a', '.1', '1.2_blah']) {
    assert.equal(apkScheme.valid(v), true, v);
    assert.equal(isStrictApkVersion(v), false, v);
  }
});

test('apk: strict validity follows apk-tools 3', () => {
  for (const v of ['1.2', '1.2.3a', '1.2.3a_pre1-r0', '0.1_p1_pre2', '0.1_pre2~1234abcd', '0.1_pre2~abc-r3', '20240101']) {
    assert.equal(isStrictApkVersion(v), true, v);
  }
  for (const v of ['', '1.2 ', 'v1.2', '1.2-r', '1.2-r1-r2', '1.2~', '1.2~xyz', '1.2_foo', '1.2a1', '1..2', '1.2A']) {
    assert.equal(isStrictApkVersion(v), false, JSON.stringify(v));
  }
});

test('apk: fuzzy matching (~) is a token prefix match', () => {
  assert.equal(compareApkFuzzy('3.6.9', '3.6'), 0);
  assert.equal(compareApkFuzzy('3.6', '3.6.9'), -1);
  assert.equal(apkVersionMatch('3.6_pre1', '~', '3.6'), true);
  assert.equal(apkVersionMatch('3.8', '~', '3.8.1'), false);
  assert.equal(apkVersionMatch('3.5', '<~', '3.6'), true);
  assert.equal(apkVersionMatch('3.6.2', '<~', '3.6'), true);
  assert.equal(apkVersionMatch('3.7', '<~', '3.6'), false);
  assert.equal(apkVersionMatch('3.7', '>~', '3.6'), true);
  assert.equal(apkVersionMatch('3.8.0', '!~', '3.8.1'), true);
  assert.equal(apkVersionMatch('1.0-r1', '>=', '1.0-r0'), true);
  assert.equal(apkVersionMatch('1.0-r1', '!=', '1.0-r1'), false);
});

test('apk: only empty strings and whitespace are refused by compare', () => {
  for (const v of ['', ' ', '1.0 -r1', '1.0\n']) {
    assert.equal(apkScheme.valid(v), false, JSON.stringify(v));
    assert.throws(
      () => apkScheme.compare(v, '1.0'),
      (err: unknown) => err instanceof InvalidVersionError && err.version === v && err.scheme === 'apk',
    );
  }
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { mavenScheme } from './maven.js';
import { InvalidVersionError } from './scheme.js';

/** Assert a chain such as `a < b = c`, both ways round. Every pair below was checked with maven-artifact 3.9.6. */
function chain(spec: string): void {
  const parts = spec.split(' ');
  for (let i = 1; i + 1 < parts.length; i += 2) {
    const [a, op, b] = [parts[i - 1] ?? '', parts[i] ?? '', parts[i + 1] ?? ''];
    const want = op === '<' ? -1 : op === '>' ? 1 : 0;
    assert.equal(mavenScheme.compare(a, b), want, `${a} ${op} ${b}`);
    assert.equal(mavenScheme.compare(b, a), -want || 0, `${b} vs ${a}`);
  }
}

test('maven: qualifier order, release aliases and unknown words', () => {
  chain('1-alpha < 1-beta < 1-milestone < 1-rc < 1-snapshot < 1 < 1-sp < 1-abc < 1-xyz');
  chain('1 = 1.0.0 = 1-ga = 1.0-final = 1.0.RELEASE = 1.0.0.0.0');
  chain('1.0-cr1 = 1.0-rc1');
  chain('1.0-SNAPSHOT < 1.0 < 1.0-sp1 < 1.1');
});

test('maven: a1/b1/m1 shorthands, case-insensitivity', () => {
  chain('1.0-a1 = 1.0-alpha1 = 1.0-ALPHA-1');
  chain('1.0.b2 = 1.0-b2 = 1.0-beta-2'); // mvncmp@1.0.0 gets 1.0.b2 wrong (docs/stack.md)
  chain('1.0-m1 = 1.0-milestone-1');
});

test('maven: numbers beat lists, lists beat qualifiers; numbers are unbounded', () => {
  chain('1.0-rc1 < 1.0-1 < 1.0.1');
  chain('1.0.0.1 < 1.0.1');
  chain('1.99999999999999999999 < 1.100000000000000000000');
});

test('maven: a qualifier after "." is read as after "-" (maven-artifact 3.9.x)', () => {
  chain('1.0.0.rc1 = 1.0.0-rc1');
  chain('2.0.a < 2-1');
});

test('maven: tool-dependent cases follow maven-artifact 3.9.6, not the newer rule in maven-version-dependent.txt', () => {
  chain('1-1 > 1-ga-1');
  chain('6.1.12.rc5 > 6.1.12rc1');
  chain('1.2.31.sec10 > 1.2.31_noneautotype');
});

test('maven: any string is a version except empty ones and ones with whitespace', () => {
  for (const v of ['1', 'x', '1..2', '-', '1.0_final', 'ä']) assert.equal(mavenScheme.valid(v), true, v);
  for (const v of ['', ' ', '1.0 beta', '1.0\t']) {
    assert.equal(mavenScheme.valid(v), false, JSON.stringify(v));
    assert.throws(
      () => mavenScheme.compare(v, '1.0'),
      (err: unknown) => err instanceof InvalidVersionError && err.version === v && err.scheme === 'maven',
    );
  }
});

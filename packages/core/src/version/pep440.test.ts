import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pep440Scheme } from './pep440.js';
import { InvalidVersionError } from './scheme.js';

/** Assert a chain such as `a < b = c`, both ways round. Every pair below was checked with python packaging 26.2. */
function chain(spec: string): void {
  const parts = spec.split(' ');
  for (let i = 1; i + 1 < parts.length; i += 2) {
    const [a, op, b] = [parts[i - 1] ?? '', parts[i] ?? '', parts[i + 1] ?? ''];
    const want = op === '<' ? -1 : op === '>' ? 1 : 0;
    assert.equal(pep440Scheme.compare(a, b), want, `${a} ${op} ${b}`);
    assert.equal(pep440Scheme.compare(b, a), -want || 0, `${b} vs ${a}`);
  }
}

test('pep440: dev < pre < release < local < post; epochs first', () => {
  chain('1.0.dev1 < 1.0a1 < 1.0a2.dev1 < 1.0a2 < 1.0b1 < 1.0rc1 < 1.0 < 1.0+local < 1.0.post1.dev1 < 1.0.post1 < 1.1 < 1!0.1');
  chain('1.0 = 1.0.0 = 1.0.0.0');
});

test('pep440: spelling variants are normalised', () => {
  chain('1.0-RC1 = 1.0rc1 = 1.0.c1');
  chain('v1.0 = 1.0');
  chain('1.0-1 = 1.0.post1 = 1.0-r1 = 1.0.rev1');
  chain('1.0alpha1 = 1.0a1');
});

test('pep440: local versions compared by PEP 440 rules, not by Number()', () => {
  chain('1.0+abc = 1.0+ABC');
  chain('1.0+a-1 = 1.0+a.1 = 1.0+a_1');
  chain('1.0+abc < 1.0+abc.1 < 1.0+1');
  chain('1.0+01 = 1.0+1');
  chain('1.0+0x10 < 1.0+16'); // the library alone says equal (Number('0x10') === 16)
  chain('1.0+Infinity < 1.0+999'); // the library alone says greater
});

test('pep440: legacy versions are not supported (packaging >= 22 refuses them too)', () => {
  for (const v of ['0.1-bulbasaur', '2013-01-21T20:33:09+0100', 'a3', '1.0beta6.1', 'trunk', '', ' 1.0', '1.0 ']) {
    assert.equal(pep440Scheme.valid(v), false, JSON.stringify(v));
    assert.throws(
      () => pep440Scheme.compare(v, '1.0'),
      (err: unknown) => err instanceof InvalidVersionError && err.version === v && err.scheme === 'pypi',
    );
  }
});

test('pep440: numbers the library cannot hold exactly are refused, not compared wrongly', () => {
  assert.equal(pep440Scheme.valid('1.0.9007199254740991'), true);
  assert.equal(pep440Scheme.valid('1.0.9007199254740993'), false);
  assert.throws(
    () => pep440Scheme.compare('1.0.9007199254740993', '1.0'),
    (err: unknown) => err instanceof InvalidVersionError && err.reason === 'number too large for exact comparison',
  );
  assert.equal(pep440Scheme.valid('1.0+00000000000000000000001'), true); // leading zeros do not count
});

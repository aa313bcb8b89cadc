import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nugetScheme, parseNuGetVersion } from './nuget.js';
import { InvalidVersionError } from './scheme.js';

/** Assert a chain such as `a < b = c`, both ways round. */
function chain(spec: string): void {
  const parts = spec.split(' ');
  for (let i = 1; i + 1 < parts.length; i += 2) {
    const [a, op, b] = [parts[i - 1] ?? '', parts[i] ?? '', parts[i + 1] ?? ''];
    const want = op === '<' ? -1 : op === '>' ? 1 : 0;
    assert.equal(nugetScheme.compare(a, b), want, `${a} ${op} ${b}`);
    assert.equal(nugetScheme.compare(b, a), -want || 0, `${b} vs ${a}`);
  }
}

test('nuget: four numeric parts, missing ones are zero, leading zeros ignored', () => {
  chain('1 = 1.0 = 1.0.0 = 1.0.0.0 < 1.0.0.1 < 1.0.1');
  chain('1.0.01 = 1.0.1');
  chain('1.999.9999 < 2.1.1 < 10.0.0');
  assert.deepEqual(parseNuGetVersion('1.2-beta.1+sha.abc'), { numbers: ['1', '2', '0', '0'], labels: ['beta', '1'] });
});

test('nuget: pre-release labels, case-insensitive; numeric parts as numbers and before words', () => {
  chain('1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-alpha.beta < 1.0.0-beta < 1.0.0-beta.2 < 1.0.0-beta.10 < 1.0.0-rc.1 < 1.0.0');
  chain('1.0.0-BETA = 1.0.0-beta = 1.0.0-Beta');
  chain('1.2.3-999999 < 1.2.3-A < 1.2.3-a.1 = 1.2.3-A.01');
  chain('1.0.0-pre < 1.0.0.1-alpha < 1.0.0.1');
});

test('nuget: build metadata is ignored', () => {
  chain('1.0.0+abc = 1.0.0+def = 1.0.0');
  chain('1.0.0-beta+AA < 1.0.0+aa');
});

test('nuget: invalid input throws InvalidVersionError', () => {
  for (const v of ['', 'v1.0', '1.0.0.0.0', '1..0', '1.0-', '1.0-a..b', '1.0+', '1.0-a_b', ' 1.0', 'latest', '1.0-beta+']) {
    assert.equal(nugetScheme.valid(v), false, JSON.stringify(v));
    assert.throws(
      () => nugetScheme.compare(v, '1.0'),
      (err: unknown) => err instanceof InvalidVersionError && err.version === v && err.scheme === 'nuget',
    );
  }
});

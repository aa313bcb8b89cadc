import assert from 'node:assert/strict';
import { test } from 'node:test';
import { canonicalGoVersion, goScheme } from './go.js';
import { InvalidVersionError } from './scheme.js';

/** Assert a chain such as `a < b = c`, both ways round. */
function chain(spec: string): void {
  const parts = spec.split(' ');
  for (let i = 1; i + 1 < parts.length; i += 2) {
    const [a, op, b] = [parts[i - 1] ?? '', parts[i] ?? '', parts[i + 1] ?? ''];
    const want = op === '<' ? -1 : op === '>' ? 1 : 0;
    assert.equal(goScheme.compare(a, b), want, `${a} ${op} ${b}`);
    assert.equal(goScheme.compare(b, a), -want || 0, `${b} vs ${a}`);
  }
}

test('go: the v prefix is optional (OSV drops it), v1 and v1.2 are shorthands', () => {
  chain('v1.2.3 = 1.2.3 < v1.10.0');
  chain('v1 = v1.0.0 = 1 = 1.0');
  chain('v1.2 = 1.2.0');
});

test('go: pseudo-versions sort below the next release, after their base', () => {
  chain('v0.0.0-20060102150405-abcdef123456 < v0.0.1');
  chain('v1.2.3 < v1.2.4-0.20191109021931-daa7c04131f5 < v1.2.4');
  chain('v1.3.0-pre < v1.3.0-pre.0.20060102150405-abcdef123456 < v1.3.0');
});

test('go: +incompatible and other build metadata are ignored', () => {
  chain('v2.0.0+incompatible = 2.0.0 = v2.0.0+meta < v2.0.1+incompatible');
});

test('go: numbers are unbounded (x/mod has no limit)', () => {
  chain('v1.2.99999999999999999 < v1.2.100000000000000000-0.20060102150405-hash < v1.2.100000000000000000');
});

test('go: toolchain versions, 1.21rc2 sorts before 1.21.0 (as the Go vulndb maps go1.21rc2 to v1.21.0-rc.2)', () => {
  assert.equal(canonicalGoVersion('go1.21rc2'), '1.21.0-rc.2');
  assert.equal(canonicalGoVersion('1.21rc2'), '1.21.0-rc.2');
  assert.equal(canonicalGoVersion('go1.21'), '1.21.0');
  assert.equal(canonicalGoVersion('go1.21.3'), '1.21.3');
  assert.equal(canonicalGoVersion('v1.2.3+incompatible'), '1.2.3');
  chain('1.21.0-0 < go1.21rc1 < 1.21rc2 = v1.21.0-rc.2 < go1.21.0 = go1.21 = 1.21 < 1.21.1 < go1.21.3');
  chain('go1.9beta1 < go1.9beta2 < go1.9rc1 < go1.9 < go1.9.1');
  chain('go1 = 1.0.0');
});

test('go: invalid input throws InvalidVersionError', () => {
  for (const v of ['', 'v', 'v1.2.3.4', '1.2.3.4', 'v1.2-pre', 'v1+meta', 'v01.2.3', 'v1.02.3', 'v1.0.0-01', 'V1.2.3', 'v1.2.3-', 'v1.2.3+', 'latest', 'go1.21.3-bigcorp', ' v1.2.3', 'vv1.2.3']) {
    assert.equal(goScheme.valid(v), false, JSON.stringify(v));
    assert.throws(
      () => goScheme.compare(v, 'v1.0.0'),
      (err: unknown) => err instanceof InvalidVersionError && err.version === v && err.scheme === 'golang',
    );
  }
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { InvalidVersionError } from './scheme.js';
import { compareNpmLoose, isValidNpmRange, npmLooseScheme, npmSatisfies, npmScheme } from './semver.js';

type Cmp = (a: string, b: string) => -1 | 0 | 1;

/** Assert a chain such as `a < b = c`, both ways round. */
function chain(cmp: Cmp, spec: string): void {
  const parts = spec.split(' ');
  for (let i = 1; i + 1 < parts.length; i += 2) {
    const [a, op, b] = [parts[i - 1] ?? '', parts[i] ?? '', parts[i + 1] ?? ''];
    const want = op === '<' ? -1 : op === '>' ? 1 : 0;
    assert.equal(cmp(a, b), want, `${a} ${op} ${b}`);
    assert.equal(cmp(b, a), -want || 0, `${b} vs ${a}`);
  }
}

test('npm strict: SemVer 2.0.0 precedence, build metadata ignored', () => {
  chain(npmScheme.compare, '1.0.0-alpha < 1.0.0-alpha.1 < 1.0.0-alpha.beta < 1.0.0-beta < 1.0.0-beta.2 < 1.0.0-beta.11 < 1.0.0-rc.1 < 1.0.0');
  chain(npmScheme.compare, '1.2.3+a = 1.2.3+b = 1.2.3 < 1.10.0');
  chain(npmScheme.compare, 'v1.2.3 = 1.2.3'); // node-semver strict tolerates a leading v
});

test('npm strict: lockfile junk is invalid; the loose scheme accepts it', () => {
  for (const v of ['=1.2.3', '1.2', '01.2.3', '1.2.3beta', '1.2.3-01', 'v 1.2.3', '', 'latest']) {
    assert.equal(npmScheme.valid(v), false, JSON.stringify(v));
    assert.throws(
      () => npmScheme.compare(v, '1.0.0'),
      (err: unknown) => err instanceof InvalidVersionError && err.version === v && err.scheme === 'npm',
    );
  }
  for (const v of ['=1.2.3', '01.2.3', '1.2.3beta', '1.2.3-01', 'v 1.2.3']) assert.equal(npmLooseScheme.valid(v), true, v);
  chain(compareNpmLoose, '=1.2.3 = v1.2.3 = 1.2.3');
  chain(compareNpmLoose, '1.2.3beta < 1.2.3');
  assert.throws(() => compareNpmLoose('1.2', '1.2.0'), InvalidVersionError);
});

test('npm ranges: node-semver satisfies, prerelease rules per mode', () => {
  assert.equal(npmSatisfies('1.2.4', '^1.2.3'), true);
  assert.equal(npmSatisfies('2.0.0', '^1.2.3'), false);
  assert.equal(npmSatisfies('1.2.4-beta', '^1.2.3'), false);
  assert.equal(npmSatisfies('1.2.4-beta', '^1.2.3', 'includePrerelease'), true);
  assert.equal(npmSatisfies('1.2.3-beta.2', '^1.2.3-beta.1'), true);
  assert.equal(npmSatisfies('1.5.0', '>=1.0.0 <2.0.0 || >=3.0.0'), true);
  assert.equal(npmSatisfies('1.2.3', ''), true);
  assert.equal(npmSatisfies('1.2.3', 'not a range'), false);
  assert.equal(isValidNpmRange('not a range'), false);
  assert.equal(isValidNpmRange('~1.2 || 2.x'), true);
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { debScheme, parseDebVersion } from './deb.js';
import { InvalidVersionError } from './scheme.js';

/** Assert a chain such as `a < b = c`, both ways round. */
function chain(spec: string): void {
  const parts = spec.split(' ');
  for (let i = 1; i + 1 < parts.length; i += 2) {
    const [a, op, b] = [parts[i - 1] ?? '', parts[i] ?? '', parts[i + 1] ?? ''];
    const want = op === '<' ? -1 : op === '>' ? 1 : 0;
    assert.equal(debScheme.compare(a, b), want, `${a} ${op} ${b}`);
    assert.equal(debScheme.compare(b, a), -want || 0, `${b} vs ${a}`);
  }
}

test('deb: ~ sorts before everything, even the end of the string', () => {
  chain('1.0~~ < 1.0~ < 1.0~rc1 < 1.0~rc2 < 1.0 < 1.0a < 1.0+b1 < 1.0.1');
  chain('1.0-1~bpo11+1 < 1.0-1 < 1.0-1+deb12u1 < 1.0-1.1');
  chain('2.30-21ubuntu1~18.04.9 < 2.30-21ubuntu1~18.04.10 < 2.30-21ubuntu1');
});

test('deb: letters sort before other characters, in ASCII order (upper case first)', () => {
  chain('1.0B < 1.0a < 1.0z < 1.0+ < 1.0.');
});

test('deb: epochs compare first, numerically', () => {
  chain('2.0 < 1:0.9 < 2:0.1 < 10:0.1');
  chain('0:1.0 = 1.0 = 00:1.0');
  chain('+1:2 = 1:2'); // dpkg reads the epoch with strtol
  chain('-0:2 = 2');
});

test('deb: the revision is after the last hyphen; a missing one equals 0', () => {
  assert.deepEqual(parseDebVersion('1:2.3-4-5'), { epoch: '1', upstream: '2.3-4', revision: '5' });
  assert.deepEqual(parseDebVersion('2.3'), { epoch: '', upstream: '2.3', revision: '' });
  chain('1.0 = 1.0-0 < 1.0-1');
  chain('1-2-2 < 1-2-3 < 1-3-1');
});

test('deb: numbers have no size limit and leading zeros do not count', () => {
  chain('1.2.3 = 01.02.03');
  chain('1.99999999999999999999 < 1.100000000000000000000');
  chain('9 < 10 < 0010.1');
});

test('deb: what dpkg only warns about is accepted', () => {
  for (const v of ['a', 'b1', '1.0_1', '1.0é', 'abc-def']) assert.equal(debScheme.valid(v), true, v);
  chain('a < b < b1');
});

test('deb: what dpkg rejects is invalid and compare throws InvalidVersionError', () => {
  for (const v of ['', ' ', '1.0 1', '1.0\t', ':1', 'a:1', '1a:1', '1:', '1.0-', '-1', '1:-1', '-1:1', '2147483648:1', '99999999999:1']) {
    assert.equal(debScheme.valid(v), false, JSON.stringify(v));
    assert.throws(
      () => debScheme.compare(v, '1.0'),
      (err: unknown) => err instanceof InvalidVersionError && err.version === v && err.scheme === 'deb' && err.code === 'INVALID_VERSION',
    );
    assert.throws(() => debScheme.compare('1.0', v), InvalidVersionError);
  }
  assert.equal(debScheme.valid('2147483647:1'), true);
});

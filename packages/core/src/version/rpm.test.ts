import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseRpmEvr, rpmScheme, rpmvercmp } from './rpm.js';
import { InvalidVersionError } from './scheme.js';

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

test('rpmvercmp: ~ sorts before the end, ^ after the end but before anything else', () => {
  chain(rpmvercmp, '1.0~~ < 1.0~ < 1.0~rc1 < 1.0~rc1^git1 < 1.0~rc2 < 1.0 < 1.0^ < 1.0^git1 < 1.0^git2 < 1.0.1');
  chain(rpmvercmp, '1.0^git1~pre < 1.0^git1 < 1.0^20160101 < 1.0.1');
});

test('rpmvercmp: digits beat letters, leftovers win, separators only separate', () => {
  chain(rpmvercmp, '1.0 < 1.0.a < 1.0.1');
  chain(rpmvercmp, '1.0 < 1.0a < 1.0aa < 1.0b');
  chain(rpmvercmp, 'A < a');
  chain(rpmvercmp, '1.0 = 1_0 = 1+0 = 1..0');
  chain(rpmvercmp, '10.0001 = 10.1 < 10.0039');
  chain(rpmvercmp, '1.99999999999999999999 < 1.100000000000000000000');
  chain(rpmvercmp, '1.el8_9 < 1.el8_10');
});

test('rpm EVR: epoch first (missing = 0), then version, then release after the last hyphen', () => {
  chain(rpmScheme.compare, '2.0 < 1:1.0 < 2:0.1');
  chain(rpmScheme.compare, '0:1.0-1 = 1.0-1 = :1.0-1 = 00:1.0-1');
  chain(rpmScheme.compare, '1.0-1 < 1.0-1.el8 < 1.0-2');
  chain(rpmScheme.compare, '0:3.10.0-229.el7 < 0:3.10.0-229.1.2.ael7b < 0:3.10.0-229.1.2.el7');
  assert.deepEqual(parseRpmEvr('1:1.0-rc1-2.el9'), { epoch: '1', version: '1.0-rc1', release: '2.el9' });
  assert.deepEqual(parseRpmEvr('a:1'), { epoch: '', version: 'a:1', release: null }); // not an epoch: rpm needs digits
});

test('rpm EVR: a missing release sorts before every release, like rpm.vercmp (documented choice)', () => {
  chain(rpmScheme.compare, '1.0 < 1.0- < 1.0-0 < 1.0-1');
  chain(rpmScheme.compare, '1.0 < 1.0-0.1.rc1');
  // rpmvercmp alone has no notion of a release: `1` vs `1-` is just `1` vs `1`
  assert.equal(rpmvercmp('1', '1-'), 0);
});

test('rpm: invalid input throws InvalidVersionError', () => {
  for (const v of ['', ' ', '1.0 -1', '1:', '-1', '1:-2', 'x\u0000']) {
    assert.equal(rpmScheme.valid(v), false, JSON.stringify(v));
    assert.throws(
      () => rpmScheme.compare('1.0', v),
      (err: unknown) => err instanceof InvalidVersionError && err.version === v && err.scheme === 'rpm',
    );
  }
  for (const v of ['1', 'a', '1.0-', '1.1.α', '+2-:']) assert.equal(rpmScheme.valid(v), true, v);
});

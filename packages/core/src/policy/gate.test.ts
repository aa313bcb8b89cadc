import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTallyError } from '../model/errors.js';
import { atLeast, evaluatePolicy, parseFailOn } from './gate.js';
import { parseIgnoreFile } from './ignore.js';
import { applySuppressions } from './suppress.js';
import { finding, lodash, lodashHigh, log4shell, opensslMedium, report } from './testdata/fixtures.js';

describe('policy gate', () => {
  it('ranks CRITICAL > HIGH > MEDIUM > LOW > NEGLIGIBLE > UNKNOWN', () => {
    assert.ok(atLeast('CRITICAL', 'HIGH'));
    assert.ok(atLeast('HIGH', 'HIGH'));
    assert.ok(!atLeast('MEDIUM', 'HIGH'));
    assert.ok(atLeast('NEGLIGIBLE', 'UNKNOWN'));
    assert.ok(!atLeast('UNKNOWN', 'NEGLIGIBLE'), 'unrated ranks lowest');
    assert.ok(atLeast('UNKNOWN', 'UNKNOWN'));
  });

  it('fails on findings at or above the threshold and counts them by severity', () => {
    const r = report();
    const high = evaluatePolicy(r, { failOn: 'HIGH' });
    assert.equal(high.failed, true);
    assert.deepEqual(high.bySeverity, { CRITICAL: 1, HIGH: 1, MEDIUM: 0, LOW: 0, NEGLIGIBLE: 0, UNKNOWN: 0 });
    assert.equal(high.message, 'policy failed: 2 findings at HIGH or above (1 CRITICAL, 1 HIGH)');
    assert.equal(evaluatePolicy(report([lodashHigh, opensslMedium]), { failOn: 'CRITICAL' }).failed, false);
    assert.equal(evaluatePolicy(report([lodashHigh, opensslMedium]), { failOn: 'CRITICAL' }).message, null);
    assert.equal(evaluatePolicy(r, {}).failed, false, 'no policy, no failure');
  });

  it('UNKNOWN fails only an UNKNOWN gate', () => {
    const unrated = report([finding(lodash, 'GHSA-xxxx-yyyy-zzzz', 'UNKNOWN')]);
    assert.equal(evaluatePolicy(unrated, { failOn: 'NEGLIGIBLE' }).failed, false);
    assert.equal(evaluatePolicy(unrated, { failOn: 'UNKNOWN' }).message, 'policy failed: 1 finding at UNKNOWN or above (1 UNKNOWN)');
  });

  it('--fail-on-kev fails on a KEV finding whatever its severity', () => {
    const r = report([lodashHigh, log4shell]);
    const kev = evaluatePolicy(r, { failOnKev: true });
    assert.equal(kev.failed, true);
    assert.equal(kev.kev, 1);
    assert.equal(kev.message, 'policy failed: 1 finding in CISA KEV');
    assert.equal(evaluatePolicy(report([lodashHigh]), { failOnKev: true }).failed, false);
    assert.equal(evaluatePolicy(r, { failOn: 'CRITICAL', failOnKev: true }).message, 'policy failed: 1 finding at CRITICAL or above (1 CRITICAL); 1 finding in CISA KEV');
  });

  it('only findings left after ignores count, and the message says how many were set aside', () => {
    const ignores = parseIgnoreFile('vulnerabilities:\n  - id: CVE-2021-44228\n', 'i.yaml');
    const r = applySuppressions(report(), { ignores: [ignores], vex: [] });
    assert.equal(evaluatePolicy(r, { failOnKev: true }).failed, false);
    assert.equal(evaluatePolicy(r, { failOn: 'HIGH' }).message, 'policy failed: 1 finding at HIGH or above (1 HIGH); 1 suppressed by ignores/VEX not counted');
  });

  it('parses --fail-on in any case and refuses other words', () => {
    assert.equal(parseFailOn('high'), 'HIGH');
    assert.equal(parseFailOn('Critical'), 'CRITICAL');
    assert.throws(() => parseFailOn('SEVERE'), (e: unknown) => isTallyError(e) && e.code === 'USAGE' && /expected one of CRITICAL, HIGH/.test(e.message));
  });
});

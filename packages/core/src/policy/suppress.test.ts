import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateReport } from '../testing/report-schema.js';
import { parseIgnoreFile } from './ignore.js';
import { applySuppressions } from './suppress.js';
import { lodashHigh, log4shell, MANIFEST_DIGEST, opensslMedium, report } from './testdata/fixtures.js';
import { parseOpenVex } from './vex.js';

const NOW = new Date('2026-06-15T12:00:00Z');

const vexDoc = (statements: unknown[]) =>
  parseOpenVex(JSON.stringify({ '@context': 'https://openvex.dev/ns/v0.2.0', '@id': 'https://vex.example.com/d1', author: 'x', timestamp: '2026-03-01T00:00:00Z', version: 1, statements }), 'app.vex.json');

describe('applying ignores and VEX to a report', () => {
  it('moves covered findings to `suppressed`, says by what, and recounts', () => {
    const ignores = parseIgnoreFile(
      'vulnerabilities:\n  - id: CVE-2023-5678\n    reason: fixed by our patched base\n    expires: 2026-12-31\n  - id: GHSA-35jh-r3h4-6jhm\n    expires: 2026-01-31\n    reason: waiting for upstream\n',
      '.tallyignore.yaml',
    );
    const vex = vexDoc([
      { vulnerability: { name: 'CVE-2021-44228' }, products: [{ '@id': `pkg:oci/app@${MANIFEST_DIGEST}` }], status: 'not_affected', justification: 'vulnerable_code_not_present' },
    ]);
    const out = applySuppressions(report(), { ignores: [ignores], vex: [vex], now: NOW });
    validateReport(out);
    assert.deepEqual(out.vulnerabilities?.map((f) => f.id), ['CVE-2021-23337'], 'the lodash ignore expired in January');
    assert.deepEqual(out.summary.vulnerabilities, { CRITICAL: 0, HIGH: 1, MEDIUM: 0, LOW: 0, NEGLIGIBLE: 0, UNKNOWN: 0 });
    assert.equal(out.suppressed?.length, 2);
    const [byVex, byIgnore] = [out.suppressed!.find((s) => s.by === 'vex')!, out.suppressed!.find((s) => s.by === 'ignore')!];
    assert.deepEqual(byVex.finding, log4shell);
    assert.equal(byVex.source, 'app.vex.json');
    assert.equal(byVex.rule, 'statements[0]');
    assert.equal(byVex.line, null);
    assert.equal(byVex.reason, 'vulnerable_code_not_present', 'no impact statement: the justification');
    assert.equal(byVex.vex?.documentId, 'https://vex.example.com/d1');
    assert.deepEqual(byIgnore, { finding: opensslMedium, by: 'ignore', source: '.tallyignore.yaml', rule: 'vulnerabilities[0]', line: 2, reason: 'fixed by our patched base', expires: '2026-12-31' });
    assert.deepEqual(out.expiredIgnores, [
      { source: '.tallyignore.yaml', rule: 'vulnerabilities[1]', line: 5, expires: '2026-01-31', reason: 'waiting for upstream', entry: { id: 'GHSA-35jh-r3h4-6jhm' }, matches: 1 },
    ]);
  });

  it('a VEX statement wins over an ignore entry for the same finding', () => {
    const ignores = parseIgnoreFile('packages:\n  - purl: pkg:npm/lodash\n', 'i.yaml');
    const vex = vexDoc([{ vulnerability: { name: 'CVE-2021-23337' }, products: [{ '@id': 'pkg:npm/lodash@4.17.20' }], status: 'fixed', status_notes: 'backported' }]);
    const out = applySuppressions(report([lodashHigh]), { ignores: [ignores], vex: [vex], now: NOW });
    assert.equal(out.suppressed?.[0]?.by, 'vex');
    assert.equal(out.suppressed?.[0]?.reason, 'backported');
  });

  it('affected and under_investigation keep the finding and attach the statement', () => {
    const vex = vexDoc([{ vulnerability: { name: 'CVE-2021-23337' }, products: [{ '@id': 'pkg:npm/lodash' }], status: 'affected', action_statement: 'upgrade lodash to 4.17.21' }]);
    const out = applySuppressions(report([lodashHigh]), { ignores: [], vex: [vex], now: NOW });
    validateReport(out);
    assert.equal(out.vulnerabilities?.length, 1);
    assert.equal(out.vulnerabilities?.[0]?.vex?.status, 'affected');
    assert.equal(out.vulnerabilities?.[0]?.vex?.actionStatement, 'upgrade lodash to 4.17.21');
    assert.deepEqual(out.suppressed, []);
    assert.deepEqual(out.expiredIgnores, []);
  });

  it('an ignored finding that a VEX statement calls affected keeps the statement in the suppression', () => {
    const vex = vexDoc([{ vulnerability: { name: 'CVE-2021-23337' }, products: [{ '@id': 'pkg:npm/lodash' }], status: 'under_investigation' }]);
    const ignores = parseIgnoreFile('vulnerabilities:\n  - id: CVE-2021-23337\n', 'i.yaml');
    const out = applySuppressions(report([lodashHigh]), { ignores: [ignores], vex: [vex], now: NOW });
    assert.equal(out.suppressed?.[0]?.by, 'ignore');
    assert.equal(out.suppressed?.[0]?.finding.vex?.status, 'under_investigation');
  });

  it('leaves a report alone when there is nothing to apply or nothing matched', () => {
    const r = report();
    assert.equal(applySuppressions(r, { ignores: [], vex: [] }), r);
    const { vulnerabilities: _, ...inventoryOnly } = r;
    const ignores = parseIgnoreFile('vulnerabilities:\n  - id: CVE-1\n', 'i.yaml');
    assert.equal(applySuppressions(inventoryOnly, { ignores: [ignores], vex: [] }), inventoryOnly);
  });

  it('the first active ignore entry in file order is cited', () => {
    const a = parseIgnoreFile('packages:\n  - name: openssl\n    reason: first\n', 'a.yaml');
    const b = parseIgnoreFile('vulnerabilities:\n  - id: CVE-2023-5678\n    reason: second\n', 'b.yaml');
    const out = applySuppressions(report([opensslMedium]), { ignores: [a, b], vex: [], now: NOW });
    assert.equal(out.suppressed?.[0]?.reason, 'first');
    assert.equal(out.suppressed?.[0]?.source, 'a.yaml');
  });
});

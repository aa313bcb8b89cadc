import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildSarif } from '../report/sarif.js';
import { validateSarif } from '../testing/sbom-schemas.js';
import { parseIgnoreFile } from './ignore.js';
import { applySuppressions } from './suppress.js';
import { report } from './testdata/fixtures.js';

/**
 * Suppressed findings are left out of SARIF rather than emitted with a SARIF `suppressions` entry: GitHub code
 * scanning, which the SARIF output is shaped for, does not honour `suppressions` by default and would open an
 * alert for every ignored finding (github/codeql-action#1230; projects strip suppressed results before upload).
 */
describe('suppressed findings in SARIF', () => {
  it('are absent; the others are there', () => {
    const ignores = parseIgnoreFile('vulnerabilities:\n  - id: CVE-2023-5678\n', '.tallyignore.yaml');
    const sarif = buildSarif(applySuppressions(report(), { ignores: [ignores], vex: [] }));
    validateSarif(sarif);
    assert.deepEqual(sarif.runs[0]!.results!.map((r) => r.ruleId).sort(), ['CVE-2021-23337', 'CVE-2021-44228']);
    assert.ok(!sarif.runs[0]!.tool.driver.rules!.some((r) => r.id === 'CVE-2023-5678'), 'no rule for it either');
  });
});

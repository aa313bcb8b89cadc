import { TallyError } from '../model/errors.js';
import { SEVERITIES, type ScanReport, type Severity } from '../model/report.js';

/**
 * The policy gate of `tally scan --fail-on SEVERITY --fail-on-kev`. Severities rank
 * CRITICAL > HIGH > MEDIUM > LOW > NEGLIGIBLE > UNKNOWN: `--fail-on X` fails on a finding rated X or worse.
 * UNKNOWN (no source rated it yet) ranks lowest, as in Grype, so a HIGH gate is not failed by an advisory nobody
 * has scored, and `--fail-on UNKNOWN` means "any finding at all". `--fail-on-kev` fails on any finding in CISA's
 * Known Exploited Vulnerabilities catalogue whatever its severity. Only the findings left in the report count:
 * after --severity/--ignore-unfixed/--scan-type, ignores and VEX.
 */
export interface Policy {
  readonly failOn?: Severity;
  readonly failOnKev?: boolean;
}

export interface PolicyResult {
  readonly failed: boolean;
  /** Findings at or above `failOn`, by severity (all zero without `failOn`). */
  readonly bySeverity: Readonly<Record<Severity, number>>;
  /** Findings in KEV (counted only with `failOnKev`). */
  readonly kev: number;
  /** One line saying why the gate failed; null when it passed. */
  readonly message: string | null;
}

const RANK: Readonly<Record<Severity, number>> = Object.fromEntries(SEVERITIES.map((s, i) => [s, i])) as Record<Severity, number>;

/** Whether `severity` is `threshold` or worse. */
export function atLeast(severity: Severity, threshold: Severity): boolean {
  return RANK[severity] <= RANK[threshold];
}

export function parseFailOn(text: string): Severity {
  const hit = SEVERITIES.find((s) => s === text.trim().toUpperCase());
  if (!hit) throw new TallyError('USAGE', `--fail-on ${JSON.stringify(text)}: expected one of ${SEVERITIES.join(', ')}`);
  return hit;
}

export function evaluatePolicy(report: ScanReport, policy: Policy): PolicyResult {
  const findings = report.vulnerabilities ?? [];
  const bySeverity = Object.fromEntries(SEVERITIES.map((s) => [s, 0])) as Record<Severity, number>;
  let over = 0;
  if (policy.failOn) {
    for (const f of findings) {
      if (atLeast(f.severity, policy.failOn)) {
        bySeverity[f.severity]++;
        over++;
      }
    }
  }
  const kev = policy.failOnKev ? findings.filter((f) => f.kev).length : 0;
  const reasons: string[] = [];
  if (over > 0) {
    const counts = SEVERITIES.filter((s) => bySeverity[s] > 0).map((s) => `${bySeverity[s]} ${s}`);
    reasons.push(`${over} ${over === 1 ? 'finding' : 'findings'} at ${policy.failOn} or above (${counts.join(', ')})`);
  }
  if (kev > 0) reasons.push(`${kev} ${kev === 1 ? 'finding' : 'findings'} in CISA KEV`);
  const suppressed = report.suppressed?.length ?? 0;
  const tail = suppressed > 0 ? `; ${suppressed} suppressed by ignores/VEX not counted` : '';
  return { failed: reasons.length > 0, bySeverity, kev, message: reasons.length > 0 ? `policy failed: ${reasons.join('; ')}${tail}` : null };
}

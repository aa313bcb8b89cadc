import { severityCounts } from '../evaluate.js';
import type { ExpiredIgnore, Finding, ScanReport, Suppression } from '../model/report.js';
import { ignoreRuleMatches, isExpired, type IgnoreFile } from './ignore.js';
import { decidingStatement, vexSubject, type VexDocument } from './vex.js';

export interface SuppressionInput {
  readonly ignores: readonly IgnoreFile[];
  readonly vex: readonly VexDocument[];
  /** The moment ignore expiries are judged at; tests pin it. */
  readonly now?: Date;
}

/**
 * Take the findings that VEX statements (`not_affected`, `fixed`) and unexpired ignore entries cover out of
 * `vulnerabilities` and its counts, and list each in `suppressed` with the rule that took it out; list the expired
 * ignore entries in `expiredIgnores`. VEX is consulted first: a supplier's statement is the more specific fact,
 * and the report should cite it rather than a local ignore that happens to cover the same finding. A finding kept
 * despite a VEX statement (`affected`, `under_investigation`) carries that statement in `vex`.
 *
 * A report without `vulnerabilities` (not matched) is returned as it is: there is nothing to suppress. Without
 * ignore files and VEX documents, too: `suppressed` is only present when something could have been suppressed.
 */
export function applySuppressions(report: ScanReport, input: SuppressionInput): ScanReport {
  if (!report.vulnerabilities || (input.ignores.length === 0 && input.vex.length === 0)) return report;
  const now = input.now ?? new Date();
  const packages = new Map(report.packages.map((p) => [p.id, p]));
  const subject = vexSubject(report.image, report.packages);
  const rules = input.ignores.flatMap((f) => f.rules);
  const active = rules.filter((r) => !isExpired(r, now));

  const kept: Finding[] = [];
  const suppressed: Suppression[] = [];
  for (const f of report.vulnerabilities) {
    const statement = input.vex.length > 0 ? decidingStatement(input.vex, f, subject) : null;
    if (statement && (statement.ref.status === 'not_affected' || statement.ref.status === 'fixed')) {
      const ref = statement.ref;
      suppressed.push({ finding: f, by: 'vex', source: ref.source, rule: ref.rule, line: null, reason: ref.impactStatement ?? ref.justification ?? ref.statusNotes, vex: ref });
      continue;
    }
    const finding: Finding = statement ? { ...f, vex: statement.ref } : f;
    const rule = active.find((r) => ignoreRuleMatches(r, f, packages.get(f.packageId)));
    if (rule) {
      suppressed.push({
        finding,
        by: 'ignore',
        source: rule.source,
        rule: rule.rule,
        line: rule.line,
        reason: rule.reason,
        ...(rule.expires ? { expires: rule.expires.text } : {}),
      });
      continue;
    }
    kept.push(finding);
  }

  const all = report.vulnerabilities;
  const expiredIgnores: ExpiredIgnore[] = rules
    .filter((r) => isExpired(r, now))
    .map((r) => ({
      source: r.source,
      rule: r.rule,
      line: r.line,
      expires: r.expires!.text,
      reason: r.reason,
      entry: r.entry,
      matches: all.filter((f) => ignoreRuleMatches(r, f, packages.get(f.packageId))).length,
    }));

  return { ...report, vulnerabilities: kept, suppressed, expiredIgnores, summary: { ...report.summary, vulnerabilities: severityCounts(kept) } };
}

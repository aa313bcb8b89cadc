/** Severity as a coloured label (the colour repeats the word, it never replaces it). */
import { SEVERITIES, type SeverityCounts as Counts, type Severity } from '../api/types';

function known(s: string): Severity {
  return (SEVERITIES as readonly string[]).includes(s) ? (s as Severity) : 'UNKNOWN';
}

export function SeverityBadge({ severity }: { severity: string }) {
  const s = known(severity);
  return <span className={`sev sev-${s}`}>{severity}</span>;
}

const SHORT: Record<Severity, string> = { CRITICAL: 'C', HIGH: 'H', MEDIUM: 'M', LOW: 'L', NEGLIGIBLE: 'N', UNKNOWN: 'U' };

/** Compact counts (C 2 · H 5 …) for table cells; zero counts are dimmed, the full words are in the label. */
export function SeverityCounts({ counts, total }: { counts: Counts; total: number }) {
  const label = `${total} vulnerabilities: ${SEVERITIES.map((s) => `${counts[s]} ${s.toLowerCase()}`).join(', ')}`;
  return (
    <span className="sev-counts" aria-label={label} title={label}>
      {SEVERITIES.filter((s) => s !== 'UNKNOWN' || counts.UNKNOWN > 0).map((s) => (
        <span key={s} className={`sev-count sev-${s}${counts[s] === 0 ? ' is-zero' : ''}`} aria-hidden="true">
          {SHORT[s]} {counts[s]}
        </span>
      ))}
    </span>
  );
}

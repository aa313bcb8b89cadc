/** The share of each severity among an image's vulnerabilities, as an SVG ring with a legend in words. */
import { useId } from 'react';
import { SEVERITIES, type VulnCounts } from '../api/types';

const R = 40;
const STROKE = 16;
const C = 2 * Math.PI * R;

export function SeverityDonut({ counts, title }: { counts: VulnCounts; title: string }) {
  const titleId = useId();
  let offset = 0;
  const present = SEVERITIES.filter((s) => counts.bySeverity[s] > 0);
  const description = counts.total === 0 ? 'no vulnerabilities' : present.map((s) => `${counts.bySeverity[s]} ${s.toLowerCase()}`).join(', ');
  return (
    <figure className="chart donut">
      <figcaption id={titleId}>{title}</figcaption>
      <div className="donut-body">
        <svg viewBox="0 0 120 120" width="160" height="160" role="img" aria-labelledby={titleId} aria-describedby={`${titleId}-d`}>
          <desc id={`${titleId}-d`}>{description}</desc>
          <circle cx={60} cy={60} r={R} strokeWidth={STROKE} className="donut-track" fill="none" />
          {counts.total > 0 &&
            present.map((s) => {
              const len = (counts.bySeverity[s] / counts.total) * C;
              const seg = (
                <circle
                  key={s}
                  cx={60}
                  cy={60}
                  r={R}
                  fill="none"
                  strokeWidth={STROKE}
                  strokeDasharray={`${len} ${C - len}`}
                  strokeDashoffset={-offset}
                  transform="rotate(-90 60 60)"
                  className={`stroke-${s}`}
                />
              );
              offset += len;
              return seg;
            })}
          <text x={60} y={58} textAnchor="middle" className="donut-total">
            {counts.total}
          </text>
          <text x={60} y={74} textAnchor="middle" className="donut-caption">
            total
          </text>
        </svg>
        <ul className="legend">
          {SEVERITIES.map((s) => (
            <li key={s} className={counts.bySeverity[s] === 0 ? 'is-zero' : undefined}>
              <span className={`swatch bg-${s}`} aria-hidden="true" />
              {s.charAt(0) + s.slice(1).toLowerCase()}: {counts.bySeverity[s]}
            </li>
          ))}
        </ul>
      </div>
    </figure>
  );
}

/**
 * Vulnerabilities introduced per layer as horizontal stacked bars (one row per layer: long histories stay readable
 * on a phone). Each bar is a button: choosing it selects the layer, like clicking its row in the table.
 * Drawn with SVG attributes only (no style attributes: the CSP allows no inline styles); colours come from CSS.
 */
import { useId, type KeyboardEvent } from 'react';
import { useWidth } from './useWidth';
import { SEVERITIES, type LayerItem } from '../api/types';

export interface LayerBarChartProps {
  readonly layers: readonly LayerItem[];
  readonly selected: number | null;
  readonly onSelect: (index: number) => void;
}

const LABEL = 40;
const COUNT = 48;
const ROW = 26;
const BAR = 16;

export function LayerBarChart({ layers, selected, onSelect }: LayerBarChartProps) {
  const titleId = useId();
  // One SVG unit per CSS pixel, so labels keep their size on a phone instead of shrinking with the drawing.
  const [boxRef, width] = useWidth<HTMLDivElement>(640);
  const max = Math.max(1, ...layers.map((l) => l.vulnerabilities.total));
  const span = Math.max(40, width - LABEL - COUNT);
  const height = layers.length * ROW + 4;
  const activate = (e: KeyboardEvent, index: number) => {
    if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      onSelect(index);
    }
  };
  return (
    <figure className="chart">
      <figcaption id={titleId}>Vulnerabilities introduced by each layer</figcaption>
      <div ref={boxRef} className="chart-box">
        <svg viewBox={`0 0 ${width} ${height}`} width={width} height={height} role="group" aria-labelledby={titleId} className="bar-chart">
          {layers.map((l, row) => {
            const y = row * ROW + 4;
            let x = LABEL;
            const parts = SEVERITIES.map((s) => {
              const w = (l.vulnerabilities.bySeverity[s] / max) * span;
              const rect = w > 0 ? <rect key={s} x={x} y={y} width={w} height={BAR} className={`fill-${s}`} /> : null;
              x += w;
              return rect;
            });
            const summary = SEVERITIES.filter((s) => l.vulnerabilities.bySeverity[s] > 0)
              .map((s) => `${l.vulnerabilities.bySeverity[s]} ${s.toLowerCase()}`)
              .join(', ');
            const label = `Layer ${l.index}: ${l.vulnerabilities.total} vulnerabilities${summary ? ` (${summary})` : ''}`;
            return (
              <g
                key={l.index}
                role="button"
                tabIndex={0}
                aria-label={label}
                aria-pressed={selected === l.index}
                className={`bar-row${selected === l.index ? ' is-selected' : ''}`}
                onClick={() => onSelect(l.index)}
                onKeyDown={(e) => activate(e, l.index)}
              >
                <title>{label}</title>
                <rect x={0} y={y - 4} width={width} height={ROW} className="bar-hit" />
                <text x={4} y={y + BAR - 3} className="bar-label">
                  L{l.index}
                </text>
                <rect x={LABEL} y={y} width={span} height={BAR} className="bar-track" />
                {parts}
                <text x={width - 4} y={y + BAR - 3} textAnchor="end" className="bar-count">
                  {l.vulnerabilities.total}
                </text>
              </g>
            );
          })}
        </svg>
      </div>
    </figure>
  );
}

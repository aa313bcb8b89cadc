/** Toggle buttons that add or remove `field:value` words in the search (scan type, for instance). */
import { hasTerm, toggleTerm } from '../lib/query';

export interface QuickFiltersProps {
  readonly label: string;
  readonly field: string;
  readonly values: readonly string[];
  readonly q: string;
  readonly onChange: (q: string) => void;
}

export function QuickFilters({ label, field, values, q, onChange }: QuickFiltersProps) {
  return (
    <div className="quick-filters" role="group" aria-label={label}>
      <span className="quick-label" aria-hidden="true">
        {label}:
      </span>
      {values.map((v) => {
        const on = hasTerm(q, field, v);
        return (
          <button key={v} type="button" className={`chip${on ? ' is-on' : ''}`} aria-pressed={on} onClick={() => onChange(toggleTerm(q, field, v))}>
            {v}
          </button>
        );
      })}
    </div>
  );
}

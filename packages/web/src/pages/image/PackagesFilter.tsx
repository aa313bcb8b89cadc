/** The Packages filter: All / OS / Non-OS (language packages), as native radio buttons (arrow keys for free). */
import { useId } from 'react';

export type PackagesScope = 'all' | 'os' | 'non-os';

const OPTIONS: readonly { value: PackagesScope; label: string }[] = [
  { value: 'all', label: 'All' },
  { value: 'os', label: 'OS' },
  { value: 'non-os', label: 'Non-OS' },
];

export function parseScope(v: string | null): PackagesScope {
  return v === 'os' || v === 'non-os' ? v : 'all';
}

export interface PackagesFilterProps {
  readonly value: PackagesScope;
  readonly counts: Readonly<Record<PackagesScope, number | undefined>>;
  readonly onChange: (v: PackagesScope) => void;
}

export function PackagesFilter({ value, counts, onChange }: PackagesFilterProps) {
  const name = useId();
  return (
    <fieldset className="segmented">
      <legend>Packages</legend>
      {OPTIONS.map((o) => (
        <label key={o.value} className={value === o.value ? 'is-on' : undefined}>
          <input type="radio" name={name} value={o.value} checked={value === o.value} onChange={() => onChange(o.value)} />
          {o.label}
          <span className="count" data-scope={o.value}>
            {counts[o.value] === undefined ? '' : ` (${counts[o.value]?.toLocaleString('en') ?? ''})`}
          </span>
        </label>
      ))}
    </fieldset>
  );
}

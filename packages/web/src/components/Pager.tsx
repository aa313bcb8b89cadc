/** Paging controls for a server-paged list: the range shown, previous/next, and the page size. */
import { useId } from 'react';
import { PAGE_SIZES } from '../lib/useListParams';

export interface PagerProps {
  readonly total: number;
  readonly page: number;
  readonly limit: number;
  readonly noun: string;
  readonly onPage: (page: number) => void;
  readonly onLimit: (limit: number) => void;
}

export function Pager({ total, page, limit, noun, onPage, onLimit }: PagerProps) {
  const id = useId();
  const pages = Math.max(1, Math.ceil(total / limit));
  const first = total === 0 ? 0 : (page - 1) * limit + 1;
  const last = Math.min(total, page * limit);
  return (
    <nav className="pager" aria-label={`Pages of ${noun}`}>
      <p className="pager-range" aria-live="polite">
        {total === 0
          ? `No ${noun}`
          : first > total
            ? `Page ${page} is past the end of the ${total.toLocaleString('en')} ${noun}`
            : `${first.toLocaleString('en')}–${last.toLocaleString('en')} of ${total.toLocaleString('en')} ${noun}`}
      </p>
      <div className="pager-controls">
        <button type="button" className="button" onClick={() => onPage(Math.min(page - 1, pages))} disabled={page <= 1}>
          ‹ Previous
        </button>
        <span className="pager-page">
          Page {Math.min(page, pages)} of {pages}
        </span>
        <button type="button" className="button" onClick={() => onPage(page + 1)} disabled={page >= pages}>
          Next ›
        </button>
        <label htmlFor={id} className="pager-size-label">
          Per page
        </label>
        <select id={id} value={limit} onChange={(e) => onLimit(Number(e.target.value))}>
          {PAGE_SIZES.map((n) => (
            <option key={n} value={n}>
              {n}
            </option>
          ))}
        </select>
      </div>
    </nav>
  );
}

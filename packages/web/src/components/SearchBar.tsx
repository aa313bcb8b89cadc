/**
 * The search box for the backend's query language. It submits on Enter (one request per search, not per key), and
 * shows a refused search with the parser's own message and a caret under the column it points at.
 */
import { useEffect, useId, useRef, useState, type FormEvent, type ReactNode } from 'react';
import type { ApiFailure } from '../api/client';

export interface SearchBarProps {
  readonly label: string;
  /** The search in effect (from the URL). */
  readonly value: string;
  readonly onSearch: (q: string) => void;
  readonly placeholder?: string;
  /** The server refused the search (code QUERY_SYNTAX), or null. */
  readonly syntaxError?: ApiFailure | null | undefined;
  /** How many characters the server's copy of the search was shifted right of the user's (a layer filter). */
  readonly columnShift?: number;
  readonly examples?: readonly string[];
  readonly children?: ReactNode;
}

/** UTF-16 index of a 1-based code-point column (the parser counts code points; JS strings count UTF-16 units). */
function indexOfColumn(text: string, column: number): number {
  return Array.from(text)
    .slice(0, Math.max(0, column - 1))
    .join('').length;
}

export function SearchBar({ label, value, onSearch, placeholder, syntaxError, columnShift = 0, examples = [], children }: SearchBarProps) {
  const [draft, setDraft] = useState(value);
  const inputRef = useRef<HTMLInputElement>(null);
  const id = useId();
  const errorId = `${id}-error`;
  const helpId = `${id}-help`;

  // The URL changed (Back, a quick filter, a link): show the search in effect.
  useEffect(() => setDraft(value), [value]);

  const column = syntaxError?.column === undefined ? undefined : Math.max(1, syntaxError.column - columnShift);

  // Put the text cursor where the parser stopped, so fixing the search starts there.
  useEffect(() => {
    const input = inputRef.current;
    if (column === undefined || input === null) return;
    const at = indexOfColumn(value, column);
    input.focus();
    input.setSelectionRange(at, Math.min(value.length, at + 1));
  }, [column, value]);

  const submit = (e: FormEvent) => {
    e.preventDefault();
    onSearch(draft);
  };

  const describedBy = [syntaxError ? errorId : '', examples.length > 0 ? helpId : ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className="search">
      <form role="search" onSubmit={submit} className="search-form">
        <label htmlFor={`${id}-input`} className="search-label">
          {label}
        </label>
        <div className="search-row">
          <input
            ref={inputRef}
            id={`${id}-input`}
            type="search"
            name="q"
            value={draft}
            onChange={(e) => setDraft(e.target.value)}
            placeholder={placeholder}
            spellCheck={false}
            autoCapitalize="off"
            autoComplete="off"
            aria-invalid={syntaxError ? true : undefined}
            aria-describedby={describedBy}
            className="search-input"
          />
          <button type="submit" className="button primary">
            Search
          </button>
          {value !== '' && (
            <button type="button" className="button" onClick={() => onSearch('')}>
              Clear
            </button>
          )}
        </div>
      </form>
      {children}
      {examples.length > 0 && (
        <p id={helpId} className="search-help">
          Examples:{' '}
          {examples.map((ex, i) => (
            <span key={ex}>
              {i > 0 && ', '}
              <button type="button" className="link-button code" onClick={() => onSearch(ex)}>
                {ex}
              </button>
            </span>
          ))}
        </p>
      )}
      {syntaxError && <QuerySyntaxMessage id={errorId} query={value} error={syntaxError} column={column} />}
    </div>
  );
}

function QuerySyntaxMessage({ id, query, error, column }: { id: string; query: string; error: ApiFailure; column: number | undefined }) {
  const at = column === undefined ? -1 : indexOfColumn(query, column);
  return (
    <div id={id} className="query-error" role="alert">
      <p>
        <strong>The search was not understood.</strong> {error.message.replace(/^invalid search: /, '')}
      </p>
      {column !== undefined && (
        <pre className="query-caret" aria-label={`The problem is at column ${column} of the search.`}>
          <code>
            {query}
            {'\n'}
            {' '.repeat(Math.max(0, Array.from(query.slice(0, at)).length))}^ column {column}
          </code>
        </pre>
      )}
    </div>
  );
}

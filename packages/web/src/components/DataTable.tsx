/**
 * A server-sorted, server-paged table. Keyboard: the body rows form one tab stop (roving tabindex); Up/Down,
 * Home/End and PageUp/PageDown move between rows, Enter opens the row's page. Header sort buttons carry
 * aria-sort. At phone width the CSS turns each row into a card, labelled by the header text (data-label).
 */
import { useCallback, useMemo, useRef, useState, type KeyboardEvent } from 'react';
import { useNavigate } from 'react-router';
import { functionalUpdate, useTable, type Header, type RowData, type SortingState, type Updater } from '@tanstack/react-table';
import { features, type Columns, type Features } from './table';

export interface DataTableProps<T extends RowData> {
  /** Accessible name of the table (a visually hidden caption). */
  readonly label: string;
  readonly columns: Columns<T>;
  readonly rows: readonly T[];
  /** A key unique within the page (the index is given for rows the API does not identify). */
  readonly rowKey: (row: T, index: number) => string;
  /** The server's sort parameter: `field` or `-field`. */
  readonly sort?: string;
  readonly onSort?: (sort: string) => void;
  /** Where Enter on a focused row goes. */
  readonly rowHref?: (row: T) => string | undefined;
  /** What a click on the row, or Enter on it, does when the row is not a link (select a layer). */
  readonly onActivate?: (row: T) => void;
  readonly rowClassName?: (row: T) => string | undefined;
  /** Rows are being replaced (a new page or search is loading). */
  readonly busy?: boolean;
}

const NO_SORT: SortingState = [];

function toSorting(sort: string | undefined): SortingState {
  if (sort === undefined || sort === '') return NO_SORT;
  return sort.startsWith('-') ? [{ id: sort.slice(1), desc: true }] : [{ id: sort, desc: false }];
}

function headerText<T extends RowData>(header: Header<Features, T>): string {
  const h = header.column.columnDef.header;
  return typeof h === 'string' ? h : header.column.id;
}

export function DataTable<T extends RowData>({ label, columns, rows, rowKey, sort, onSort, rowHref, onActivate, rowClassName, busy = false }: DataTableProps<T>) {
  const sorting = useMemo(() => toSorting(sort), [sort]);
  const onSortingChange = useCallback(
    (updater: Updater<SortingState>) => {
      const next = functionalUpdate(updater, sorting)[0];
      if (next !== undefined) onSort?.(`${next.desc ? '-' : ''}${next.id}`);
    },
    [onSort, sorting],
  );
  // `rows` must keep its identity between renders (it is the fetched page's array): a new array would make the
  // table rebuild its row model on every render.
  const table = useTable({
    features,
    columns,
    data: rows,
    getRowId: rowKey,
    manualSorting: true,
    enableMultiSort: false,
    enableSortingRemoval: false,
    enableSorting: onSort !== undefined,
    state: { sorting },
    onSortingChange,
  });

  const navigate = useNavigate();
  const [focusIndex, setFocusIndex] = useState(0);
  const bodyRef = useRef<HTMLTableSectionElement>(null);
  const rowModel = table.getRowModel().rows;
  const activeIndex = Math.min(focusIndex, Math.max(0, rowModel.length - 1));

  const focusRow = (i: number) => {
    const target = Math.max(0, Math.min(rowModel.length - 1, i));
    setFocusIndex(target);
    const el = bodyRef.current?.querySelectorAll<HTMLTableRowElement>(':scope > tr')[target];
    el?.focus();
  };

  const onKeyDown = (e: KeyboardEvent<HTMLTableRowElement>, index: number, row: T) => {
    // Keys pressed on a link or button inside the row keep their own meaning.
    if (e.target !== e.currentTarget) return;
    const keys: Record<string, () => void> = {
      ArrowDown: () => focusRow(index + 1),
      ArrowUp: () => focusRow(index - 1),
      Home: () => focusRow(0),
      End: () => focusRow(rowModel.length - 1),
      PageDown: () => focusRow(index + 10),
      PageUp: () => focusRow(index - 10),
      Enter: () => {
        const href = rowHref?.(row);
        if (href !== undefined) void navigate(href);
        else onActivate?.(row);
      },
    };
    const action = keys[e.key];
    if (action !== undefined) {
      e.preventDefault();
      action();
    }
  };

  const headers = table.getHeaderGroups();
  return (
    <div className="table-wrap" aria-busy={busy}>
      <table className={`data-table${busy ? ' is-busy' : ''}`}>
        <caption className="visually-hidden">{label}</caption>
        <thead>
          {headers.map((group) => (
            <tr key={group.id}>
              {group.headers.map((header) => {
                const sorted = header.column.getIsSorted();
                const canSort = header.column.getCanSort();
                const className = header.column.columnDef.meta?.className;
                return (
                  <th
                    key={header.id}
                    scope="col"
                    className={className}
                    aria-sort={sorted === 'asc' ? 'ascending' : sorted === 'desc' ? 'descending' : canSort ? 'none' : undefined}
                  >
                    {header.isPlaceholder ? null : canSort ? (
                      <button type="button" className="sort-button" onClick={header.column.getToggleSortingHandler()}>
                        <table.FlexRender header={header} />
                        <span className="sort-mark" aria-hidden="true">
                          {sorted === 'asc' ? '▲' : sorted === 'desc' ? '▼' : '↕'}
                        </span>
                      </button>
                    ) : (
                      <table.FlexRender header={header} />
                    )}
                  </th>
                );
              })}
            </tr>
          ))}
        </thead>
        <tbody ref={bodyRef}>
          {rowModel.map((row, index) => (
            <tr
              key={row.id}
              tabIndex={index === activeIndex ? 0 : -1}
              className={rowClassName?.(row.original)}
              onKeyDown={(e) => onKeyDown(e, index, row.original)}
              onClick={
                onActivate === undefined
                  ? undefined
                  : (e) => {
                      // A click on a link or button inside the row is that control's, not the row's.
                      if (!(e.target instanceof Element) || e.target.closest('a, button') === null) onActivate(row.original);
                    }
              }
              onFocus={(e) => {
                if (e.target === e.currentTarget) setFocusIndex(index);
              }}
            >
              {row.getAllCells().map((cell, ci) => {
                const header = headers[headers.length - 1]?.headers[ci];
                return (
                  <td key={cell.id} className={cell.column.columnDef.meta?.className} data-label={header === undefined ? undefined : headerText(header)}>
                    <table.FlexRender cell={cell} />
                  </td>
                );
              })}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}


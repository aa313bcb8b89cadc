/**
 * What a list shows besides its rows: loading before the first page, an error in words (a search syntax error is
 * shown by the search bar instead), or an empty state that says whether the search or the data is empty.
 */
import type { ReactNode } from 'react';
import type { Resource } from '../api/useApi';
import type { Page } from '../api/types';
import { Empty, ErrorNotice, Loading } from './States';

export interface ListStatusProps<T> {
  readonly res: Resource<Page<T>>;
  readonly what: string;
  readonly searching: boolean;
  readonly emptyHint?: ReactNode;
}

export function ListStatus<T>({ res, what, searching, emptyHint }: ListStatusProps<T>) {
  if (res.error !== undefined && !res.error.isQuerySyntax) return <ErrorNotice error={res.error} what={what} />;
  if (res.data === undefined && res.loading) return <Loading what={what} />;
  if (res.current && res.data !== undefined && res.data.total === 0) {
    return <Empty>{searching ? `No ${what} match this search.` : (emptyHint ?? `No ${what} yet.`)}</Empty>;
  }
  return null;
}

/** The rows to draw: the current page, or the previous one while the next loads; none after an error. */
export function visibleRows<T>(res: Resource<Page<T>>): readonly T[] | null {
  if (res.error !== undefined || res.data === undefined || (res.data.total === 0 && res.current)) return null;
  return res.data.items;
}

/**
 * A list's search, sort and page held in the URL (?q=…&sort=…&page=…&limit=…), so that a search can be
 * bookmarked, shared and walked back with the browser's Back button.
 */
import { useCallback, useMemo } from 'react';
import { useSearchParams } from 'react-router';

export const PAGE_SIZES = [25, 50, 100] as const;

export interface ListParams {
  readonly q: string;
  readonly sort: string;
  readonly page: number;
  readonly limit: number;
  readonly offset: number;
  setQ(q: string): void;
  setSort(sort: string): void;
  setPage(page: number): void;
  setLimit(limit: number): void;
  /** Another parameter of the page (packages=os, layer=2, state=all); null removes it. Resets to page 1. */
  setParam(name: string, value: string | null): void;
  get(name: string): string | null;
}

export function useListParams(defaultSort: string): ListParams {
  const [params, setParams] = useSearchParams();
  const q = params.get('q') ?? '';
  const sort = params.get('sort') ?? defaultSort;
  const pageRaw = Number.parseInt(params.get('page') ?? '1', 10);
  const page = Number.isFinite(pageRaw) && pageRaw > 0 ? pageRaw : 1;
  const limitRaw = Number.parseInt(params.get('limit') ?? '', 10);
  const limit = (PAGE_SIZES as readonly number[]).includes(limitRaw) ? limitRaw : PAGE_SIZES[0];

  const update = useCallback(
    (changes: Record<string, string | null>, resetPage: boolean) =>
      setParams((prev) => {
        const next = new URLSearchParams(prev);
        for (const [k, v] of Object.entries(changes)) {
          if (v === null || v === '') next.delete(k);
          else next.set(k, v);
        }
        if (resetPage) next.delete('page');
        return next;
      }),
    [setParams],
  );

  // One object per URL state, so components can depend on it without re-rendering tables on every render.
  return useMemo(
    () => ({
      q,
      sort,
      page,
      limit,
      offset: (page - 1) * limit,
      setQ: (value: string) => update({ q: value.trim() }, true),
      setSort: (value: string) => update({ sort: value === defaultSort ? null : value }, true),
      setPage: (value: number) => update({ page: value <= 1 ? null : String(value) }, false),
      setLimit: (value: number) => update({ limit: value === PAGE_SIZES[0] ? null : String(value) }, true),
      setParam: (name: string, value: string | null) => update({ [name]: value }, true),
      get: (name: string) => params.get(name),
    }),
    [q, sort, page, limit, defaultSort, update, params],
  );
}

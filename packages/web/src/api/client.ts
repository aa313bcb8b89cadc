/** Requests to the backend's JSON API with the bearer token; every failure becomes an ApiFailure with words. */
import type { ErrorBody } from './types';

export class ApiFailure extends Error {
  override readonly name = 'ApiFailure';
  constructor(
    readonly status: number,
    message: string,
    readonly code: string | undefined,
    /** Search syntax errors: the 1-based column the parser points at. */
    readonly column: number | undefined,
  ) {
    super(message);
  }

  get isQuerySyntax(): boolean {
    return this.code === 'QUERY_SYNTAX';
  }
}

export type ParamValue = string | number | undefined | null;

/** `/api/v1/images` + { q: 'a b', limit: 25 } → `/api/v1/images?q=a+b&limit=25`; empty values are left out. */
export function apiUrl(path: string, params: Readonly<Record<string, ParamValue>> = {}): string {
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    search.set(k, String(v));
  }
  const s = search.toString();
  return s === '' ? path : `${path}?${s}`;
}

/** A path segment for an id that may hold ':' or '/' (sha256:…, GHSA-…). */
export function seg(id: string): string {
  return encodeURIComponent(id);
}

function isErrorBody(v: unknown): v is ErrorBody {
  return typeof v === 'object' && v !== null && typeof (v as { message?: unknown }).message === 'string';
}

export async function apiGet<T>(url: string, token: string, signal?: AbortSignal): Promise<T> {
  let res: Response;
  try {
    res = await fetch(url, { headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, signal: signal ?? null, credentials: 'omit' });
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err;
    throw new ApiFailure(0, 'The server cannot be reached. Check that `tally serve` is running.', 'NETWORK', undefined);
  }
  let body: unknown = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  if (!res.ok) {
    if (isErrorBody(body)) throw new ApiFailure(res.status, body.message, body.code, body.column);
    throw new ApiFailure(res.status, `The server answered ${res.status} ${res.statusText}.`, undefined, undefined);
  }
  return body as T;
}

/**
 * Fetch one API resource for a component. The previous result stays visible while the next one loads (a table
 * keeps its rows while the next page arrives instead of flashing empty); a request made stale by a newer one is
 * aborted. A refused token signs the user out.
 */
import { useEffect, useState } from 'react';
import { useAuth } from '../auth/AuthContext';
import { ApiFailure, apiGet } from './client';

export interface Resource<T> {
  /** The latest result, possibly for an earlier URL while `loading`. */
  readonly data: T | undefined;
  /** The error of the current URL. */
  readonly error: ApiFailure | undefined;
  readonly loading: boolean;
  /** True when `data` belongs to the current URL. */
  readonly current: boolean;
}

interface Loaded<T> {
  url: string;
  data?: T;
  error?: ApiFailure;
}

export function useApi<T>(url: string | null): Resource<T> {
  const { token, signOut } = useAuth();
  const [loaded, setLoaded] = useState<Loaded<T> | null>(null);

  useEffect(() => {
    if (url === null || token === null) return;
    const abort = new AbortController();
    apiGet<T>(url, token, abort.signal).then(
      (data) => setLoaded({ url, data }),
      (err: unknown) => {
        if (abort.signal.aborted) return;
        if (err instanceof ApiFailure && err.status === 401) {
          signOut('The server refused the token (revoked or unknown). Sign in again.');
          return;
        }
        const failure = err instanceof ApiFailure ? err : new ApiFailure(0, err instanceof Error ? err.message : 'request failed', undefined, undefined);
        setLoaded((prev) => ({ url, error: failure, ...(prev?.data !== undefined ? { data: prev.data } : {}) }));
      },
    );
    return () => abort.abort();
  }, [url, token, signOut]);

  const current = loaded !== null && loaded.url === url;
  return {
    data: loaded?.data,
    error: current ? loaded.error : undefined,
    loading: url !== null && !current,
    current: current && loaded.error === undefined,
  };
}

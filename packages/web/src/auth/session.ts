/**
 * The API token lives in sessionStorage and nowhere else: not in localStorage (it would outlive the tab), not in a
 * cookie (the browser would send it by itself), not in the URL (it would land in history and server logs).
 */
const KEY = 'tally.token';

export function readToken(): string | null {
  try {
    return window.sessionStorage.getItem(KEY);
  } catch {
    // Storage disabled by the browser: the user signs in again on each load.
    return null;
  }
}

export function storeToken(token: string): void {
  try {
    window.sessionStorage.setItem(KEY, token);
  } catch {
    // Nothing to fall back to on purpose: keeping the token elsewhere would break the rule above.
  }
}

export function forgetToken(): void {
  try {
    window.sessionStorage.removeItem(KEY);
  } catch {
    // Already unavailable.
  }
}

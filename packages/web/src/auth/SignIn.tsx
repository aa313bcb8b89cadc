/**
 * Sign-in with an API token (`tally token create --role viewer`). The token is checked against the API before it
 * is kept, so a mistyped or sensor-only token is explained here instead of failing on every page.
 */
import { useId, useState, type FormEvent } from 'react';
import { ApiFailure, apiGet } from '../api/client';
import { useAuth } from './AuthContext';

export function SignIn() {
  const { signIn, notice } = useAuth();
  const [token, setToken] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [checking, setChecking] = useState(false);
  const id = useId();

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const t = token.trim();
    if (t === '') {
      setError('Enter a token.');
      return;
    }
    setChecking(true);
    setError(null);
    try {
      await apiGet('/api/v1/images?limit=1', t);
      signIn(t);
    } catch (err) {
      setChecking(false);
      if (!(err instanceof ApiFailure)) setError('The token could not be checked.');
      else if (err.status === 401) setError('The server does not know this token (mistyped, revoked, or from another server).');
      else if (err.status === 403) setError('This token may not read (a sensor token?). Use a viewer or admin token.');
      else setError(err.message);
    }
  };

  return (
    <main id="main" className="sign-in">
      <title>Sign in · Tally</title>
      <h1>Tally</h1>
      <form onSubmit={submit} className="sign-in-form" aria-describedby={`${id}-help`}>
        <h2>Sign in</h2>
        {notice !== null && (
          <p className="state state-error" role="alert">
            {notice}
          </p>
        )}
        <label htmlFor={`${id}-token`}>API token</label>
        <input
          id={`${id}-token`}
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={token}
          onChange={(e) => setToken(e.target.value)}
          aria-invalid={error !== null ? true : undefined}
          aria-describedby={error !== null ? `${id}-error` : undefined}
          required
        />
        {error !== null && (
          <p id={`${id}-error`} className="field-error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="button primary" disabled={checking}>
          {checking ? 'Checking…' : 'Sign in'}
        </button>
        <p id={`${id}-help`} className="muted">
          Create one with <code>tally token create --role viewer</code>. It is kept in this tab only (session storage) and
          forgotten when the tab closes.
        </p>
      </form>
    </main>
  );
}

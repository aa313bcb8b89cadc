/** Who is signed in: the token (from sessionStorage) and the ways to change it, for the whole app. */
import { createContext, useCallback, useContext, useMemo, useState, type ReactNode } from 'react';
import { forgetToken, readToken, storeToken } from './session';

export interface Auth {
  readonly token: string | null;
  /** Why the user was signed out (a refused token), shown on the sign-in form. */
  readonly notice: string | null;
  signIn(token: string): void;
  signOut(notice?: string): void;
}

const AuthContext = createContext<Auth | null>(null);

export function AuthProvider({ children }: { children: ReactNode }) {
  const [token, setToken] = useState<string | null>(() => readToken());
  const [notice, setNotice] = useState<string | null>(null);
  const signIn = useCallback((t: string) => {
    storeToken(t);
    setNotice(null);
    setToken(t);
  }, []);
  const signOut = useCallback((why?: string) => {
    forgetToken();
    setNotice(why ?? null);
    setToken(null);
  }, []);
  const value = useMemo(() => ({ token, notice, signIn, signOut }), [token, notice, signIn, signOut]);
  return <AuthContext.Provider value={value}>{children}</AuthContext.Provider>;
}

export function useAuth(): Auth {
  const auth = useContext(AuthContext);
  if (auth === null) throw new Error('useAuth outside AuthProvider');
  return auth;
}

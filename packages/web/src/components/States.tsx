/** Loading, empty and error states, in words. */
import type { ReactNode } from 'react';
import type { ApiFailure } from '../api/client';

export function Loading({ what }: { what: string }) {
  return (
    <p className="state state-loading" role="status">
      Loading {what}…
    </p>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return <p className="state state-empty">{children}</p>;
}

/** An API failure explained: what went wrong and, when the fix is on the user's side, what to do. */
export function ErrorNotice({ error, what }: { error: ApiFailure; what: string }) {
  const advice =
    error.status === 403
      ? 'This token may not read it: sign in with a viewer or admin token.'
      : error.status === 404
        ? 'It may have been removed, or the link is wrong.'
        : error.status === 0
          ? ''
          : error.status >= 500
            ? 'The server failed; its log has the details.'
            : '';
  return (
    <div className="state state-error" role="alert">
      <p>
        Could not load {what}: {error.message}
      </p>
      {advice !== '' && <p>{advice}</p>}
    </div>
  );
}

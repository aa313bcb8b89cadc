/**
 * Typed failures of the vulnerability database and its feeds. Callers branch on `code`, never on the message
 * (house rule 6). Kept apart from model/errors.ts because these are not scan errors: the CLI's `db` commands map
 * them to exit status 2 the same way.
 */
export type VulnDbErrorCode =
  | 'VULNDB_NOT_FOUND' // no database file at the path: run `tally db update` or `tally db import`
  | 'VULNDB_SCHEMA' // the file's schema version is not the one this build reads (older or newer)
  | 'VULNDB_CORRUPT' // not an SQLite database, or one without Tally's tables
  | 'VULNDB_LOCKED' // another update or import holds the lock
  | 'FEED_FAILED' // a download or a feed's content failed its checks (size, checksum, truncation, parse)
  | 'IMPORT_FAILED' // an import file could not be read at all
  | 'ABORTED';

export class VulnDbError extends Error {
  readonly code: VulnDbErrorCode;
  constructor(code: VulnDbErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VulnDbError';
    this.code = code;
  }
}

export function isVulnDbError(err: unknown): err is VulnDbError {
  return err instanceof VulnDbError;
}

/** A short, single-line description of any thrown value, for summaries and reasons. */
export function describeError(err: unknown): string {
  if (err instanceof Error) return err.message.split('\n')[0] ?? err.name;
  return String(err);
}

export function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new VulnDbError('ABORTED', 'aborted', { cause: signal.reason });
}

/**
 * The server's own vulnerability database: `<data-dir>/vulndb/tally.db`, the same SQLite file format the CLI uses,
 * written by `tally db update|import --server-data DIR` or by the admin API, always by an atomic swap (core
 * vulndb/store.ts). The server holds one read-only handle and watches the file's identity (inode, size, mtime):
 * when it changes, the handle is reopened and, once no upload still matches against the old file, the change is
 * announced and the caller re-evaluates the stored images (evaluate/reevaluate.ts). The identity of the file whose
 * results are in the store is kept in settings, so a database swapped while the server was down is noticed at the
 * next start.
 */
import { statSync } from 'node:fs';
import { SqliteVulnDb } from '@tally/core';
import { PostureMatcher } from './posture.js';

export { serverVulnDbPath } from '@tally/core';

/** `ino:size:mtimeMs`, or null when there is no file. */
export function fileIdentity(path: string): string | null {
  try {
    const s = statSync(path);
    return `${s.ino}:${s.size}:${Math.trunc(s.mtimeMs)}`;
  } catch {
    return null;
  }
}

export interface VulnDbState {
  readonly path: string;
  /** Null when no database has been installed yet (uploads are stored, matched once one appears). */
  readonly identity: string | null;
  readonly error: string | null;
}

/** One opened database file and the evaluations using it: closed once replaced and no longer used. */
class Handle {
  users = 0;
  replaced = false;
  readonly matcher: PostureMatcher;

  constructor(readonly db: SqliteVulnDb) {
    this.matcher = new PostureMatcher(db);
  }

  release(): void {
    this.users--;
    if (this.replaced && this.users === 0) this.db.close();
  }

  retire(): void {
    this.replaced = true;
    if (this.users === 0) this.db.close();
  }

  get busy(): boolean {
    return this.replaced && this.users > 0;
  }
}

/** A matcher held by one evaluation (an upload, a re-evaluation): the database stays open until `release()`. */
export interface MatcherLease {
  readonly matcher: PostureMatcher | null;
  /** The open database (for knowledge-base reads), or null. */
  readonly db: SqliteVulnDb | null;
  /** The identity of the database file the matcher reads. */
  readonly identity: string | null;
  release(): void;
}

export class ServerVulnDb {
  private handle: Handle | null = null;
  /** Replaced handles still in use, and uploads running without a database: see drained(). */
  private readonly retired = new Set<Handle>();
  private unmatched = 0;
  private identityOf: string | null = null;
  private errorOf: string | null = null;
  private timer: NodeJS.Timeout | null = null;

  constructor(readonly path: string) {
    this.reopen();
  }

  /**
   * The current matcher for one evaluation. A database swapped in meanwhile does not close it under the holder;
   * the holder's results are from the old file, and the re-evaluation that the swap triggers replaces them.
   */
  acquire(): MatcherLease {
    const h = this.handle;
    let released = false;
    if (h === null) {
      this.unmatched++;
      return {
        matcher: null,
        db: null,
        identity: this.identityOf,
        release: () => {
          if (!released) this.unmatched--;
          released = true;
        },
      };
    }
    h.users++;
    return {
      matcher: h.matcher,
      db: h.db,
      identity: this.identityOf,
      release: () => {
        if (!released) h.release();
        released = true;
      },
    };
  }

  /**
   * Resolves once every lease on a replaced file (or on no file) is released. The re-evaluation waits for this
   * before it reads the store, so no upload matched against an older database commits after it has looked.
   */
  async drained(signal?: AbortSignal): Promise<void> {
    for (;;) {
      for (const h of this.retired) if (!h.busy) this.retired.delete(h);
      if (this.retired.size === 0 && (this.unmatched === 0 || this.handle === null)) return;
      if (signal?.aborted) throw new Error('cancelled while uploads on the previous vulnerability database finish');
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  state(): VulnDbState {
    return { path: this.path, identity: this.identityOf, error: this.errorOf };
  }

  /** Reopen when the file changed; true when it did (including appearing or disappearing). */
  refresh(): boolean {
    const now = fileIdentity(this.path);
    if (now === this.identityOf) return false;
    this.reopen();
    return true;
  }

  private reopen(): void {
    // The identity is taken before opening: if the file is swapped in between, we hold the newer file under the
    // older identity and merely re-evaluate once more, never the reverse.
    const identity = fileIdentity(this.path);
    if (this.handle !== null) {
      this.handle.retire();
      if (this.handle.busy) this.retired.add(this.handle);
    }
    this.handle = null;
    this.errorOf = null;
    if (identity !== null) {
      try {
        this.handle = new Handle(SqliteVulnDb.open(this.path));
      } catch (err) {
        this.errorOf = err instanceof Error ? err.message : String(err);
      }
    }
    this.identityOf = identity;
  }

  /**
   * Poll the file every `intervalMs`; after each reopen, call `onChange` once the uploads still on the old file have
   * finished (a re-evaluation queued from here, even one another process runs, then sees what they stored).
   */
  watch(intervalMs: number, onChange: () => void): void {
    this.unwatch();
    this.timer = setInterval(() => {
      if (this.refresh()) void this.drained().then(onChange);
    }, intervalMs);
    this.timer.unref();
  }

  unwatch(): void {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
  }

  close(): void {
    this.unwatch();
    this.handle?.retire();
    this.handle = null;
  }
}

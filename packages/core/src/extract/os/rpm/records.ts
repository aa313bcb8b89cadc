/** What each rpm database reader (BerkeleyDB, NDB, SQLite) hands back: header blobs, one per installed package. */

export interface DbRecord {
  /** The package's instance number (BDB key, NDB package index, SQLite `hnum`), when known. */
  readonly id: number | null;
  readonly blob: Buffer;
}

export interface DbReadResult {
  readonly records: DbRecord[];
  /** Records that could not be read; the others are still returned. */
  readonly problems: string[];
}

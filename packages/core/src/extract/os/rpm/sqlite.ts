/**
 * Reader for rpm's SQLite `rpmdb.sqlite` (rpm ≥ 4.16: Fedora, RHEL 9, CBL-Mariner, Amazon Linux 2023):
 * `SELECT hnum, blob FROM Packages`, one header blob per row.
 *
 * SQLite needs a file, and rpm leaves its databases in WAL mode, where even a read-only connection creates
 * `-wal` and `-shm` files beside the database. So the database is placed in a private directory under the
 * scan's temp dir (written from memory, or hard-linked from the spilled file), opened there, and the whole
 * directory is removed afterwards. Names never come from the image.
 */
import { copyFile, link, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openDatabase } from '../../../util/sqlite.js';
import { describeError } from '../../../model/issue.js';
import type { FileContent } from '../../extractor.js';
import type { DbReadResult, DbRecord } from './records.js';

export async function readSqlitePackages(content: FileContent, tempDir: string): Promise<DbReadResult> {
  const dir = await mkdtemp(join(tempDir, 'rpmdb-'));
  try {
    const path = join(dir, 'rpmdb.sqlite');
    if (content.kind === 'buffer') await writeFile(path, content.data, { flag: 'wx', mode: 0o600 });
    else await link(content.path, path).catch(() => copyFile(content.path, path));
    return readRows(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function readRows(path: string): DbReadResult {
  let db: Database.Database;
  try {
    db = openDatabase(path, { readonly: true, fileMustExist: true });
  } catch (err: unknown) {
    throw new Error(`SQLite rpmdb: cannot open: ${describeError(err)}`, { cause: err });
  }
  try {
    const records: DbRecord[] = [];
    const problems: string[] = [];
    const rows = db.prepare('SELECT hnum, blob FROM Packages').raw().iterate() as IterableIterator<unknown[]>;
    for (const [hnum, blob] of rows) {
      const id = typeof hnum === 'number' ? hnum : null;
      if (Buffer.isBuffer(blob)) records.push({ id, blob });
      else problems.push(`row hnum=${String(hnum)}: blob is ${blob === null ? 'NULL' : typeof blob}, not a BLOB`);
    }
    return { records, problems };
  } catch (err: unknown) {
    throw new Error(`SQLite rpmdb: cannot read the Packages table: ${describeError(err)}`, { cause: err });
  } finally {
    db.close();
  }
}

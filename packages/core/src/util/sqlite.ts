import { createRequire } from 'node:module';
import type Database from 'better-sqlite3';

let load: typeof Database | undefined;

/**
 * `new Database(path, options)` of better-sqlite3, whose native module is loaded on first use: most commands, and a
 * scan whose layers are all in the layer cache, never open a database, and loading it cost every start-up ~10 ms.
 */
export function openDatabase(path: string, options?: Database.Options): Database.Database {
  load ??= createRequire(import.meta.url)('better-sqlite3') as typeof Database;
  return new load(path, options);
}

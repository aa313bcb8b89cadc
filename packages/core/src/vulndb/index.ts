/**
 * The vulnerability database: model, SQLite store, importers, feeds. What the CLI's `db` commands and the matcher
 * use; re-exported from the core package entry point.
 */
export * from './model.js';
export { parseOsvRecord, osvSourceOf, isSkip, type OsvSkip } from './osv.js';
export { MemoryVulnDb } from './memory.js';
export { VulnDbError, isVulnDbError, type VulnDbErrorCode } from './errors.js';
export { SCHEMA_VERSION, MIGRATIONS } from './schema.js';
export {
  SqliteVulnDb,
  VulnDbWriter,
  vulndbPath,
  serverVulnDbPath,
  VULNDB_FILE,
  type SqliteVulnDbOptions,
  type SourceRow,
  type SourceSpec,
  type ImportMode,
  type WriterOptions,
} from './store.js';
export { vulndbStatus, type VulnDbStatus, type SourceStatus, type EcosystemCount } from './status.js';
export {
  importPath,
  importFile,
  classifyJson,
  DEFAULT_IMPORT_LIMITS,
  type FeedFormat,
  type Container,
  type FileImport,
  type ImportSummary,
  type ImportOptions,
  type ImportFileOptions,
  type ImportLimits,
} from './importers/import.js';
export {
  updateVulnDb,
  DEFAULT_ORIGINS,
  DEFAULT_OSV_ECOSYSTEMS,
  DEFAULT_ALPINE_BRANCHES,
  DEFAULT_ALPINE_REPOS,
  MIRROR_LAYOUT,
  type UpdateOptions,
  type UpdateResult,
  type FeedChange,
  type FeedOrigins,
  type FeedSelection,
  type UpdateProgress,
  type RecordCounts,
} from './feeds.js';
export { NODEJS_ECOSYSTEM } from './importers/nswg.js';

import { importPath, type ImportOptions, type ImportSummary } from './importers/import.js';
import { VulnDbWriter } from './store.js';

/**
 * `tally db import PATH...`: import into the live database at `dbPath` with the same atomic swap as `db update`
 * (a copy is written and renamed over the live file; an interrupted import leaves the old database).
 */
export async function importIntoVulnDb(dbPath: string, paths: readonly string[], options: ImportOptions & { readonly fresh?: boolean } = {}): Promise<ImportSummary[]> {
  const writer = VulnDbWriter.beginSwap(dbPath, { fresh: options.fresh ?? false });
  try {
    const out: ImportSummary[] = [];
    for (const p of paths) out.push(await importPath(writer, p, options));
    writer.commit();
    return out;
  } catch (err) {
    writer.abort();
    throw err;
  }
}

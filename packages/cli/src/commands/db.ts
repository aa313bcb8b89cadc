import { Command } from 'commander';
import { importIntoVulnDb, serverVulnDbPath, updateVulnDb, vulndbPath, vulndbStatus, type FileImport, type UpdateResult } from '@tally/core';
import { resolveCacheDir } from '../cache-dir.js';
import { EXIT } from '../exit-codes.js';

interface DbFlags {
  cacheDir?: string;
  serverData?: string;
}

/** The scanner's database in the cache directory, or a backend's (a running `tally serve` re-evaluates on the swap). */
function dbPathOf(cmd: Command): string {
  const flags = cmd.optsWithGlobals<DbFlags>();
  return flags.serverData !== undefined ? serverVulnDbPath(flags.serverData) : vulndbPath(resolveCacheDir(flags.cacheDir));
}

function age(seconds: number | null): string {
  if (seconds === null) return 'unknown';
  if (seconds < 3600) return `${Math.round(seconds / 60)} min`;
  if (seconds < 86400 * 2) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86400).toFixed(1)} days`;
}

function printImport(f: FileImport): void {
  const counts = [`${f.imported} imported`, f.withdrawn ? `${f.withdrawn} withdrawn` : '', f.invalid ? `${f.invalid} invalid` : '', f.duplicates ? `${f.duplicates} duplicates` : '']
    .filter(Boolean)
    .join(', ');
  process.stdout.write(`  ${f.status.padEnd(12)} ${(f.format ?? '-').padEnd(15)} ${f.path}: ${f.status === 'imported' ? counts : f.reason ?? ''}\n`);
}

function printUpdate(r: UpdateResult): void {
  for (const f of r.feeds) {
    const delta = f.status === 'updated' ? ` (${f.delta.advisories >= 0 ? '+' : ''}${f.delta.advisories} advisories, ${f.bytes} bytes, ${f.how})` : f.how ? ` (${f.how})` : '';
    process.stdout.write(`  ${f.status.padEnd(9)} ${f.name}${delta}${f.reason ? `: ${f.reason}` : ''}\n`);
  }
  process.stdout.write(r.swapped ? `database updated: ${r.dbPath} (${(r.ms / 1000).toFixed(1)} s)\n` : `database unchanged: ${r.dbPath}\n`);
}

export function dbCommand(): Command {
  const db = new Command('db')
    .description("the vulnerability database: the scanner's (in the cache directory) or a backend's (--server-data)")
    .option('--cache-dir <dir>', 'cache directory (default: $TALLY_CACHE_DIR or ~/.cache/tally)')
    .option('--server-data <dir>', "work on the database of the backend whose data directory is DIR (`tally serve --data-dir`); a running server re-evaluates every stored image when it changes");

  db.command('update')
    .description('download the advisory feeds (osv.dev, Debian tracker, Alpine secdb, CISA KEV, EPSS) and swap the database atomically')
    .option('--mirror <url-or-dir>', 'fetch every feed from this base URL or local directory (same layout as the origins)')
    .option('--fresh', 'rebuild from scratch instead of updating a copy of the current database')
    .option('--allow-partial', 'keep the feeds that succeeded when others fail')
    .action(async (flags: { mirror?: string; fresh?: boolean; allowPartial?: boolean }, cmd: Command) => {
      const result = await updateVulnDb({
        dbPath: dbPathOf(cmd),
        ...(flags.mirror ? { mirror: flags.mirror } : {}),
        fresh: flags.fresh ?? false,
        allowPartial: flags.allowPartial ?? false,
        onProgress: (e) => process.stderr.isTTY && process.stderr.write(`\r\x1b[2K${e.feed}: ${e.phase}`),
      });
      if (process.stderr.isTTY) process.stderr.write('\r\x1b[2K');
      printUpdate(result);
      if (!result.ok) process.exitCode = EXIT.error;
    });

  db.command('import')
    .description('import advisory files (OSV JSON/NDJSON/zip/.gz, Debian tracker JSON, DSA/DLA lists, Alpine secdb, KEV, EPSS) from files or directories')
    .argument('<paths...>', 'files or directories; formats are recognised by content')
    .option('--fresh', 'start from an empty database')
    .action(async (paths: string[], flags: { fresh?: boolean }, cmd: Command) => {
      const summaries = await importIntoVulnDb(dbPathOf(cmd), paths, { fresh: flags.fresh ?? false });
      let imported = 0;
      for (const s of summaries) {
        for (const f of s.files) printImport(f);
        imported += s.totals.imported;
      }
      process.stdout.write(`${imported} records imported into ${dbPathOf(cmd)}\n`);
    });

  db.command('status')
    .description('sources, record counts and age of the vulnerability database')
    .option('--json', 'print the status as JSON')
    .action((flags: { json?: boolean }, cmd: Command) => {
      const s = vulndbStatus(dbPathOf(cmd));
      if (flags.json) {
        process.stdout.write(JSON.stringify(s, null, 2) + '\n');
        return;
      }
      const out = [
        `database: ${s.path} (${(s.sizeBytes / 1e6).toFixed(1)} MB, schema ${s.schemaVersion})`,
        `updated:  ${s.updatedAt ?? 'never'} (${age(s.ageSeconds)} ago)`,
        `records:  ${s.totals.advisories} advisories, ${s.totals.affected} affected packages, ${s.totals.kev} KEV, ${s.totals.epss} EPSS`,
        'sources:',
        ...s.sources.map((src) => `  ${src.name.padEnd(28)} ${String(src.advisories + src.kev + src.epss).padStart(7)} records, imported ${src.importedAt}`),
      ];
      process.stdout.write(out.join('\n') + '\n');
    });
  return db;
}

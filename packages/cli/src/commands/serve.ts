/**
 * `tally serve`: the backend (API, and the UI when built) over the embedded SQLite store or PostgreSQL.
 * The PostgreSQL URL can come from TALLY_DATABASE_URL, so a password need not appear in the process list.
 * The server is imported when the command runs: other commands never pay for loading it.
 */
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_DATA_DIR, DEFAULT_HOST, DEFAULT_PORT } from '@tally/server/protocol';
import { builtUiDir } from '../ui-dir.js';

export interface ServeFlags {
  host: string;
  port: number;
  database?: string;
  dataDir: string;
  staticDir?: string;
  ui: boolean;
  logLevel: string;
  layerCacheMaxMb: number;
  jobConcurrency: number;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('expected a port number 0-65535');
  return n;
}

function megabytes(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1 || n > 1024 * 1024 * 1024) throw new InvalidArgumentError('expected a whole number of MiB, at least 1');
  return n;
}

function jobCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 64) throw new InvalidArgumentError('expected a whole number 0-64');
  return n;
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('run the backend: sensors upload to it, the API and the web UI read from it')
    .option('--host <host>', 'address to listen on', DEFAULT_HOST)
    .option('--port <port>', 'port to listen on (0: any free port)', port, DEFAULT_PORT)
    .option('--database <url>', 'postgres://user@host/db for PostgreSQL (default: $TALLY_DATABASE_URL, else SQLite in the data directory)')
    .option('--data-dir <dir>', 'data directory: SQLite store, vulnerability database (vulndb/tally.db), temp files', DEFAULT_DATA_DIR)
    .option('--static-dir <dir>', 'serve the web UI from this directory at / (default: the UI built with Tally)')
    .option('--no-ui', 'serve the API only')
    .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent', 'info')
    .option('--layer-cache-max-mb <mb>', 'bound of the layer cache shared by sensors and workers; least recently used entries are evicted past it', megabytes, 2048)
    .option('--job-concurrency <n>', 'PostgreSQL: background jobs this process runs at once (0: API only, jobs left to `tally worker`); SQLite runs them in this process', jobCount, 1)
    .action(async (flags: ServeFlags) => {
      const { closeOnSignals, isPostgresUrl, redactUrl, startServer } = await import('@tally/server');
      const database = flags.database ?? process.env['TALLY_DATABASE_URL'];
      const ui = flags.ui ? (flags.staticDir ?? builtUiDir()) : undefined;
      if (flags.ui && ui === undefined) process.stderr.write('tally: the web UI is not built (npm run build); serving the API only\n');
      const server = await startServer({
        host: flags.host,
        port: flags.port,
        dataDir: flags.dataDir,
        database,
        staticDir: ui,
        logger: { level: flags.logLevel },
        layerCacheMaxBytes: flags.layerCacheMaxMb * 1024 * 1024,
        jobConcurrency: flags.jobConcurrency,
      });
      const store = isPostgresUrl(database) ? redactUrl(database) : server.store.description;
      process.stderr.write(`tally: serving ${server.url}${ui ? ' (API and UI)' : ' (API)'} (store: ${store}; vulnerability database: ${server.vulndb.path})\n`);
      await new Promise<void>((resolve) => {
        closeOnSignals(server, (code) => {
          process.exitCode = code;
          resolve();
        });
      });
    });
}

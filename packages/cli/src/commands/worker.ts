/**
 * `tally worker`: run the backend's jobs (registry syncs, one scan per registry manifest, re-evaluations) from the
 * PostgreSQL store, next to any number of other workers and `tally serve` processes. The server is imported when
 * the command runs: other commands never pay for loading it.
 */
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_DATA_DIR } from '@tally/server/protocol';

interface WorkerFlags {
  database?: string;
  dataDir: string;
  concurrency: number;
  layerCacheMaxMb: number;
  logLevel: string;
}

function positive(what: string, max: number): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isSafeInteger(n) || n < 1 || n > max) throw new InvalidArgumentError(`expected a whole number of ${what} from 1 to ${max}`);
    return n;
  };
}

const LEVELS = ['error', 'warning', 'info'] as const;

export function workerCommand(): Command {
  return new Command('worker')
    .description('run background jobs (registry scans, re-evaluation) from the PostgreSQL store; run as many as needed, on any machines')
    .option('--database <url>', 'the PostgreSQL store, postgres://user@host/db (default: $TALLY_DATABASE_URL)')
    .option('--concurrency <n>', 'jobs run at once by this process', positive('jobs', 64), 1)
    .option('--data-dir <dir>', 'temp files, and the vulnerability database used to match scans (vulndb/tally.db)', DEFAULT_DATA_DIR)
    .option('--layer-cache-max-mb <mb>', 'bound of the shared layer cache when this worker adds to it (as for tally serve)', positive('MiB', 1024 * 1024 * 1024), 2048)
    .option('--log-level <level>', 'error, warning or info', 'warning')
    .action(async (flags: WorkerFlags) => {
      const { closeOnSignals, runWorker } = await import('@tally/server');
      const database = flags.database ?? process.env['TALLY_DATABASE_URL'];
      if (database === undefined) throw new InvalidArgumentError('--database postgres://… (or TALLY_DATABASE_URL) is required');
      const shown = LEVELS.indexOf(LEVELS.includes(flags.logLevel as (typeof LEVELS)[number]) ? (flags.logLevel as (typeof LEVELS)[number]) : 'warning');
      const worker = await runWorker({
        database,
        dataDir: flags.dataDir,
        concurrency: flags.concurrency,
        layerCacheMaxBytes: flags.layerCacheMaxMb * 1024 * 1024,
        log: (level, message) => {
          if (LEVELS.indexOf(level) <= shown) process.stderr.write(`tally worker: ${level}: ${message}\n`);
        },
      });
      process.stderr.write(`tally: worker ${worker.label} running up to ${flags.concurrency} job${flags.concurrency === 1 ? '' : 's'} at once (store: ${worker.description})\n`);
      await new Promise<void>((resolve) => {
        worker.failed.catch(() => {
          // Its jobs may already be running elsewhere: stop at once, without finishing them.
          process.exitCode = 1;
          resolve();
        });
        closeOnSignals(worker, (code) => {
          process.exitCode = code;
          resolve();
        });
      });
      if (process.exitCode === 1) process.exit(1);
    });
}

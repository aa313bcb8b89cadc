/**
 * A backend in a process of its own, for the fault tests (SIGKILL mid-ingestion, SIGTERM): prints
 * `{"url": …}` on stdout once listening, then (with a log level) fastify's JSON log lines.
 * Usage: node --import tsx serve-process.ts DATA_DIR [DATABASE_URL [LOG_LEVEL]]
 */
import type { LogEvent } from 'kysely';
import { closeOnSignals, startServer } from '../server.js';

const [dataDir, database, level] = process.argv.slice(2);
if (dataDir === undefined) throw new Error('usage: serve-process.ts DATA_DIR [DATABASE_URL [LOG_LEVEL]]');
// TALLY_SQL_STATS=1: per-statement totals on stderr when stopped (benchmarks).
const stats = new Map<string, { n: number; ms: number }>();
const queryLog =
  process.env['TALLY_SQL_STATS'] === '1'
    ? (e: LogEvent): void => {
        const k = e.query.sql.slice(0, 70);
        const s = stats.get(k) ?? { n: 0, ms: 0 };
        s.n++;
        s.ms += e.queryDurationMillis;
        stats.set(k, s);
      }
    : undefined;
process.once('exit', () => {
  for (const [k, v] of [...stats].sort((a, b) => b[1].ms - a[1].ms).slice(0, 25)) process.stderr.write(`${v.ms.toFixed(0).padStart(8)} ms ${String(v.n).padStart(7)}  ${k}\n`);
});
const server = await startServer({
  dataDir,
  database: database === undefined || database === '' ? undefined : database,
  port: 0,
  logger: level === undefined || level === '' ? false : { level },
  ...(queryLog ? { queryLog } : {}),
});
process.stdout.write(`${JSON.stringify({ url: server.url })}\n`);
closeOnSignals(server, (code) => process.exit(code));

/**
 * A real PostgreSQL for tests.
 *
 * - With TALLY_TEST_PG_URL set (CI, or a developer's own server), that server is used: a fresh database is created
 *   in it for each caller and dropped by `stop()`, so test files running in parallel never see each other's rows.
 * - Otherwise a throw-away cluster is started from the installed binaries (Debian's postgresql-15 puts them in
 *   /usr/lib/postgresql/15/bin): initdb into a temp dir, pg_ctl start on a free 127.0.0.1 port with the unix socket
 *   in that dir, a database created, and everything removed by `stop()` (or, as a last resort, at process exit).
 *
 * initdb and postgres refuse to run as root, and the brief's machines run tests as root, so when we are root the
 * binaries are spawned with the uid/gid of the `postgres` system user and the temp dir is chowned to it.
 *
 * Databases are created with the C locale so that lower()/ILIKE fold exactly ASCII, as SQLite's built-in lower()
 * does: the same query then returns the same rows on both stores.
 */
import { spawn, spawnSync, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';

export interface TestPostgres {
  /** `postgres://user@127.0.0.1:port/database` for a database that belongs to this caller alone. */
  readonly url: string;
  /** The database name inside `url`. */
  readonly database: string;
  /** True when TALLY_TEST_PG_URL pointed at a server we did not start. */
  readonly reused: boolean;
  /** Drops the database (reused server) or stops the cluster and deletes its files. Safe to call twice. */
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Overrides TALLY_TEST_PG_URL (pass null to force a private cluster). */
  readonly url?: string | null;
  /** Directory holding initdb and pg_ctl; found automatically otherwise (TALLY_PG_BIN, PATH, /usr/lib/postgresql). */
  readonly binDir?: string;
}

export async function startTestPostgres(options: StartOptions = {}): Promise<TestPostgres> {
  const url = options.url === undefined ? process.env.TALLY_TEST_PG_URL : options.url;
  if (url !== undefined && url !== null && url !== '') return useExisting(url);
  return startCluster(options.binDir ?? findBinDir());
}

function uniqueDatabaseName(): string {
  return `tally_test_${process.pid}_${randomBytes(4).toString('hex')}`;
}

async function createDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    // The name is generated above from [a-z0-9_], never from input, so quoting it as an identifier is enough.
    await client.query(
      `CREATE DATABASE "${name}" TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'`,
    );
  } finally {
    await client.end();
  }
}

async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    // FORCE (PostgreSQL 13+) ends sessions a failed test may have left open.
    await client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
  } finally {
    await client.end();
  }
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

async function useExisting(adminUrl: string): Promise<TestPostgres> {
  const database = uniqueDatabaseName();
  await createDatabase(adminUrl, database);
  let stopped = false;
  return {
    url: withDatabase(adminUrl, database),
    database,
    reused: true,
    async stop() {
      if (stopped) return;
      stopped = true;
      await dropDatabase(adminUrl, database);
    },
  };
}

function findBinDir(): string {
  const candidates: string[] = [];
  if (process.env.TALLY_PG_BIN) candidates.push(process.env.TALLY_PG_BIN);
  candidates.push(...(process.env.PATH ?? '').split(delimiter).filter((d) => d !== ''));
  const debian = '/usr/lib/postgresql';
  if (existsSync(debian)) {
    // Newest major first.
    const majors = readdirSync(debian).filter((v) => /^\d+$/.test(v)).sort((a, b) => Number(b) - Number(a));
    candidates.push(...majors.map((v) => join(debian, v, 'bin')));
  }
  const found = candidates.find((d) => existsSync(join(d, 'initdb')) && existsSync(join(d, 'pg_ctl')));
  if (found === undefined) {
    throw new Error(
      'startTestPostgres: no initdb/pg_ctl found (install postgresql, e.g. `apt-get install postgresql`, ' +
        'set TALLY_PG_BIN, or point TALLY_TEST_PG_URL at a running server)',
    );
  }
  return found;
}

/** uid/gid to run the server binaries as: ourselves, unless we are root. */
function serverUser(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const passwd = readFileSync('/etc/passwd', 'utf8');
  for (const line of passwd.split('\n')) {
    const [name, , uid, gid] = line.split(':');
    if (name === 'postgres' && uid !== undefined && gid !== undefined) return { uid: Number(uid), gid: Number(gid) };
  }
  throw new Error("startTestPostgres: running as root needs a 'postgres' system user (initdb refuses to run as root)");
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

function run(command: string, args: readonly string[], options: SpawnOptions): Promise<{ code: number; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout?.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (output += b.toString()));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code: code ?? -1, output }));
  });
}

async function startCluster(binDir: string): Promise<TestPostgres> {
  const user = serverUser();
  const dir = await mkdtemp(join(tmpdir(), 'tally-pg-'));
  const dataDir = join(dir, 'data');
  const logFile = join(dir, 'postgres.log');
  const initdb = join(binDir, 'initdb');
  const pgCtl = join(binDir, 'pg_ctl');
  // cwd inside the temp dir: the server user may not be able to enter the caller's working directory.
  const spawnOptions: SpawnOptions = {
    cwd: dir,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LC_ALL: 'C', LANG: 'C' },
    ...(user === undefined ? {} : { uid: user.uid, gid: user.gid }),
  };
  const removeDir = (): Promise<void> => rm(dir, { recursive: true, force: true });

  try {
    if (user !== undefined) await chown(dir, user.uid, user.gid);
    const init = await run(
      initdb,
      ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync', '--no-instructions'],
      spawnOptions,
    );
    if (init.code !== 0) throw new Error(`initdb failed (${init.code}):\n${init.output}`);
  } catch (error) {
    await removeDir();
    throw error;
  }

  // Durability settings are off: a test cluster is deleted afterwards, and fsync dominates its run time.
  // A port picked by freePort() can be taken by someone else before postgres binds it, hence the retries.
  let port = 0;
  let started = false;
  let lastOutput = '';
  for (let attempt = 0; attempt < 5 && !started; attempt++) {
    port = await freePort();
    const serverOptions = [
      `-p ${port}`,
      // pg_ctl hands these to a shell; mkdtemp names are [A-Za-z0-9_-] but TMPDIR is the environment's.
      `-k '${dir.replace(/'/g, `'\\''`)}'`,
      '-c listen_addresses=127.0.0.1',
      '-c fsync=off',
      '-c synchronous_commit=off',
      '-c full_page_writes=off',
      '-c max_connections=50',
    ].join(' ');
    const result = await run(pgCtl, ['-D', dataDir, '-l', logFile, '-w', '-t', '60', '-o', serverOptions, 'start'], spawnOptions);
    started = result.code === 0;
    if (!started) lastOutput = `${result.output}\n${await readFile(logFile, 'utf8').catch(() => '')}`;
  }
  if (!started) {
    await removeDir();
    throw new Error(`pg_ctl start failed:\n${lastOutput}`);
  }

  // If the test process dies without calling stop(), do not leave a postmaster running.
  const onExit = (): void => {
    spawnSync(pgCtl, ['-D', dataDir, '-m', 'immediate', 'stop'], { ...spawnOptions, stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', onExit);

  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  const database = uniqueDatabaseName();
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    process.removeListener('exit', onExit);
    await run(pgCtl, ['-D', dataDir, '-m', 'fast', '-w', 'stop'], spawnOptions);
    await removeDir();
  };
  try {
    await createDatabase(adminUrl, database);
  } catch (error) {
    await stop();
    throw error;
  }
  return { url: withDatabase(adminUrl, database), database, reused: false, stop };
}

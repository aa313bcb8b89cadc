/**
 * `tally token create|list|revoke`: API tokens, written straight into the store (the server need not run; a running
 * server sees them at once). The secret is printed once, on stdout, and stored only as a hash.
 */
import { Command, Option } from 'commander';
import type { Store } from '@tally/server';
import { DEFAULT_DATA_DIR, ROLES, type Role } from '@tally/server/protocol';
import { EXIT } from '../exit-codes.js';

/** The server, loaded when a command needs it (other commands never pay for it). */
const server = (): Promise<typeof import('@tally/server')> => import('@tally/server');

export interface StoreFlags {
  dataDir: string;
  database?: string;
}

export async function withStore<T>(flags: StoreFlags, run: (store: Store) => Promise<T>): Promise<T> {
  const { openStore } = await server();
  const store = await openStore({ dataDir: flags.dataDir, database: flags.database ?? process.env['TALLY_DATABASE_URL'] });
  try {
    return await run(store);
  } finally {
    await store.close();
  }
}

export function storeOptions(cmd: Command): Command {
  return cmd
    .option('--data-dir <dir>', 'the server data directory', DEFAULT_DATA_DIR)
    .option('--database <url>', 'the PostgreSQL store (default: $TALLY_DATABASE_URL, else SQLite in the data directory)');
}

export function tokenCommand(): Command {
  const token = new Command('token').description('API tokens for sensors, viewers and admins (stored hashed)');

  storeOptions(
    token
      .command('create')
      .description('create a token and print it (shown once)')
      .addOption(new Option('--role <role>', 'sensor: upload only; viewer: read; admin: everything').choices([...ROLES]).makeOptionMandatory())
      .option('--name <text>', 'what the token is for', ''),
  ).action(async (flags: StoreFlags & { role: Role; name: string }) => {
    const { token: secret, info } = await withStore(flags, async (store) => (await server()).createToken(store.db, flags.role, flags.name));
    process.stdout.write(`${secret}\n`);
    process.stderr.write(`tally: created ${info.role} token ${info.id}${info.name ? ` (${info.name})` : ''}; it is not shown again\n`);
  });

  storeOptions(token.command('list').description('list tokens (never their secrets)').option('--json', 'print JSON')).action(
    async (flags: StoreFlags & { json?: boolean }) => {
      const tokens = await withStore(flags, async (store) => (await server()).listTokens(store.read));
      if (flags.json) {
        process.stdout.write(`${JSON.stringify(tokens, null, 2)}\n`);
        return;
      }
      for (const t of tokens) {
        const state = t.revokedAt !== null ? `revoked ${t.revokedAt}` : `last used ${t.lastUsedAt ?? 'never'}`;
        process.stdout.write(`${t.id}  ${t.role.padEnd(6)}  created ${t.createdAt}  ${state}${t.name ? `  ${t.name}` : ''}\n`);
      }
    },
  );

  storeOptions(token.command('revoke').description('revoke a token by its id').argument('<id>', 'the token id (tly_<id>_…)')).action(
    async (id: string, flags: StoreFlags) => {
      const done = await withStore(flags, async (store) => (await server()).revokeToken(store.db, id));
      if (done) process.stderr.write(`tally: token ${id} revoked\n`);
      else {
        process.stderr.write(`tally: no live token ${id}\n`);
        process.exitCode = EXIT.error;
      }
    },
  );
  return token;
}

/**
 * `tally registry add|list|remove|sync`: the registries the backend scans, written straight into the store (like
 * `tally token`; the server need not run). A registry's repositories are synced on its schedule by the jobs
 * (`tally serve` on SQLite, `tally worker` on PostgreSQL): one scan per manifest digest not stored yet.
 * Passwords are never stored: `--password-env NAME` / `--password-file PATH` store where each worker reads it.
 */
import { Command, Option } from 'commander';
import type { RegistryInfo } from '@tally/server';
import { EXIT } from '../exit-codes.js';
import { storeOptions, withStore, type StoreFlags } from './token.js';

const server = (): Promise<typeof import('@tally/server')> => import('@tally/server');
const collect = (value: string, previous: string[]): string[] => [...previous, value];

interface AddFlags extends StoreFlags {
  schedule?: string;
  performScaScan?: boolean;
  repo: string[];
  tags: string[];
  insecure?: boolean;
  username?: string;
  passwordEnv?: string;
  passwordFile?: string;
  caCert?: string;
  json?: boolean;
}

function describe(r: RegistryInfo): string {
  const parts = [
    `${r.id}  ${r.url}`,
    r.schedule !== null ? `schedule '${r.schedule}' (UTC)` : 'on request only',
    r.performSca ? 'Static+SCA' : 'Static',
    ...(r.repos.length > 0 ? [`repos ${r.repos.join(',')}`] : []),
    ...(r.tags.length > 0 ? [`tags ${r.tags.join(',')}`] : []),
    ...(r.username !== null ? [`user ${r.username}${r.passwordRef !== null ? ` (password from ${r.passwordRef})` : ''}`] : []),
    r.lastSync === null ? 'never synced' : `last sync ${r.lastSync.at} ${r.lastSync.state}${r.lastSync.error ? `: ${r.lastSync.error}` : ''}`,
  ];
  return parts.join('  ');
}

export function registryCommand(): Command {
  const registry = new Command('registry').description('registries the backend scans on a schedule (one scan job per new manifest digest)');

  storeOptions(
    registry
      .command('add')
      .description('add (or update) a registry to scan')
      .argument('<url>', 'https://host[:port], http://host[:port], or host[:port]')
      .option('--schedule <cron>', "when to sync: five cron fields in UTC, e.g. '*/30 * * * *' (default: only on tally registry sync)")
      .option('--perform-sca-scan', 'scan language packages too (SCA), as tally scan --perform-sca-scan')
      .addOption(new Option('--repo <glob>', 'repositories to scan (* within a path segment, ** across); repeatable; default all (from _catalog)').argParser(collect).default([]))
      .addOption(new Option('--tags <glob>', 'tags to scan; repeatable; default all').argParser(collect).default([]))
      .option('--insecure', 'plain HTTP')
      .option('--username <user>', 'registry user (default: the Docker credentials of each worker)')
      .addOption(new Option('--password-env <name>', 'the environment variable holding the password on each worker').conflicts('passwordFile'))
      .option('--password-file <path>', 'the file holding the password on each worker')
      .option('--ca-cert <file>', "a PEM CA certificate (its path on each worker) to trust for the registry's TLS")
      .option('--json', 'print the registry as JSON'),
  ).action(async (url: string, flags: AddFlags) => {
    const passwordRef = flags.passwordEnv !== undefined ? `env:${flags.passwordEnv}` : flags.passwordFile !== undefined ? `file:${flags.passwordFile}` : null;
    const added = await withStore(flags, async (store) =>
      (await server()).addRegistry(store, {
        url,
        schedule: flags.schedule ?? null,
        performSca: flags.performScaScan === true,
        repos: flags.repo,
        tags: flags.tags,
        insecure: flags.insecure === true,
        username: flags.username ?? null,
        passwordRef,
        caCertRef: flags.caCert ?? null,
      }),
    );
    if (flags.json) process.stdout.write(`${JSON.stringify(added, null, 2)}\n`);
    else process.stderr.write(`tally: registry ${describe(added)}\n`);
  });

  storeOptions(registry.command('list').description('list registries and their last sync').option('--json', 'print JSON')).action(async (flags: StoreFlags & { json?: boolean }) => {
    const list = await withStore(flags, async (store) => (await server()).listRegistries(store));
    if (flags.json) process.stdout.write(`${JSON.stringify(list, null, 2)}\n`);
    else for (const r of list) process.stdout.write(`${describe(r)}\n`);
  });

  storeOptions(registry.command('remove').description('stop scanning a registry (its images stay)').argument('<registry>', 'its id or URL')).action(async (which: string, flags: StoreFlags) => {
    const removed = await withStore(flags, async (store) => (await server()).removeRegistry(store, which));
    if (removed !== null) process.stderr.write(`tally: registry ${removed.url} removed\n`);
    else {
      process.stderr.write(`tally: no registry ${which}\n`);
      process.exitCode = EXIT.error;
    }
  });

  storeOptions(
    registry
      .command('sync')
      .description('sync a registry now: queued for the workers on PostgreSQL; run by this command on SQLite')
      .argument('<registry>', 'its id or URL')
      .option('--wait', 'PostgreSQL: wait until the workers have no job left, then summarise'),
  ).action(async (which: string, flags: StoreFlags & { wait?: boolean }) => {
    const { syncNow } = await server();
    const r = await syncNow({ database: flags.database ?? process.env['TALLY_DATABASE_URL'], dataDir: flags.dataDir, registry: which, wait: flags.wait === true });
    if (r.jobs === null || r.counts === null) {
      process.stderr.write(`tally: queued job ${r.job.id} (${r.job.name} ${r.job.subject ?? ''}); tally worker processes run it\n`);
      return;
    }
    const scans = r.jobs.filter((j) => j.name === 'scan-manifest');
    process.stdout.write(`${JSON.stringify({ sync: r.job, scans: { total: scans.length, ...r.counts } }, null, 2)}\n`);
    if (r.job.state === 'failed' || scans.some((j) => j.state === 'failed')) process.exitCode = EXIT.error;
  });
  return registry;
}

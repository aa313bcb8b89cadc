/**
 * Registries as data: what `tally registry add|list|remove` writes and the registry jobs read.
 *
 * Credentials are never stored. A registry row holds a user name and a *reference* to the password that each worker
 * resolves when it needs it: `env:NAME` (an environment variable of the worker) or `file:PATH` (a file on the
 * worker, e.g. a mounted secret). Without one, the worker's Docker config (`~/.docker/config.json`, credential
 * helpers included) answers, as for `tally scan registry:…`. Logs and job errors name the reference, never the value.
 */
import { readFile } from 'node:fs/promises';
import type { RegistryOptions } from '@tally/core';
import type { Selectable } from 'kysely';
import type { Store } from '../store/database.js';
import type { RegistriesTable } from '../store/schema.js';
import { cronMatcher } from './schedule.js';

export type RegistryRow = Selectable<RegistriesTable>;

export interface RegistryInput {
  readonly url: string;
  readonly schedule?: string | null;
  readonly performSca?: boolean;
  readonly repos?: readonly string[];
  readonly tags?: readonly string[];
  readonly insecure?: boolean;
  readonly username?: string | null;
  readonly passwordRef?: string | null;
  readonly caCertRef?: string | null;
}

export interface RegistryInfo {
  readonly id: number;
  readonly url: string;
  readonly registry: string;
  readonly insecure: boolean;
  readonly schedule: string | null;
  readonly performSca: boolean;
  readonly repos: readonly string[];
  readonly tags: readonly string[];
  readonly username: string | null;
  readonly passwordRef: string | null;
  readonly caCertRef: string | null;
  readonly createdAt: string;
  readonly lastSync: { readonly at: string; readonly state: string; readonly error: string | null; readonly stats: unknown } | null;
}

/** `reg.example`, `https://reg.example:5000`, `http://127.0.0.1:5000` → the stored URL and the reference host. */
export function parseRegistryUrl(input: string, insecure = false): { url: string; registry: string; insecure: boolean } {
  const text = input.trim();
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `${insecure ? 'http' : 'https'}://${text}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new Error(`registry ${JSON.stringify(input)}: not a URL or host[:port]`);
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') throw new Error(`registry ${JSON.stringify(input)}: only https:// and http:// registries`);
  if (u.username !== '' || u.password !== '') throw new Error(`registry ${JSON.stringify(input)}: put no credentials in the URL (use --username with --password-env or --password-file)`);
  if ((u.pathname !== '/' && u.pathname !== '') || u.search !== '' || u.hash !== '') throw new Error(`registry ${JSON.stringify(input)}: give the registry only (no path); choose repositories with --repo`);
  const plain = u.protocol === 'http:';
  return { url: `${u.protocol}//${u.host}`, registry: u.host, insecure: plain || insecure };
}

export function checkSecretRef(ref: string): string {
  if (!/^(env:[A-Za-z_][A-Za-z0-9_]*|file:.+)$/.test(ref)) throw new Error(`credentials reference ${JSON.stringify(ref)}: expected env:NAME or file:PATH`);
  return ref;
}

/**
 * Globs over repository names and tags: `*` is any run of characters but `/`, `**` any run including `/`, `?` one
 * character; everything else is literal. An empty list matches everything.
 */
export function globMatcher(globs: readonly string[]): (name: string) => boolean {
  if (globs.length === 0) return () => true;
  const res = globs.map((g) => {
    let re = '';
    for (let i = 0; i < g.length; i++) {
      const c = g[i]!;
      if (c === '*' && g[i + 1] === '*') {
        re += '.*';
        i++;
      } else if (c === '*') re += '[^/]*';
      else if (c === '?') re += '[^/]';
      else re += c.replace(/[\\^$.|+()[\]{}]/g, '\\$&');
    }
    return new RegExp(`^${re}$`);
  });
  return (name) => res.some((r) => r.test(name));
}

/** Globs without wildcards name repositories outright: the sync then needs no `_catalog` (often forbidden). */
export function literalRepos(globs: readonly string[]): string[] | null {
  return globs.length > 0 && globs.every((g) => !/[*?]/.test(g)) ? [...globs] : null;
}

function info(r: RegistryRow): RegistryInfo {
  return {
    id: r.pk,
    url: r.url,
    registry: r.registry,
    insecure: r.insecure === 1,
    schedule: r.schedule,
    performSca: r.perform_sca === 1,
    repos: JSON.parse(r.repos) as string[],
    tags: JSON.parse(r.tags) as string[],
    username: r.username,
    passwordRef: r.password_ref,
    caCertRef: r.ca_cert_ref,
    createdAt: r.created_at,
    lastSync: r.last_sync_at === null ? null : { at: r.last_sync_at, state: r.last_sync_state ?? 'unknown', error: r.last_sync_error, stats: r.last_sync_stats === null ? null : (JSON.parse(r.last_sync_stats) as unknown) },
  };
}

export async function addRegistry(store: Store, input: RegistryInput): Promise<RegistryInfo> {
  const { url, registry, insecure } = parseRegistryUrl(input.url, input.insecure ?? false);
  const schedule = input.schedule === undefined || input.schedule === null || input.schedule.trim() === '' ? null : input.schedule.trim().split(/\s+/).join(' ');
  if (schedule !== null) cronMatcher(schedule);
  if ((input.passwordRef ?? null) !== null && (input.username ?? null) === null) throw new Error('a password reference needs a user name (--username)');
  const row = {
    url,
    registry,
    insecure: insecure ? 1 : 0,
    schedule,
    perform_sca: input.performSca === true ? 1 : 0,
    repos: JSON.stringify(input.repos ?? []),
    tags: JSON.stringify(input.tags ?? []),
    username: input.username ?? null,
    password_ref: input.passwordRef === undefined || input.passwordRef === null ? null : checkSecretRef(input.passwordRef),
    ca_cert_ref: input.caCertRef ?? null,
  };
  const now = new Date().toISOString();
  // Adding a registry again updates it (a new schedule, other globs) and keeps its sync history.
  await store.db
    .insertInto('registries')
    .values({ ...row, created_at: now })
    .onConflict((oc) => oc.column('url').doUpdateSet(row))
    .execute();
  return (await getRegistry(store, url))!;
}

/** By id or by URL (as given to `add`). */
export async function getRegistry(store: Store, idOrUrl: string | number): Promise<RegistryInfo | null> {
  const row = await findRow(store, idOrUrl);
  return row === undefined ? null : info(row);
}

async function findRow(store: Store, idOrUrl: string | number): Promise<RegistryRow | undefined> {
  const q = store.db.selectFrom('registries').selectAll();
  if (typeof idOrUrl === 'number' || /^\d+$/.test(idOrUrl)) return q.where('pk', '=', Number(idOrUrl)).executeTakeFirst();
  let url: string;
  try {
    url = parseRegistryUrl(idOrUrl).url;
  } catch {
    return undefined;
  }
  // `tally registry remove reg.example` finds the row whether it was added as https:// or http://.
  return q.where('registry', '=', new URL(url).host).orderBy('pk').executeTakeFirst();
}

export async function listRegistries(store: Store): Promise<RegistryInfo[]> {
  return (await store.read.selectFrom('registries').selectAll().orderBy('pk').execute()).map(info);
}

export async function removeRegistry(store: Store, idOrUrl: string | number): Promise<RegistryInfo | null> {
  const row = await findRow(store, idOrUrl);
  if (row === undefined) return null;
  await store.db.deleteFrom('registries').where('pk', '=', row.pk).execute();
  return info(row);
}

export async function recordSync(store: Store, pk: number, outcome: { state: 'ok' | 'failed'; error?: string; stats?: unknown }): Promise<void> {
  await store.db
    .updateTable('registries')
    .set({ last_sync_at: new Date().toISOString(), last_sync_state: outcome.state, last_sync_error: outcome.error ?? null, last_sync_stats: outcome.stats === undefined ? null : JSON.stringify(outcome.stats) })
    .where('pk', '=', pk)
    .execute();
}

/** The client options for a registry, with its password read from where the reference says (on this machine). */
export async function registryOptions(r: RegistryInfo): Promise<RegistryOptions> {
  let password: string | undefined;
  if (r.passwordRef !== null) {
    if (r.passwordRef.startsWith('env:')) {
      password = process.env[r.passwordRef.slice(4)];
      if (password === undefined || password === '') throw new Error(`registry ${r.url}: the password reference ${r.passwordRef} is not set on this worker`);
    } else {
      const path = r.passwordRef.slice(5);
      password = (await readFile(path, 'utf8').catch((err: unknown) => {
        throw new Error(`registry ${r.url}: cannot read the password file ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      })).replace(/\r?\n$/, '');
    }
  }
  const caCerts = r.caCertRef === null ? [] : [await readFile(r.caCertRef, 'utf8').catch(() => {
    throw new Error(`registry ${r.url}: cannot read the CA certificate ${r.caCertRef}`);
  })];
  return {
    ...(r.username !== null && password !== undefined ? { username: r.username, password } : {}),
    ...(r.insecure ? { insecure: true } : {}),
    ...(caCerts.length > 0 ? { caCerts } : {}),
  };
}

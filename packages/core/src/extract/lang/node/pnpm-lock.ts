/**
 * pnpm-lock.yaml, lockfile versions 5.x (`/lodash/4.17.21_peer@1.0.0`), 6.x (`/lodash@4.17.21(peer@1.0.0)`) and
 * 9.x (`lodash@4.17.21` in `packages`, `lodash@4.17.21(peer@1.0.0)` in `snapshots`). pnpm ≥ 11 may put an "env"
 * document (config dependencies, pnpm itself) before the project's: every document is read.
 */
import { parseSyml } from '@yarnpkg/parsers';
import { isObject, type JsonObject } from '../../../util/json.js';
import { cleanVersion, platformOf, RecordSet, resolvedSource, splitDescriptor, validName, type ParseResult, type SourceKind } from './common.js';

export function parsePnpmLock(text: string): ParseResult {
  const set = new RecordSet();
  const parsed: JsonObject[] = [];
  for (const source of splitDocuments(text)) {
    let value: unknown;
    try {
      // js-yaml with the failsafe schema (every scalar a string: `1.10` stays "1.10", `true` is "true"), a nesting
      // limit of 100, and no alias expansion bombs. yaml@2 took 21 s and 1.7 GB for a 32 MB lockfile; this 10× less.
      value = parseSyml(source);
    } catch (err) {
      throw new Error(`pnpm-lock.yaml: ${(err as Error).message.slice(0, 300)}`);
    }
    if (!isObject(value)) throw new Error('pnpm-lock.yaml: a document is not a mapping');
    if (Object.keys(value).length > 0) parsed.push(value);
  }
  parsed.forEach((doc, i) => readDocument(doc, set, i < parsed.length - 1));
  return set.result();
}

/** pnpm writes each document after a `---` line of its own (the env document first, when there is one). */
export function splitDocuments(text: string): string[] {
  const docs: string[] = [];
  let start = 0;
  let at = text.startsWith('---\n') || text.startsWith('---\r\n') ? 0 : text.indexOf('\n---');
  while (at >= 0) {
    const lineStart = at === 0 ? 0 : at + 1;
    const lineEnd = text.indexOf('\n', lineStart);
    const line = text.slice(lineStart, lineEnd < 0 ? text.length : lineEnd).trimEnd();
    if (line === '---') {
      if (lineStart > start) docs.push(text.slice(start, lineStart));
      start = lineEnd < 0 ? text.length : lineEnd + 1;
    }
    at = text.indexOf('\n---', lineStart + 1);
  }
  if (start < text.length) docs.push(text.slice(start));
  return docs;
}

function lockfileMajor(doc: JsonObject): number {
  const v = doc['lockfileVersion'];
  const n = typeof v === 'string' ? Number.parseInt(v, 10) : Number.NaN;
  return Number.isFinite(n) ? n : 9;
}

/** `env`: a document before the last one, holding config dependencies and the package manager itself. */
function readDocument(doc: JsonObject, set: RecordSet, env: boolean): void {
  const packages = doc['packages'];
  if (packages === undefined || packages === '') return; // a lockfile of a project without dependencies
  if (!isObject(packages)) {
    set.problem('`packages` is not a mapping');
    return;
  }
  const major = lockfileMajor(doc);
  const snapshots = isObject(doc['snapshots']) ? doc['snapshots'] : null;
  // v9 dropped the per-package `dev` flag: derive it from the importers' dependency graph
  const devOnly = snapshots !== null ? devOnlyPackages(doc, snapshots) : null;
  const optionalSnapshots = snapshots !== null ? optionalPackages(snapshots) : null;
  for (const [key, entry] of Object.entries(packages)) {
    if (!isObject(entry)) {
      set.problem(`${JSON.stringify(key.slice(0, 64))}: entry is not a mapping`);
      continue;
    }
    const id = identify(key, entry, major);
    if (id === null) {
      set.problem(`${JSON.stringify(key.slice(0, 64))}: unusable package key`);
      continue;
    }
    if (id.source === 'local') continue;
    const metadata: Record<string, string> = {};
    if (id.source !== 'registry') metadata['source'] = id.source;
    const platform = platformOf(entry['os'], entry['cpu']);
    if (platform !== null) metadata['platform'] = platform;
    if (env) metadata['pnpmEnv'] = 'true';
    const packageKey = stripPeers(key);
    set.add({
      name: id.name,
      version: id.version,
      dev: devOnly !== null ? devOnly.has(packageKey) : entry['dev'] === 'true',
      optional: optionalSnapshots !== null ? optionalSnapshots.has(packageKey) : entry['optional'] === 'true',
      metadata,
    });
  }
}

interface Identity {
  readonly name: string;
  readonly version: string;
  readonly source: SourceKind;
}

/**
 * Name and version of a `packages` entry. Registry packages are named by their key; git and tarball packages
 * have keys such as `github.com/user/repo/<sha>` or `foo@https://codeload…` and carry `name` and `version`.
 */
function identify(key: string, entry: JsonObject, major: number): Identity | null {
  const resolution = isObject(entry['resolution']) ? entry['resolution'] : null;
  const source = sourceOfResolution(resolution);
  const fromKey = major < 6 ? splitV5Key(key) : splitKey(key);
  const explicitName = typeof entry['name'] === 'string' ? entry['name'] : null;
  const explicitVersion = cleanVersion(entry['version']);
  if (fromKey !== null && (fromKey.version.startsWith('file:') || fromKey.version.startsWith('link:'))) return { name: fromKey.name, version: '', source: 'local' };
  if (key.startsWith('file:') || key.startsWith('link:')) return { name: '', version: '', source: 'local' };
  const name = explicitName ?? fromKey?.name ?? null;
  // a key's "version" that is a URL or path is no version; `version:` then holds the package.json's
  const keyVersion = fromKey !== null && fromKey.version.indexOf(':') < 0 && fromKey.version.indexOf('/') < 0 ? cleanVersion(fromKey.version) : null;
  const version = explicitVersion ?? keyVersion;
  if (name === null || version === null || !validName(name)) return null;
  return { name, version, source };
}

function sourceOfResolution(resolution: JsonObject | null): SourceKind {
  if (resolution === null) return 'registry';
  const type = resolution['type'];
  if (type === 'directory') return 'local';
  if (type === 'git') return 'git';
  const tarball = resolution['tarball'];
  // `file:` tarballs are local; codeload.github.com tarballs are how pnpm fetches GitHub dependencies
  if (typeof tarball === 'string') return resolvedSource(tarball);
  return 'registry';
}

/** v6/v9: `/@scope/name@1.0.0(peer@2.0.0)` or `name@1.0.0`. */
function splitKey(key: string): { name: string; version: string } | null {
  const bare = stripPeers(key.startsWith('/') ? key.slice(1) : key);
  const d = splitDescriptor(bare);
  return d === null ? null : { name: d.name, version: d.rest };
}

/** v5: `/@scope/name/1.0.0_peer@2.0.0`; the peer suffix starts at the first `_` (npm versions never hold one). */
function splitV5Key(key: string): { name: string; version: string } | null {
  const bare = key.startsWith('/') ? key.slice(1) : key;
  const first = bare.indexOf('/');
  if (first <= 0) return null;
  const nameEnd = bare.startsWith('@') ? bare.indexOf('/', first + 1) : first;
  if (nameEnd < 0) return null;
  const rest = bare.slice(nameEnd + 1);
  if (rest.indexOf('/') >= 0) return null; // `github.com/user/repo/sha` and other non-registry keys
  const underscore = rest.indexOf('_');
  return { name: bare.slice(0, nameEnd), version: underscore >= 0 ? rest.slice(0, underscore) : rest };
}

/** `foo@1.0.0(react@18.2.0)(react-dom@18.2.0)` → `foo@1.0.0`; also the v6 `/foo@1.0.0(...)` form. */
function stripPeers(key: string): string {
  const paren = key.indexOf('(');
  return paren >= 0 ? key.slice(0, paren) : key;
}

/** Snapshot key of a dependency: `debug: 2.6.9`, `foo: 1.0.0(react@18.2.0)`, alias `sw: string-width@4.2.3`. */
function snapshotKey(name: string, ref: unknown): string | null {
  if (typeof ref !== 'string' || ref.startsWith('link:') || ref.startsWith('file:')) return null;
  // an alias names the real package; a plain version contains no '@' before its peer suffix
  const at = ref.indexOf('@', 1);
  const paren = ref.indexOf('(');
  return at > 0 && (paren < 0 || at < paren) ? ref : `${name}@${ref}`;
}

function dependencyKeys(section: unknown, out: string[]): void {
  if (!isObject(section)) return;
  for (const [name, value] of Object.entries(section)) {
    // importers: `{specifier, version}`; snapshots and v5 importers: the version itself
    const ref = isObject(value) ? value['version'] : value;
    const key = snapshotKey(name, ref);
    if (key !== null) out.push(key);
  }
}

/** Everything reachable from `roots` through the snapshots' dependencies, as package keys (peers stripped). */
function reachable(roots: readonly string[], snapshots: JsonObject): Set<string> {
  const seen = new Set<string>();
  const packages = new Set<string>();
  const queue = [...roots];
  while (queue.length > 0) {
    const key = queue.pop()!;
    if (seen.has(key)) continue;
    seen.add(key);
    packages.add(stripPeers(key));
    const snap = Object.hasOwn(snapshots, key) ? snapshots[key] : undefined;
    if (!isObject(snap)) continue;
    dependencyKeys(snap['dependencies'], queue);
    dependencyKeys(snap['optionalDependencies'], queue);
  }
  return packages;
}

/** Packages reached only through some importer's devDependencies. */
function devOnlyPackages(doc: JsonObject, snapshots: JsonObject): Set<string> {
  const prodRoots: string[] = [];
  const devRoots: string[] = [];
  const importers = isObject(doc['importers']) ? Object.values(doc['importers']) : [doc];
  for (const importer of importers) {
    if (!isObject(importer)) continue;
    dependencyKeys(importer['dependencies'], prodRoots);
    dependencyKeys(importer['optionalDependencies'], prodRoots);
    dependencyKeys(importer['devDependencies'], devRoots);
  }
  const prod = reachable(prodRoots, snapshots);
  const dev = reachable(devRoots, snapshots);
  for (const key of prod) dev.delete(key);
  return dev;
}

/** v9 marks optional packages in their snapshots; a package is optional when all its snapshots are. */
function optionalPackages(snapshots: JsonObject): Set<string> {
  const optional = new Set<string>();
  const required = new Set<string>();
  for (const [key, snap] of Object.entries(snapshots)) {
    const pkg = stripPeers(key);
    if (isObject(snap) && snap['optional'] === 'true') optional.add(pkg);
    else required.add(pkg);
  }
  for (const key of required) optional.delete(key);
  return optional;
}

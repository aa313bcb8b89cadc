/** What every Node.js parser returns, and the checks they share on names, versions and specifiers. */

export interface NodeRecord {
  readonly name: string;
  readonly version: string;
  readonly licenses: readonly string[];
  /** Small facts for the report: dev, optional, platform, source, installedAs. */
  readonly metadata: Readonly<Record<string, string>>;
}

export interface ParseResult {
  readonly records: NodeRecord[];
  /** Problems inside the file: become issues on it; what could be read is still returned. */
  readonly problems: string[];
}

/** One hostile file must not flood the report: problems past this count are summarised. */
export const MAX_PROBLEMS = 20;

/** npm's own limit on names is 214 characters; a scope adds a little. */
const MAX_NAME = 256;
const MAX_VERSION = 256;
const MAX_LICENSE = 256;

/**
 * npm package names: `name` or `@scope/name`, URL-safe characters only. Legacy names may hold capitals; npm never
 * allowed spaces, control characters or more than one slash.
 */
const NAME = /^(?:@[A-Za-z0-9._~!*'()-]+\/)?[A-Za-z0-9._~!*'()-]+$/;

export function validName(name: string): boolean {
  return name.length > 0 && name.length <= MAX_NAME && NAME.test(name) && name !== '.' && name !== '..';
}

/** A usable version: a non-empty string without whitespace or control characters; null otherwise. */
export function cleanVersion(v: unknown): string | null {
  if (typeof v !== 'string') return null;
  const s = v.trim();
  if (s.length === 0 || s.length > MAX_VERSION) return null;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 32 || c === 127) return null;
  }
  return s;
}

/** Licence strings from `license` ("MIT", legacy `{type}`) and legacy `licenses` ([{type}] or ["MIT"]). */
export function licensesOf(license: unknown, licenses: unknown): string[] {
  const out: string[] = [];
  const add = (v: unknown): void => {
    const raw = typeof v === 'string' ? v : typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as { type?: unknown }).type : undefined;
    if (typeof raw !== 'string') return;
    const s = raw.trim();
    if (s.length > 0 && s.length <= MAX_LICENSE && !out.includes(s)) out.push(s);
  };
  add(license);
  if (Array.isArray(licenses)) for (const l of licenses.slice(0, 16)) add(l);
  else add(licenses);
  return out;
}

/** Split `name@rest` (`@babel/core@^7.0.0` → `@babel/core`, `^7.0.0`); null when there is no separator. */
export function splitDescriptor(descriptor: string): { name: string; rest: string } | null {
  const at = descriptor.indexOf('@', descriptor.startsWith('@') ? 1 : 0);
  if (at <= 0) return null;
  return { name: descriptor.slice(0, at), rest: descriptor.slice(at + 1) };
}

/** Where a locked package comes from, judged by its specifier or resolution. */
export type SourceKind = 'registry' | 'local' | 'git' | 'url';

/**
 * `link:`, `file:`, `workspace:`, `portal:` and `exec:` point into the app's own tree: not registry packages, so
 * not reported. git and tarball URLs are packages fetched from elsewhere: reported, marked with their source.
 */
export function sourceKind(spec: string): SourceKind {
  const colon = spec.indexOf(':');
  if (colon < 0) return spec.startsWith('.') || spec.startsWith('/') ? 'local' : 'registry';
  const protocol = spec.slice(0, colon);
  switch (protocol) {
    case 'npm':
    case 'patch': // yarn berry: a registry package with a patch applied; the patch keeps its name and version
      return 'registry';
    case 'link':
    case 'file':
    case 'workspace':
    case 'portal':
    case 'exec':
      return 'local';
    case 'http':
    case 'https':
      return spec.endsWith('.git') || spec.indexOf('.git#') >= 0 ? 'git' : 'url';
    default:
      // git, git+ssh, git+https, github, gitlab, bitbucket, and `user/repo` shorthands
      return protocol.startsWith('git') || protocol === 'bitbucket' ? 'git' : 'url';
  }
}

/**
 * Where a `resolved` URL (npm, yarn classic) fetched a package from: registry tarball URLs have npm's `/-/` path
 * form on every registry and mirror; `file:` is a local tarball or folder.
 */
export function resolvedSource(resolved: string): SourceKind {
  if (resolved === '') return 'registry';
  if (resolved.startsWith('https://') || resolved.startsWith('http://')) {
    if (resolved.indexOf('/-/') >= 0) return 'registry';
    return resolved.endsWith('.git') || resolved.indexOf('.git#') >= 0 ? 'git' : 'url';
  }
  if (resolved.indexOf(':') < 0) return 'local'; // a relative folder (npm `link` targets)
  return sourceKind(resolved);
}

interface Accumulated {
  name: string;
  version: string;
  licenses: string[];
  metadata: Record<string, string>;
  /** Every copy is dev-only / optional-only: one production copy makes the package production. */
  dev: boolean;
  optional: boolean;
}

/**
 * Collects records of one file and merges copies of the same name@version (a lockfile lists a package once per
 * place it is installed): dev and optional hold only if they hold for every copy.
 */
export class RecordSet {
  private readonly byKey = new Map<string, Accumulated>();
  readonly problems: string[] = [];
  private dropped = 0;

  add(entry: { name: string; version: string; licenses?: readonly string[]; dev?: boolean; optional?: boolean; metadata?: Record<string, string> }): void {
    const key = `${entry.name}@${entry.version}`;
    const existing = this.byKey.get(key);
    if (existing) {
      existing.dev &&= entry.dev === true;
      existing.optional &&= entry.optional === true;
      for (const l of entry.licenses ?? []) if (!existing.licenses.includes(l)) existing.licenses.push(l);
      for (const [k, v] of Object.entries(entry.metadata ?? {})) if (!(k in existing.metadata)) existing.metadata[k] = v;
      return;
    }
    this.byKey.set(key, {
      name: entry.name,
      version: entry.version,
      licenses: [...(entry.licenses ?? [])],
      metadata: { ...entry.metadata },
      dev: entry.dev === true,
      optional: entry.optional === true,
    });
  }

  problem(message: string): void {
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(message);
    else this.dropped++;
  }

  result(): ParseResult {
    const records = [...this.byKey.values()].map((a): NodeRecord => {
      const metadata: Record<string, string> = {};
      if (a.dev) metadata['dev'] = 'true';
      if (a.optional) metadata['optional'] = 'true';
      Object.assign(metadata, a.metadata);
      return { name: a.name, version: a.version, licenses: a.licenses, metadata };
    });
    const problems = this.dropped > 0 ? [...this.problems, `${this.dropped} more problems like the above`] : [...this.problems];
    return { records, problems };
  }
}

/** `os=darwin & cpu=arm64` (yarn berry's `conditions` form) from npm/pnpm `os` and `cpu` lists. */
export function platformOf(os: unknown, cpu: unknown): string | null {
  const part = (label: string, v: unknown): string | null => {
    const list = Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string' && x.length <= 32).slice(0, 16) : [];
    return list.length > 0 ? `${label}=${list.join('|')}` : null;
  };
  const parts = [part('os', os), part('cpu', cpu)].filter((p): p is string => p !== null);
  return parts.length > 0 ? parts.join(' & ') : null;
}

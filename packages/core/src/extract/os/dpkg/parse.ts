/** Pure parsers for dpkg's database: `status` (and distroless `status.d/*`) and `info/*.list`. */

export interface DpkgPackage {
  readonly name: string;
  readonly version: string;
  readonly architecture: string;
  readonly source: { readonly name: string; readonly version: string };
  readonly maintainer: string | null;
  readonly status: string;
}

export interface DpkgParseResult {
  readonly packages: DpkgPackage[];
  /** Entries that could not be used (missing fields, truncated paragraph). */
  readonly problems: string[];
}

/**
 * Want/flag/status triples whose files are on disk. `config-files` (removed, conffiles kept) and `not-installed`
 * are excluded: nothing of the package but configuration remains. Half-installed and unpacked packages keep
 * their (possibly vulnerable) files, so they are reported.
 */
const PRESENT_STATES: ReadonlySet<string> = new Set([
  'installed',
  'triggers-awaited',
  'triggers-pending',
  'half-configured',
  'unpacked',
  'half-installed',
]);

/** Split control-file text into paragraphs of single-line fields (continuation lines are ignored: not needed). */
export function parseControlParagraphs(text: string): Map<string, string>[] {
  const paragraphs: Map<string, string>[] = [];
  let current: Map<string, string> | null = null;
  for (const rawLine of text.split('\n')) {
    const line = rawLine.endsWith('\r') ? rawLine.slice(0, -1) : rawLine;
    if (line.trim() === '') {
      if (current) paragraphs.push(current);
      current = null;
      continue;
    }
    const first = line.charCodeAt(0);
    if (first === 32 || first === 9) continue; // continuation of a multi-line field
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    current ??= new Map();
    current.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
  }
  if (current) paragraphs.push(current);
  return paragraphs;
}

/** `Source: openssl` or `Source: openssl (3.0.11-1)`: the source version defaults to the binary's. */
export function parseSourceField(value: string | undefined, name: string, version: string): { name: string; version: string } {
  if (!value) return { name, version };
  const m = /^(\S+)(?:\s+\(([^)]+)\))?/.exec(value);
  if (!m) return { name, version };
  return { name: m[1]!, version: m[2]?.trim() || version };
}

/**
 * `presenceMeansInstalled`: distroless `status.d/<pkg>` files are the package's control file without a Status
 * field; the file being there is what says the package is installed.
 */
export function parseDpkgStatus(text: string, options: { presenceMeansInstalled?: boolean } = {}): DpkgParseResult {
  const packages: DpkgPackage[] = [];
  const problems: string[] = [];
  const paragraphs = parseControlParagraphs(text);
  if (text.length > 0 && !text.endsWith('\n') && paragraphs.length > 0) {
    // A file cut mid-line: its last entry may hold a cut version string, so it is not trusted.
    const last = paragraphs.pop()!;
    problems.push(`file ends mid-line (truncated?): last entry${last.has('package') ? ` (${last.get('package')})` : ''} skipped`);
  }
  paragraphs.forEach((p, i) => {
    const name = p.get('package');
    const status = p.get('status');
    const version = p.get('version');
    if (!name) {
      problems.push(`paragraph ${i + 1}: no Package field`);
      return;
    }
    if (!status && !options.presenceMeansInstalled) {
      problems.push(`package ${name}: no Status field`);
      return;
    }
    const state = status ? (status.split(/\s+/)[2] ?? '') : 'installed';
    if (!PRESENT_STATES.has(state)) return;
    if (!version) {
      problems.push(`package ${name}: no Version field`);
      return;
    }
    packages.push({
      name,
      version,
      architecture: p.get('architecture') ?? '',
      source: parseSourceField(p.get('source'), name, version),
      maintainer: p.get('maintainer') ?? null,
      status: status ?? 'install ok installed',
    });
  });
  return { packages, problems };
}

/** `/var/lib/dpkg/info/libc6:amd64.list` → "libc6". */
export function packageNameOfListFile(path: string): string {
  const base = path.slice(path.lastIndexOf('/') + 1, -'.list'.length);
  const colon = base.indexOf(':');
  return colon >= 0 ? base.slice(0, colon) : base;
}

/** Lines of a `.list` file (one absolute path each) that pass `keep`. */
export function parseListFile(text: string, keep: (path: string) => boolean): string[] {
  const out: string[] = [];
  for (const line of text.split('\n')) {
    if (line.length > 1 && keep(line)) out.push(line);
  }
  return out;
}

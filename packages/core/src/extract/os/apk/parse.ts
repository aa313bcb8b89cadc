/**
 * Pure parser for apk-tools' database of installed packages (`/lib/apk/db/installed`): one paragraph per
 * package, lines of `K:value` with a one-letter key, paragraphs separated by a blank line. Used here:
 *   P name   V version   A arch   L license   o origin (the source package)   m maintainer
 *   F a directory (relative to /) that the following R lines are in   R a file in the current directory
 * Everything else (C, S, I, T, U, t, c, D, p, i, r, k, a, M, Z, …) is skipped.
 */

export interface ApkPackage {
  readonly name: string;
  readonly version: string;
  readonly arch: string | null;
  readonly origin: string | null;
  readonly license: string | null;
  readonly maintainer: string | null;
  /** Owned files that passed the `keep` filter (none when no filter was given). */
  readonly files: string[];
}

export interface ApkParseResult {
  readonly packages: ApkPackage[];
  /** Entries that could not be used (missing P or V, typically a truncated last entry). */
  readonly problems: string[];
}

interface Entry {
  readonly line: number;
  readonly fields: Map<string, string>;
  readonly files: string[];
  /** "/" + the current F directory + "/": R lines are joined to it. */
  dirPrefix: string;
}

export function parseApkInstalled(text: string, keep: ((path: string) => boolean) | null): ApkParseResult {
  const packages: ApkPackage[] = [];
  const problems: string[] = [];
  let entry: Entry | null = null;
  let count = 0;

  const finish = (e: Entry): void => {
    count++;
    const name = e.fields.get('P');
    const version = e.fields.get('V');
    if (!name || !version) {
      const missing = [name ? null : 'P (name)', version ? null : 'V (version)'].filter((m) => m !== null).join(' and ');
      problems.push(`entry ${count} at line ${e.line}${name ? ` (${name})` : ''}: no ${missing}; skipped`);
      return;
    }
    packages.push({
      name,
      version,
      arch: e.fields.get('A') || null,
      origin: e.fields.get('o') || null,
      license: e.fields.get('L') || null,
      maintainer: e.fields.get('m') || null,
      files: e.files,
    });
  };

  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line === '') {
      if (entry) finish(entry);
      entry = null;
      continue;
    }
    if (line.length < 2 || line[1] !== ':') continue; // not a field line; apk ignores these too
    const key = line[0]!;
    const value = line.slice(2);
    entry ??= { line: i + 1, fields: new Map(), files: [], dirPrefix: '/' };
    if (key === 'F') entry.dirPrefix = dirPrefix(value);
    else if (key === 'R') {
      if (keep) {
        const path = entry.dirPrefix + value;
        if (keep(path)) entry.files.push(path);
      }
    } else if (!entry.fields.has(key)) entry.fields.set(key, value); // repeated keys (a, Z, M) only matter per file
  }
  if (entry) finish(entry);
  if (text.length > 0 && !text.endsWith('\n')) problems.push('file does not end with a newline: it may be truncated');
  return { packages, problems };
}

/** `F:usr/lib/python3.12/site-packages` → "/usr/lib/python3.12/site-packages/", so `R:six.py` becomes absolute. */
function dirPrefix(dir: string): string {
  const d = dir.replace(/^\/+|\/+$/g, '');
  return d === '' ? '/' : `/${d}/`;
}

/**
 * The `L:` field as a list of licenses. A conjunction of plain identifiers ("MIT AND BSD-2-Clause") means all
 * of them apply, so it is split into a list. Anything else is kept whole as one entry: an OR is a choice and a
 * WITH an exception, which a flat list would misstate, and old space-separated values ("GPL-2.0 LGPL-2.1",
 * "Public Domain") cannot be split reliably.
 */
export function licensesOf(field: string): string[] {
  const expr = field.trim();
  if (expr === '') return [];
  if (/[()]/.test(expr) || / (?:OR|WITH|or|with) /.test(expr)) return [expr];
  const parts = expr.split(/ AND | and /).map((p) => p.trim());
  return parts.length > 1 && parts.every((p) => p !== '' && !/\s/.test(p)) ? parts : [expr];
}

/**
 * Go module info (the text `go version -m` prints) → modules, and the packages Tally reports for one binary.
 * Pure: text in, records out.
 *
 * Module info lines (tab-separated; only newline-terminated lines count, as in runtime/debug.ParseBuildInfo):
 *   path  <main package path>
 *   mod   <main module path> <version> [<sum>]
 *   dep   <module path> <version> [<sum>]
 *   =>    <replacement path> <version> <sum>      replaces the mod/dep line just above it
 *   build <key>=<value>                            Go >= 1.18; key and value Go-quoted when they hold spaces etc.
 */
import { canonicalGoVersion } from '../../../version/go.js';
import type { ExtractedPackage } from '../../extractor.js';

export interface GoModule {
  readonly path: string;
  readonly version: string;
  readonly sum: string;
  readonly replace: { readonly path: string; readonly version: string; readonly sum: string } | null;
}

export interface ModInfo {
  /** The main package's import path ("github.com/x/y/cmd/y", "command-line-arguments"). */
  readonly path: string;
  /** Null for GOPATH builds (no `mod` line). */
  readonly main: GoModule | null;
  readonly deps: readonly GoModule[];
  readonly settings: ReadonlyArray<readonly [key: string, value: string]>;
  readonly problems: readonly string[];
}

const FIELD_MAX = 4096;

export function parseModInfo(text: string): ModInfo {
  let path = '';
  let main = null as GoModule | null;
  const deps: GoModule[] = [];
  const settings: Array<[string, string]> = [];
  const problems: string[] = [];
  /** The line a `=>` replaces: the main module (-1), a dep (its index), or none. */
  let last: number | null = null;
  const lines = text.split('\n');
  lines.pop(); // an unterminated last line is ignored, as Go does
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!;
    const n = i + 1;
    const tab = line.indexOf('\t');
    const kind = tab < 0 ? line : line.slice(0, tab);
    const rest = tab < 0 ? '' : line.slice(tab + 1);
    switch (kind) {
      case 'path':
        path = rest;
        continue;
      case 'mod':
      case 'dep': {
        const mod = moduleLine(rest);
        if (typeof mod === 'string') {
          problems.push(`module info line ${n}: ${mod}`);
          last = null;
          continue;
        }
        if (kind === 'mod') {
          main = mod;
          last = -1;
        } else {
          deps.push(mod);
          last = deps.length - 1;
        }
        continue;
      }
      case '=>': {
        const f = rest.split('\t');
        if (f.length !== 3 || !validField(f[0]!) || f[1]!.length > FIELD_MAX) {
          problems.push(`module info line ${n}: malformed replacement`);
        } else if (last === null) {
          problems.push(`module info line ${n}: replacement with no module above it`);
        } else {
          const replace = { path: f[0]!, version: f[1]!, sum: f[2]! };
          if (last === -1 && main) main = { ...main, replace };
          else if (last >= 0) deps[last] = { ...deps[last]!, replace };
        }
        last = null;
        continue;
      }
      case 'build': {
        const kv = buildSetting(rest);
        if (typeof kv === 'string') problems.push(`module info line ${n}: ${kv}`);
        else settings.push(kv);
        continue;
      }
      default:
        // blank and unknown lines are skipped (newer toolchains may add kinds)
        continue;
    }
  }
  return { path, main, deps, settings, problems };
}

function validField(s: string): boolean {
  if (s.length === 0 || s.length > FIELD_MAX) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return false;
  }
  return true;
}

function moduleLine(rest: string): GoModule | string {
  const f = rest.split('\t');
  if (f.length !== 2 && f.length !== 3) return `expected 2 or 3 columns, got ${f.length}`;
  const [path, version, sum = ''] = f as [string, string, string?];
  if (!validField(path)) return 'malformed module path';
  if (version.length > FIELD_MAX) return 'module version too long';
  return { path, version, sum, replace: null };
}

function buildSetting(kv: string): [string, string] | string {
  if (kv.length === 0) return "build line missing '='";
  let key: string;
  let raw: string;
  if (kv[0] === '"' || kv[0] === '`') {
    const q = quotedPrefix(kv);
    if (q === null) return 'invalid quoted key in build line';
    if (kv[q.length] !== '=') return "build line missing '=' after quoted key";
    key = q.value;
    raw = kv.slice(q.length + 1);
  } else {
    const eq = kv.indexOf('=');
    if (eq <= 0) return eq === 0 ? 'build line with missing key' : "build line missing '=' after key";
    key = kv.slice(0, eq);
    raw = kv.slice(eq + 1);
  }
  let value = raw;
  if (raw[0] === '"' || raw[0] === '`') {
    const q = quotedPrefix(raw);
    if (q === null || q.length !== raw.length) return `invalid quoted value for build setting ${key}`;
    value = q.value;
  }
  return [key, value];
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  a: '\x07',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
  v: '\v',
  '\\': '\\',
  '"': '"',
  "'": "'",
};

/** A Go quoted string literal at the start of `s` (strconv.QuotedPrefix + Unquote): its length and value. */
export function quotedPrefix(s: string): { length: number; value: string } | null {
  const q = s[0];
  if (q === '`') {
    const end = s.indexOf('`', 1);
    return end < 0 ? null : { length: end + 1, value: s.slice(1, end).replaceAll('\r', '') };
  }
  if (q !== '"') return null;
  const bytes: number[] = [];
  const pushText = (t: string): void => {
    for (const b of Buffer.from(t, 'utf8')) bytes.push(b);
  };
  let i = 1;
  while (i < s.length) {
    const c = s[i]!;
    if (c === '"') return { length: i + 1, value: Buffer.from(bytes).toString('utf8') };
    if (c === '\n') return null;
    if (c !== '\\') {
      const cp = s.codePointAt(i)!;
      const ch = String.fromCodePoint(cp);
      pushText(ch);
      i += ch.length;
      continue;
    }
    const e = s[i + 1];
    if (e === undefined) return null;
    const simple = SIMPLE_ESCAPES[e];
    if (simple !== undefined) {
      pushText(simple);
      i += 2;
    } else if (e === 'x') {
      const h = s.slice(i + 2, i + 4);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) return null;
      bytes.push(parseInt(h, 16)); // \x is a raw byte, as in Go
      i += 4;
    } else if (e >= '0' && e <= '7') {
      const o = s.slice(i + 1, i + 4);
      if (!/^[0-7]{3}$/.test(o) || parseInt(o, 8) > 255) return null;
      bytes.push(parseInt(o, 8));
      i += 4;
    } else if (e === 'u' || e === 'U') {
      const n = e === 'u' ? 4 : 8;
      const h = s.slice(i + 2, i + 2 + n);
      if (!new RegExp(`^[0-9a-fA-F]{${n}}$`).test(h)) return null;
      const cp = parseInt(h, 16);
      if (cp > 0x10ffff || (cp >= 0xd800 && cp < 0xe000)) return null;
      pushText(String.fromCodePoint(cp));
      i += 2 + n;
    } else {
      return null;
    }
  }
  return null;
}

// ---------------------------------------------------------------------------------------------------------------
// Main-module version when the build info says "(devel)"

/** A module version (x/mod semver with the v): `v1.2.3`, `v1.2.3-rc.1`, `v1.2.3+incompatible`. */
function isModuleVersion(v: string): boolean {
  return /^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?(\+[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$/.test(v);
}

/** Split -ldflags as the go command does (cmd/internal/quoted): whitespace-separated, a field may be quoted. */
export function splitFlags(s: string): string[] {
  const out: string[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      const end = s.indexOf(c, i + 1);
      if (end < 0) {
        out.push(s.slice(i + 1));
        break;
      }
      out.push(s.slice(i + 1, end));
      i = end + 1;
      continue;
    }
    let j = i;
    while (j < s.length && !' \t\n\r'.includes(s[j]!)) j++;
    out.push(s.slice(i, j));
    i = j;
  }
  return out;
}

/** `-X importpath.name=value` assignments from an -ldflags value. */
export function ldflagsAssignments(ldflags: string): Array<{ name: string; value: string }> {
  const f = splitFlags(ldflags);
  const out: Array<{ name: string; value: string }> = [];
  for (let i = 0; i < f.length; i++) {
    const a = f[i]!;
    let def: string | undefined;
    if (a === '-X' || a === '--X') def = f[++i];
    else if (a.startsWith('-X=')) def = a.slice(3);
    else if (a.startsWith('--X=')) def = a.slice(4);
    if (def === undefined) continue;
    // people quote the whole definition or just the value: -X 'main.v=1', -X main.v='1'
    def = stripQuotes(def);
    const eq = def.indexOf('=');
    if (eq <= 0) continue;
    out.push({ name: def.slice(0, eq), value: stripQuotes(def.slice(eq + 1)) });
  }
  return out;
}

function stripQuotes(s: string): string {
  return s.length >= 2 && (s[0] === "'" || s[0] === '"') && s[s.length - 1] === s[0] ? s.slice(1, -1) : s;
}

const VERSION_VAR = /^(app|build|release|git|semver|cli|binary|product|server|client|main)?_?ver(sion)?$/i;
const TAG_VAR = /^(git|release|build)?_?tag$/i;

/**
 * The main module's version from `-X pkg.Var=value` flags: a variable named like a version (`version`,
 * `Version`, `appVersion`, `gitVersion`; then `gitTag`-like ones) whose value is a semantic version. Variables in
 * package main or under the main module win over others. Returns the version with a `v` and the variable.
 */
export function ldflagsVersion(ldflags: string, modulePath: string, mainPath: string): { version: string; variable: string } | null {
  let best: { version: string; variable: string; score: number } | null = null;
  for (const { name, value } of ldflagsAssignments(ldflags)) {
    const dot = name.lastIndexOf('.');
    if (dot <= 0) continue;
    const pkg = name.slice(0, dot);
    const v = name.slice(dot + 1);
    let score = VERSION_VAR.test(v) ? (v.toLowerCase() === 'version' ? 3 : 2) : TAG_VAR.test(v) ? 1 : 0;
    if (score === 0) continue;
    const version = value.startsWith('v') ? value : `v${value}`;
    if (!isModuleVersion(version)) continue;
    if (pkg === 'main' || pkg === modulePath || pkg.startsWith(`${modulePath}/`) || pkg === mainPath) score += 10;
    if (!best || score > best.score) best = { version, variable: name, score };
  }
  return best && { version: best.version, variable: best.variable };
}

/** A pseudo-version `v0.0.0-YYYYMMDDhhmmss-abcdefabcdef` from vcs.revision and vcs.time, or null. */
export function vcsPseudoVersion(revision: string, time: string): string | null {
  if (!/^[0-9a-fA-F]{12,}$/.test(revision)) return null;
  const t = new Date(time);
  if (!/^\d{4}-\d{2}-\d{2}T/.test(time) || Number.isNaN(t.getTime())) return null;
  const p = (n: number): string => String(n).padStart(2, '0');
  const stamp = `${t.getUTCFullYear()}${p(t.getUTCMonth() + 1)}${p(t.getUTCDate())}${p(t.getUTCHours())}${p(t.getUTCMinutes())}${p(t.getUTCSeconds())}`;
  if (stamp.length !== 14) return null;
  return `v0.0.0-${stamp}-${revision.slice(0, 12).toLowerCase()}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Packages

/**
 * The stdlib version as Tally reports it: `v` + the SemVer form of the toolchain version, as the Go vulnerability
 * database spells stdlib ranges (there without the `v`; the golang version scheme treats the `v` as optional):
 * go1.21.3 → v1.21.3, go1.21 → v1.21.0, go1.21rc2 → v1.21.0-rc.2. Suffixes after the release (Google's
 * `go1.22-20231128-RC02 cl/… X:boringcrypto`, ` X:boringcrypto`) are dropped; the raw string stays in
 * metadata.goVersion. Null for development toolchains ("devel …") and anything unrecognised.
 */
export function stdlibVersion(goVersion: string): string | null {
  const m = /^go(\d+(?:\.\d+){0,2}(?:(?:alpha|beta|rc)\d+)?)(?=$|[^0-9A-Za-z.])/.exec(goVersion);
  if (!m) return null;
  const canonical = canonicalGoVersion(`go${m[1]!}`);
  return canonical === null ? null : `v${canonical}`;
}

function isLocalPath(p: string): boolean {
  return p.startsWith('./') || p.startsWith('../') || p.startsWith('/') || p === '.' || p === '..' || /^[A-Za-z]:[\\/]/.test(p);
}

const SETTING_METADATA: ReadonlyArray<readonly [string, string]> = [
  ['vcs', 'vcs'],
  ['vcs.revision', 'vcsRevision'],
  ['vcs.time', 'vcsTime'],
  ['vcs.modified', 'vcsModified'],
];

/**
 * The packages of one Go binary: the main module (when the build was in module mode), every dependency with its
 * replacement applied, and the standard library.
 *
 * - Replacements: `dep a v1 => b v2` is reported as b@v2 with metadata.originalPath/originalVersion. A local
 *   directory replacement (`=> ./x (devel)`) keeps the original module path, since that is what the code
 *   imports and what advisories name, with the version the build info gives ("(devel)") and
 *   metadata.replacedBy = the directory.
 * - Main module "(devel)": the version comes from `-ldflags -X …version=…` (identifiedBy/versionFrom 'ldflags'),
 *   else from vcs.revision + vcs.time as a pseudo-version ('vcs'); "(devel)" stays only when neither exists.
 */
export function goPackages(goVersion: string, info: ModInfo): ExtractedPackage[] {
  const base = { goVersion };
  const out: ExtractedPackage[] = [];
  const settings = new Map(info.settings);

  if (info.main) {
    const m = info.main.replace && info.main.replace.version !== '' ? { ...info.main, path: info.main.replace.path, version: info.main.replace.version } : info.main;
    const meta: Record<string, string> = { ...base };
    for (const [key, name] of SETTING_METADATA) {
      const v = settings.get(key);
      if (v !== undefined && v !== '') meta[name] = v;
    }
    let version = m.version;
    let identifiedBy = 'buildinfo';
    if (version === '' || version === '(devel)') {
      const ld = settings.get('-ldflags');
      const fromLd = ld === undefined ? null : ldflagsVersion(ld, m.path, info.path);
      const revision = settings.get('vcs.revision');
      const time = settings.get('vcs.time');
      const fromVcs = revision !== undefined && time !== undefined ? vcsPseudoVersion(revision, time) : null;
      if (fromLd) {
        version = fromLd.version;
        identifiedBy = 'ldflags';
        meta['versionFrom'] = 'ldflags';
        meta['ldflagsVariable'] = fromLd.variable;
      } else if (fromVcs) {
        version = fromVcs;
        identifiedBy = 'vcs';
        meta['versionFrom'] = 'vcs';
      } else {
        version = '(devel)';
      }
    }
    out.push({ type: 'golang', name: m.path, version, evidence: 'binary', identifiedBy, metadata: meta });
  }

  for (const d of info.deps) {
    const meta: Record<string, string> = { ...base };
    let name = d.path;
    let version = d.version;
    const r = d.replace;
    if (r) {
      meta['originalVersion'] = d.version;
      if (isLocalPath(r.path)) {
        meta['replacedBy'] = r.path;
        version = r.version === '' ? '(devel)' : r.version;
      } else {
        if (r.path !== d.path) meta['originalPath'] = d.path;
        name = r.path;
        version = r.version === '' ? '(devel)' : r.version;
      }
      if (r.sum !== '') meta['sum'] = r.sum;
    } else if (d.sum !== '') {
      meta['sum'] = d.sum;
    }
    out.push({ type: 'golang', name, version, evidence: 'binary', identifiedBy: 'buildinfo', metadata: meta });
  }

  const std = stdlibVersion(goVersion);
  if (std !== null) out.push({ type: 'golang', name: 'stdlib', version: std, evidence: 'binary', identifiedBy: 'buildinfo', metadata: { ...base } });
  return out;
}

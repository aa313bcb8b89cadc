/**
 * Ignore files (`.tallyignore.yaml`, `--ignore-file`): the findings a team has decided to accept, each decision
 * written down with a reason and, ideally, an expiry. The format is documented in docs/cli.md ("Ignore files"):
 *
 *   vulnerabilities:            # ignore one vulnerability (by id or alias), optionally only on some packages
 *     - id: CVE-2021-23337
 *       purls: [pkg:npm/lodash]  # optional: only on packages these purls name
 *       paths: [/srv/app/**]     # optional: only on packages found at these paths
 *       expires: 2026-12-31      # optional: applies through that day (UTC), then is reported as expired
 *       reason: not reachable    # optional (`statement` is accepted too)
 *   packages:                   # ignore every vulnerability of some packages
 *     - purl: pkg:npm/lodash@4.17.20        # or name (+ type, version), and/or paths
 *
 * The file is read with the YAML failsafe schema (every scalar a string, so `version: 1.10` stays "1.10" and
 * `expires: 2026-12-31` is not turned into a Date), every key is checked (a misspelt `expire:` must not silently
 * make a permanent ignore), and errors name the file and line. The input is capped in size and its nesting
 * pre-checked before the YAML parser sees it: yaml@2 recurses on nesting and can exhaust memory on a few thousand
 * levels, which no try/catch recovers from.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { isAlias, isMap, isNode, isPair, isScalar, isSeq, Lexer, LineCounter, parseDocument, type Node as YamlNode, type Pair } from 'yaml';
import { TallyError } from '../model/errors.js';
import { PACKAGE_TYPES, type Package, type PackageType } from '../model/package.js';
import type { Finding, IgnoreSelector } from '../model/report.js';
import { globToRegExp, GlobError, locationMatches } from './glob.js';
import { parsePurl, purlCovers, type PurlParts } from './purl-match.js';

export const IGNORE_FILE_NAME = '.tallyignore.yaml';

export interface IgnoreLimits {
  /** Larger files are refused unread: thousands of entries fit well below this. */
  readonly maxBytes: number;
  /** Flow collections (`[ ]`, `{ }`) nested deeper are refused before parsing; the schema needs two. */
  readonly maxFlowDepth: number;
  /** Block indentation (columns, `- ` included) beyond this is refused before parsing; the schema needs ~8. */
  readonly maxIndent: number;
}

export const DEFAULT_IGNORE_LIMITS: IgnoreLimits = { maxBytes: 256 * 1024, maxFlowDepth: 8, maxIndent: 256 };

/** One entry of an ignore file, checked and compiled. */
export interface IgnoreRule {
  readonly source: string;
  /** `vulnerabilities[0]` or `packages[2]`. */
  readonly rule: string;
  readonly line: number | null;
  /** The entry as written, for the report. */
  readonly entry: IgnoreSelector;
  readonly expires: { readonly text: string; readonly at: Date } | null;
  readonly reason: string | null;
  readonly match: {
    /** Upper-cased: ids are compared without case (`cve-2021-44228` is the same CVE). */
    readonly id: string | null;
    readonly purls: readonly PurlParts[];
    readonly name: string | null;
    readonly type: PackageType | null;
    readonly version: string | null;
    readonly paths: readonly RegExp[];
  };
}

export interface IgnoreFile {
  readonly source: string;
  readonly rules: readonly IgnoreRule[];
}

/** Whether an entry is past its expiry at `now`. */
export function isExpired(rule: IgnoreRule, now: Date): boolean {
  return rule.expires !== null && now.getTime() >= rule.expires.at.getTime();
}

/**
 * Whether an entry (expired or not) names a finding. Every field the entry has must hold; a list field holds when
 * one of its items does. `pkg` is the finding's package from the report (for its locations); without it a paths
 * condition cannot hold.
 */
export function ignoreRuleMatches(rule: IgnoreRule, finding: Finding, pkg: Package | undefined): boolean {
  const m = rule.match;
  if (m.id !== null && finding.id.toUpperCase() !== m.id && !finding.aliases.some((a) => a.toUpperCase() === m.id)) return false;
  if (m.name !== null && finding.package.name !== m.name) return false;
  if (m.type !== null && finding.package.type !== m.type) return false;
  if (m.version !== null && finding.package.version !== m.version) return false;
  if (m.purls.length > 0) {
    const purl = parsePurl(finding.package.purl);
    if (!purl || !m.purls.some((p) => purlCovers(p, purl))) return false;
  }
  if (m.paths.length > 0) {
    const locations = pkg?.locations ?? [];
    if (!m.paths.some((re) => locations.some((l) => locationMatches(re, l)))) return false;
  }
  return true;
}

export async function readIgnoreFile(path: string, limits: IgnoreLimits = DEFAULT_IGNORE_LIMITS): Promise<IgnoreFile> {
  return parseIgnoreFile(await readCapped(path, limits.maxBytes, 'ignore file'), path, limits);
}

/** Read a small text file, refusing one over `maxBytes` before reading it. */
export async function readCapped(path: string, maxBytes: number, what: string): Promise<string> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new TallyError('USAGE', `${what} ${path}: ${code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw new TallyError('USAGE', `${what} ${path}: not a file`);
    if (stat.size > maxBytes) throw new TallyError('USAGE', `${what} ${path}: ${stat.size} bytes, more than the ${maxBytes} allowed`);
    const buf = await handle.readFile();
    // the size can change between stat and read (a growing file, a FIFO swapped in): check what was read
    if (buf.length > maxBytes) throw new TallyError('USAGE', `${what} ${path}: more than ${maxBytes} bytes`);
    return new TextDecoder('utf-8', { fatal: false }).decode(buf);
  } finally {
    await handle.close();
  }
}

/** Where a YAML node (or a pair, by its key) starts in the text; null when the parser gave no range. */
function offsetOf(node: unknown): number | null {
  const n = isPair(node) ? node.key : node;
  if (isNode(n) && n.range) return n.range[0];
  return null;
}

class Problems {
  readonly list: string[] = [];
  constructor(
    private readonly source: string,
    private readonly lines: LineCounter,
  ) {}
  at(node: unknown, message: string): void {
    const offset = offsetOf(node);
    this.list.push(offset === null ? `${this.source}: ${message}` : `${this.source}:${this.lines.linePos(offset).line}: ${message}`);
  }
  line(node: unknown): number | null {
    const offset = offsetOf(node);
    return offset === null ? null : this.lines.linePos(offset).line;
  }
  raise(): void {
    if (this.list.length === 0) return;
    const shown = this.list.slice(0, 5).join('; ');
    throw new TallyError('USAGE', this.list.length > 5 ? `${shown} (and ${this.list.length - 5} more problems)` : shown);
  }
}

/**
 * Nesting is bounded before the YAML parser runs (see the module comment). yaml@2's Lexer is a flat state machine
 * (linear, no recursion), so its tokens give the flow depth exactly: brackets inside quoted or plain scalars are
 * not tokens of their own. Block depth cannot exceed a line's indentation plus its `- `/`? ` indicators, which
 * bounds it from above.
 */
function checkNesting(text: string, source: string, limits: IgnoreLimits): void {
  let line = 1;
  let depth = 0;
  let indicators = 0;
  let indent = 0;
  let atLineStart = true;
  const tooDeep = (what: string): never => {
    throw new TallyError('USAGE', `${source}:${line}: ${what}`);
  };
  for (const token of new Lexer().lex(text)) {
    if (token === '[' || token === '{') {
      if (++depth > limits.maxFlowDepth) tooDeep(`[ ] or { } nested deeper than ${limits.maxFlowDepth} levels`);
    } else if (token === ']' || token === '}') {
      depth = Math.max(0, depth - 1);
    } else if (token === '-' || token === '?') {
      indicators++;
    } else if (atLineStart && /^ +$/.test(token)) {
      indent = token.length;
    }
    atLineStart = false;
    if (indent + 2 * indicators > limits.maxIndent) tooDeep(`indented deeper than ${limits.maxIndent} columns`);
    const newlines = token.split('\n').length - 1;
    if (newlines > 0) {
      line += newlines;
      indicators = 0;
      indent = 0;
      atLineStart = token.endsWith('\n');
    }
  }
}

const EMPTY_PLAIN = new Set(['', '~', 'null', 'Null', 'NULL']);

/** A scalar's text, or null when it is empty (`key:`, `key: ~`, `key: null`). */
function scalarText(node: YamlNode | null): string | null | undefined {
  if (!isScalar(node)) return undefined;
  const v = node.value;
  if (typeof v !== 'string') return undefined;
  if (node.type === 'PLAIN' && EMPTY_PLAIN.has(v)) return null;
  return v;
}

const VULN_KEYS = ['id', 'purls', 'paths', 'expires', 'reason', 'statement'] as const;
const PACKAGE_KEYS = ['purl', 'name', 'type', 'version', 'paths', 'expires', 'reason', 'statement'] as const;

/** Keys people write from habit (Trivy's spelling, a singular for a list): named in the error. */
const DID_YOU_MEAN: Readonly<Record<string, string>> = {
  expired_at: 'expires',
  expire: 'expires',
  expiry: 'expires',
  expiration: 'expires',
  expires_at: 'expires',
  until: 'expires',
  path: 'paths',
  purl: 'purls',
  purls: 'purl',
  vulnerability: 'id',
  cve: 'id',
  comment: 'reason',
  justification: 'reason',
  package: 'name',
};

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** `YYYY-MM-DD` (applies through that day, UTC) or an RFC 3339 date-time (applies until that instant). */
export function parseExpiry(text: string): Date | null {
  const d = DATE.exec(text);
  if (d) {
    const [y, m, day] = [Number(d[1]), Number(d[2]), Number(d[3])];
    const at = new Date(Date.UTC(y, m - 1, day));
    // Date.UTC rolls 2026-02-30 over to March: a date that does not round-trip is not a date
    if (at.getUTCFullYear() !== y || at.getUTCMonth() !== m - 1 || at.getUTCDate() !== day) return null;
    return new Date(at.getTime() + 24 * 60 * 60 * 1000);
  }
  const t = DATE_TIME.exec(text);
  if (t) {
    const at = new Date(text.replace(' ', 'T'));
    if (Number.isNaN(at.getTime())) return null;
    const [mo, day, h, mi, s] = [Number(t[2]), Number(t[3]), Number(t[4]), Number(t[5]), Number(t[6])];
    if (mo < 1 || mo > 12 || day < 1 || day > 31 || h > 23 || mi > 59 || s > 60) return null;
    // the same roll-over check on the calendar date as written, before the offset moves it
    const cal = new Date(Date.UTC(Number(t[1]), mo - 1, day));
    if (cal.getUTCDate() !== day) return null;
    return at;
  }
  return null;
}

const VULN_ID = /^[A-Za-z0-9][A-Za-z0-9._:/-]*$/;

export function parseIgnoreFile(text: string, source: string, limits: IgnoreLimits = DEFAULT_IGNORE_LIMITS): IgnoreFile {
  if (text.length > limits.maxBytes) throw new TallyError('USAGE', `ignore file ${source}: more than ${limits.maxBytes} bytes`);
  checkNesting(text, source, limits);
  const lines = new LineCounter();
  const problems = new Problems(source, lines);
  let doc;
  try {
    doc = parseDocument(text, { schema: 'failsafe', prettyErrors: false, lineCounter: lines, uniqueKeys: true, strict: true });
  } catch (err) {
    throw new TallyError('USAGE', `${source}: not readable as YAML: ${(err as Error).message}`);
  }
  for (const e of doc.errors.slice(0, 5)) problems.list.push(`${source}:${lines.linePos(e.pos[0]).line}: ${e.message.split('\n')[0]}`);
  problems.raise();

  const rules: IgnoreRule[] = [];
  const root = doc.contents;
  if (root === null || (isScalar(root) && scalarText(root) === null)) return { source, rules };
  if (!isMap(root)) {
    problems.at(root, 'the file must be a mapping with `vulnerabilities:` and/or `packages:` lists');
    problems.raise();
  }
  if (!isMap(root)) return { source, rules };

  for (const pair of root.items) {
    const key = scalarText(isScalar(pair.key) ? pair.key : null);
    if (key !== 'vulnerabilities' && key !== 'packages') {
      problems.at(pair, `unknown top-level key ${JSON.stringify(key ?? '?')} (expected vulnerabilities, packages)`);
      continue;
    }
    const value = pair.value as YamlNode | null;
    if (value === null || (isScalar(value) && scalarText(value) === null)) continue; // `packages:` left empty
    if (!isSeq(value)) {
      problems.at(value ?? pair, `${key} must be a list (entries start with "- ")`);
      continue;
    }
    value.items.forEach((item, i) => {
      const rule = parseEntry(key, i, item as YamlNode | null, source, problems);
      if (rule) rules.push(rule);
    });
  }
  problems.raise();
  return { source, rules };
}

function parseEntry(list: 'vulnerabilities' | 'packages', index: number, node: YamlNode | null, source: string, problems: Problems): IgnoreRule | null {
  const where = `${list}[${index}]`;
  if (isAlias(node)) {
    problems.at(node, `${where}: YAML aliases (*name) are not supported in ignore files`);
    return null;
  }
  if (!isMap(node)) {
    problems.at(node, `${where}: an entry must be a mapping, e.g. "- ${list === 'vulnerabilities' ? 'id: CVE-2024-1234' : 'purl: pkg:npm/lodash'}"`);
    return null;
  }
  const allowed: readonly string[] = list === 'vulnerabilities' ? VULN_KEYS : PACKAGE_KEYS;
  const values = new Map<string, { node: YamlNode | null; pair: Pair }>();
  const before = problems.list.length;
  for (const pair of node.items) {
    const key = scalarText(isScalar(pair.key) ? pair.key : null);
    if (key === null || key === undefined) {
      problems.at(pair, `${where}: keys must be plain words`);
      continue;
    }
    if (!allowed.includes(key)) {
      const hint = DID_YOU_MEAN[key];
      problems.at(pair, `${where}: unknown key ${JSON.stringify(key)}${hint && allowed.includes(hint) ? ` (did you mean "${hint}"?)` : ''} (allowed: ${allowed.filter((k) => k !== 'statement').join(', ')})`);
      continue;
    }
    if (isAlias(pair.value)) {
      problems.at(pair, `${where}.${key}: YAML aliases (*name) are not supported in ignore files`);
      continue;
    }
    values.set(key, { node: pair.value as YamlNode | null, pair });
  }

  /** One value; identifiers must be exact (a stray space would make a rule that never matches), text is trimmed. */
  const str = (key: string, text = false): string | null => {
    const v = values.get(key);
    if (!v) return null;
    const t = scalarText(v.node);
    if (t === undefined) {
      problems.at(v.node ?? v.pair, `${where}.${key} must be a single value, not a ${isSeq(v.node) ? 'list' : 'mapping'}`);
      return null;
    }
    if (t === null) return null;
    if (text) return t.trim() === '' ? null : t.trim();
    if (t.trim() !== t) {
      problems.at(v.node ?? v.pair, `${where}.${key} has leading or trailing spaces`);
      return null;
    }
    return t;
  };
  /** A list of strings; one string is taken as a list of one (`paths: /app/**`). */
  const strList = (key: string): string[] => {
    const v = values.get(key);
    if (!v) return [];
    const single = scalarText(v.node);
    if (single === null) return [];
    if (single !== undefined) return [single];
    if (!isSeq(v.node)) {
      problems.at(v.node ?? v.pair, `${where}.${key} must be a list of strings`);
      return [];
    }
    const out: string[] = [];
    v.node.items.forEach((item, j) => {
      const t = scalarText(item as YamlNode | null);
      if (typeof t !== 'string' || t.trim() === '') problems.at((item as YamlNode | null) ?? v.pair, `${where}.${key}[${j}] must be a non-empty string`);
      else out.push(t.trim());
    });
    return out;
  };

  const entry: { -readonly [K in keyof IgnoreSelector]: IgnoreSelector[K] } = {};
  let id: string | null = null;
  if (list === 'vulnerabilities') {
    id = str('id');
    if (id === null) problems.at(node, `${where}: "id" is required (a vulnerability id or alias, e.g. CVE-2024-1234 or GHSA-xxxx-xxxx-xxxx)`);
    else if (!VULN_ID.test(id)) problems.at(values.get('id')?.node ?? node, `${where}.id ${JSON.stringify(id)} is not a vulnerability id`);
    else entry.id = id;
  }

  const purlTexts = list === 'vulnerabilities' ? strList('purls') : ((p) => (p === null ? [] : [p]))(str('purl'));
  const purls: PurlParts[] = [];
  for (const p of purlTexts) {
    const parsed = parsePurl(p);
    if (!parsed) problems.at(values.get(list === 'vulnerabilities' ? 'purls' : 'purl')?.node ?? node, `${where}: ${JSON.stringify(p)} is not a package URL (pkg:type/namespace/name@version)`);
    else purls.push(parsed);
  }
  if (purlTexts.length > 0) {
    if (list === 'vulnerabilities') entry.purls = purlTexts;
    else entry.purl = purlTexts[0]!;
  }

  let name: string | null = null;
  let type: PackageType | null = null;
  let version: string | null = null;
  if (list === 'packages') {
    name = str('name');
    const typeText = str('type');
    version = str('version');
    if (typeText !== null) {
      const t = PACKAGE_TYPES.find((x) => x === typeText.toLowerCase());
      if (!t) problems.at(values.get('type')?.node ?? node, `${where}.type ${JSON.stringify(typeText)} is not one of ${PACKAGE_TYPES.join(', ')}`);
      else type = t;
    }
    if (purlTexts.length > 0 && (name !== null || typeText !== null || version !== null)) {
      problems.at(node, `${where}: give either "purl" or "name" (with "type", "version"), not both: the purl already names the package`);
    }
    if (name === null && (typeText !== null || version !== null)) problems.at(node, `${where}: "type" and "version" narrow a "name"; add the package name`);
    if (name !== null) entry.name = name;
    if (type !== null) entry.type = type;
    if (version !== null) entry.version = version;
  }

  const pathTexts = strList('paths');
  const paths: RegExp[] = [];
  for (const p of pathTexts) {
    try {
      paths.push(globToRegExp(p));
    } catch (err) {
      problems.at(values.get('paths')?.node ?? node, `${where}.paths: ${err instanceof GlobError ? err.message : String(err)}`);
    }
  }
  if (pathTexts.length > 0) entry.paths = pathTexts;

  if (list === 'packages' && purlTexts.length === 0 && name === null && pathTexts.length === 0) {
    problems.at(node, `${where}: name the packages with "purl", "name" or "paths"`);
  }

  const expiresText = str('expires');
  let expires: IgnoreRule['expires'] = null;
  if (expiresText !== null) {
    const at = parseExpiry(expiresText);
    if (!at) problems.at(values.get('expires')?.node ?? node, `${where}.expires ${JSON.stringify(expiresText)} is not a date (YYYY-MM-DD) or date-time (2026-12-31T18:00:00Z)`);
    else expires = { text: expiresText, at };
  }
  const reason = str('reason', true);
  const statement = str('statement', true);
  if (reason !== null && statement !== null) problems.at(node, `${where}: "reason" and "statement" are the same field; keep one`);

  if (problems.list.length > before) return null;
  return {
    source,
    rule: where,
    line: problems.line(node),
    entry,
    expires,
    reason: reason ?? statement,
    match: { id: id?.toUpperCase() ?? null, purls, name, type, version, paths },
  };
}

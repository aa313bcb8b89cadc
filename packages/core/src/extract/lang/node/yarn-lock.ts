/**
 * yarn.lock: classic (v1, `# yarn lockfile v1`, read with @yarnpkg/lockfile) and berry (v2+, YAML with a
 * `__metadata` block, read with @yarnpkg/parsers). Neither records which packages are dev-only.
 */
import lockfile from '@yarnpkg/lockfile';
import { parseSyml } from '@yarnpkg/parsers';
import { isObject } from '../../../util/json.js';
import { cleanVersion, RecordSet, resolvedSource, sourceKind, splitDescriptor, validName, type ParseResult } from './common.js';

/** Berry files start with their `__metadata` block (after the header comments); classic files never have one. */
export function isBerryLock(text: string): boolean {
  return text.startsWith('__metadata:') || text.indexOf('\n__metadata:') >= 0;
}

export function parseYarnLock(text: string): ParseResult {
  return isBerryLock(text) ? parseBerry(text) : parseClassic(text);
}

/**
 * @yarnpkg/lockfile's tokenizer never stops on a quoted string left open at the end of the file or on a comment
 * without a final newline: it appends `undefined` to a string until V8's string limit (7 s and ~1 GB here). Yarn
 * writes every quoted string on one line, so a line with an open quote is refused before the parser sees it.
 */
export function guardClassic(text: string): string {
  let line = 1;
  let inString = false;
  let lineStart = true;
  let comment = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 /* \n */) {
      if (inString) throw new Error(`yarn.lock (classic): unterminated string on line ${line}`);
      line++;
      lineStart = true;
      comment = false;
      continue;
    }
    if (comment) continue;
    if (lineStart && c !== 32) {
      lineStart = false;
      if (c === 35 /* # */) {
        comment = true;
        continue;
      }
    }
    // the tokenizer's rule: a quote ends the string unless one backslash (not two) stands before it
    if (c === 34 /* " */ && !(inString && text.charCodeAt(i - 1) === 92 && text.charCodeAt(i - 2) !== 92)) inString = !inString;
  }
  if (inString) throw new Error(`yarn.lock (classic): unterminated string on line ${line}`);
  return text.endsWith('\n') ? text : `${text}\n`;
}

function parseClassic(text: string): ParseResult {
  const set = new RecordSet();
  const guarded = guardClassic(text);
  let parsed: ReturnType<typeof lockfile.parse>;
  try {
    parsed = lockfile.parse(guarded);
  } catch (err) {
    throw new Error(`yarn.lock (classic): ${messageOf(err)}`);
  }
  // 'merge' / 'conflict': git merge markers; the parser has taken both sides or given up
  if (parsed.type === 'conflict') throw new Error('yarn.lock (classic) has unresolved merge conflicts');
  if (parsed.type === 'merge') set.problem('merge-conflict markers: both sides were read');
  const object: unknown = parsed.object;
  if (!isObject(object)) throw new Error('yarn.lock (classic): not a mapping');
  for (const [key, entry] of Object.entries(object)) {
    // keys are descriptors: `lodash@^4.17.15`, `@babel/core@^7.0.0`, `string-width-cjs@npm:string-width@^4.2.0`
    const descriptor = splitDescriptor(key);
    if (descriptor === null || !isObject(entry)) {
      set.problem(`${JSON.stringify(key.slice(0, 64))}: not a package entry`);
      continue;
    }
    const range = descriptor.rest;
    if (sourceKind(range) === 'local') continue;
    let name = descriptor.name;
    if (range.startsWith('npm:')) {
      const real = splitDescriptor(range.slice(4));
      name = real !== null ? real.name : range.slice(4); // `npm:lodash` alone (no range) is a bare name
    }
    const version = cleanVersion(entry['version']);
    if (version === null || !validName(name)) {
      set.problem(`${JSON.stringify(key.slice(0, 64))}: unusable name or version`);
      continue;
    }
    const resolved = typeof entry['resolved'] === 'string' ? entry['resolved'] : '';
    const source = resolvedSource(resolved);
    if (source === 'local') continue;
    set.add({ name, version, metadata: source === 'registry' ? {} : { source } });
  }
  return set.result();
}

function parseBerry(text: string): ParseResult {
  const set = new RecordSet();
  let doc: unknown;
  try {
    doc = parseSyml(text);
  } catch (err) {
    throw new Error(`yarn.lock (berry): ${messageOf(err)}`);
  }
  if (!isObject(doc)) throw new Error('yarn.lock (berry): not a mapping');
  for (const [key, entry] of Object.entries(doc)) {
    if (key === '__metadata') continue;
    if (!isObject(entry)) {
      set.problem(`${JSON.stringify(key.slice(0, 64))}: not a package entry`);
      continue;
    }
    // the resolution names the package that was locked (aliases in the key resolve to the real name):
    // `lodash@npm:4.17.21`, `resolve@patch:resolve@npm%3A1.22.1#…`, `app@workspace:.`, `x@https://…/x.git#commit=…`
    const resolution = typeof entry['resolution'] === 'string' ? entry['resolution'] : key;
    const descriptor = splitDescriptor(resolution);
    if (descriptor === null) {
      set.problem(`${JSON.stringify(resolution.slice(0, 64))}: unusable resolution`);
      continue;
    }
    const source = sourceKind(descriptor.rest);
    if (source === 'local') continue;
    const version = cleanVersion(entry['version']);
    if (version === null || !validName(descriptor.name)) {
      set.problem(`${JSON.stringify(resolution.slice(0, 64))}: unusable name or version`);
      continue;
    }
    const metadata: Record<string, string> = {};
    if (source !== 'registry') metadata['source'] = source;
    if (descriptor.rest.startsWith('patch:')) metadata['patched'] = 'true';
    // platform-specific packages (`os=darwin & cpu=arm64`): locked for every platform, installed on one
    const conditions = entry['conditions'];
    if (typeof conditions === 'string' && conditions.length <= 256) metadata['platform'] = conditions;
    set.add({ name: descriptor.name, version, metadata });
  }
  return set.result();
}

function messageOf(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  // parser messages can quote a whole line of the file: keep issues short
  return message.length > 300 ? `${message.slice(0, 300)}…` : message;
}

/**
 * npm lock files: `package-lock.json` / `npm-shrinkwrap.json` v1 (`dependencies` tree), v2 (both forms) and v3
 * (`packages` map keyed by install path), and the hidden lockfile `node_modules/.package-lock.json` (v3 form).
 */
import { isObject, type JsonObject } from '../../../util/json.js';
import { cleanVersion, licensesOf, platformOf, RecordSet, resolvedSource, splitDescriptor, validName, type ParseResult } from './common.js';

const NODE_MODULES = 'node_modules/';
/** Real trees are a few dozen levels deep at most; a deeper v1 tree is hostile and is not followed further. */
const MAX_DEPTH = 256;

export function parseNpmLock(text: string): ParseResult {
  const set = new RecordSet();
  let doc: unknown;
  try {
    doc = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    throw new Error(`invalid JSON: ${(err as Error).message}`);
  }
  if (!isObject(doc)) throw new Error('not a JSON object');
  const packages = doc['packages'];
  const dependencies = doc['dependencies'];
  // v2 carries both forms with the same content: `packages` is the complete one (it also has licences)
  if (isObject(packages)) readPackages(packages, set);
  else if (isObject(dependencies)) readDependencies(dependencies, set);
  else if (packages !== undefined || dependencies !== undefined) set.problem('neither `packages` nor `dependencies` is an object');
  return set.result();
}

/** v2/v3: `"node_modules/a/node_modules/@s/b": {version, dev, optional, license, ...}`. */
function readPackages(packages: JsonObject, set: RecordSet): void {
  for (const [key, entry] of Object.entries(packages)) {
    // "" is the app itself; keys without node_modules are workspace folders (the app's own code)
    const nm = key.lastIndexOf(NODE_MODULES);
    if (nm < 0 || (nm > 0 && key.charCodeAt(nm - 1) !== 47 /* / */)) continue;
    if (!isObject(entry)) {
      set.problem(`${key}: entry is not an object`);
      continue;
    }
    if (entry['link'] === true) continue; // a symlink to a workspace or `file:` directory
    const pathName = key.slice(nm + NODE_MODULES.length);
    const rawName = entry['name'];
    // `name` is present when it differs from the folder: npm aliases
    const name = typeof rawName === 'string' ? rawName : pathName;
    if (!validName(name)) {
      set.problem(`${key}: unusable package name ${JSON.stringify(name.slice(0, 64))}`);
      continue;
    }
    const resolved = typeof entry['resolved'] === 'string' ? entry['resolved'] : '';
    const source = resolvedSource(resolved);
    if (source === 'local') continue;
    const version = cleanVersion(entry['version']);
    if (version === null) {
      // npm leaves the version out of entries it could not fetch (optional deps of other platforms in old npm 7)
      if (entry['version'] !== undefined) set.problem(`${key}: unusable version`);
      continue;
    }
    const metadata: Record<string, string> = {};
    const platform = platformOf(entry['os'], entry['cpu']);
    if (platform !== null) metadata['platform'] = platform;
    if (source !== 'registry') metadata['source'] = source;
    if (name !== pathName && validName(pathName)) metadata['installedAs'] = pathName;
    set.add({
      name,
      version,
      licenses: licensesOf(entry['license'], entry['licenses']),
      dev: entry['dev'] === true,
      optional: entry['optional'] === true,
      metadata,
    });
  }
}

/** v1: `"dependencies": {"a": {version, dev, optional, dependencies: {...nested installs...}}}`. */
function readDependencies(root: JsonObject, set: RecordSet): void {
  // iterative: the tree's depth comes from the file
  const stack: { deps: JsonObject; depth: number }[] = [{ deps: root, depth: 0 }];
  let tooDeep = false;
  while (stack.length > 0) {
    const { deps, depth } = stack.pop()!;
    for (const [key, entry] of Object.entries(deps)) {
      if (!isObject(entry)) {
        set.problem(`dependencies.${key.slice(0, 64)}: entry is not an object`);
        continue;
      }
      const nested = entry['dependencies'];
      if (isObject(nested)) {
        if (depth + 1 < MAX_DEPTH) stack.push({ deps: nested, depth: depth + 1 });
        else tooDeep = true;
      }
      readV1Entry(key, entry, set);
    }
  }
  if (tooDeep) set.problem(`dependency tree deeper than ${MAX_DEPTH} levels: the deeper part was not read`);
}

function readV1Entry(key: string, entry: JsonObject, set: RecordSet): void {
  const rawVersion = entry['version'];
  if (typeof rawVersion !== 'string') {
    set.problem(`dependencies.${key.slice(0, 64)}: unusable version`);
    return;
  }
  let name = key;
  let version: string | null = rawVersion;
  const metadata: Record<string, string> = {};
  if (rawVersion.startsWith('npm:')) {
    // alias: "my-lodash": {"version": "npm:lodash@4.17.21"}
    const real = splitDescriptor(rawVersion.slice(4));
    if (real === null) {
      set.problem(`dependencies.${key.slice(0, 64)}: unusable alias ${JSON.stringify(rawVersion.slice(0, 64))}`);
      return;
    }
    name = real.name;
    version = real.rest;
    if (validName(key)) metadata['installedAs'] = key;
  } else if (rawVersion.indexOf(':') >= 0 || rawVersion.indexOf('/') >= 0) {
    // file:, git+…#sha, github:user/repo#sha, tarball URLs: the version field holds the specifier, not a version
    return;
  }
  version = cleanVersion(version);
  if (version === null || !validName(name)) {
    set.problem(`dependencies.${key.slice(0, 64)}: unusable name or version`);
    return;
  }
  const resolved = typeof entry['resolved'] === 'string' ? entry['resolved'] : '';
  const source = resolvedSource(resolved);
  if (source === 'local') return;
  if (source !== 'registry') metadata['source'] = source;
  set.add({ name, version, dev: entry['dev'] === true, optional: entry['optional'] === true, metadata });
}

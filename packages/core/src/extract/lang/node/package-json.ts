/** An installed package's own package.json → one record. */
import { isObject } from '../../../util/json.js';
import { cleanVersion, licensesOf, validName, type ParseResult } from './common.js';

/**
 * `pathName` is the name the directory gives (`node_modules/@types/node` → `@types/node`), used when the JSON's
 * name is missing or unusable. A file without a usable version is not a package (npm's own `package.json` stubs
 * such as `{"type":"module"}` in dist folders look like this) and is skipped without a problem; malformed JSON is a
 * problem, because npm never writes one.
 */
export function parseInstalledPackageJson(text: string, pathName: string | null): ParseResult {
  let doc: unknown;
  try {
    doc = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    return { records: [], problems: [`package.json: invalid JSON: ${(err as Error).message}`] };
  }
  if (!isObject(doc)) return { records: [], problems: ['package.json: not a JSON object'] };
  const problems: string[] = [];
  const rawVersion = doc['version'];
  const version = cleanVersion(rawVersion);
  if (version === null) {
    // no version at all: not a package (a workspace root, a stub); a version of the wrong kind is worth telling
    if (rawVersion !== undefined && rawVersion !== '') problems.push(`package.json: unusable version ${describe(rawVersion)}`);
    return { records: [], problems };
  }
  const rawName = doc['name'];
  let name = typeof rawName === 'string' && validName(rawName.trim()) ? rawName.trim() : null;
  if (name === null) {
    if (pathName === null || !validName(pathName)) {
      problems.push(`package.json: no usable name (${describe(rawName)}) and none from its path`);
      return { records: [], problems };
    }
    if (rawName !== undefined) problems.push(`package.json: unusable name ${describe(rawName)}; named ${pathName} after its directory`);
    name = pathName;
  }
  const metadata: Record<string, string> = {};
  // an npm alias (`"my-lodash": "npm:lodash@4"`) is installed under its alias; the package is the real one
  if (pathName !== null && pathName !== name && validName(pathName)) metadata['installedAs'] = pathName;
  return { records: [{ name, version, licenses: licensesOf(doc['license'], doc['licenses']), metadata }], problems };
}

function describe(v: unknown): string {
  if (typeof v === 'string') return JSON.stringify(v.length > 64 ? `${v.slice(0, 64)}…` : v);
  if (v === undefined) return 'missing';
  return `of type ${v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v}`;
}

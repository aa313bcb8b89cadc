/**
 * `packages.lock.json` (NuGet lock file, versions 1 and 2): `dependencies` by target framework (`net8.0`, or
 * `net8.0/linux-x64` for a RID-specific restore), each package with `type` Direct, Transitive, CentralTransitive
 * (central package management, v2) or Project. Every resolved package is reported once, as declared: a lock file
 * says what a restore would fetch, not what was deployed. Project entries are other projects of the solution.
 */
import { isObject, num, obj, str } from '../../../util/json.js';
import type { ExtractedPackage } from '../../extractor.js';
import { packageKey, quote, type ParseResult } from './result.js';

interface Entry {
  readonly name: string;
  readonly version: string;
  direct: boolean;
  readonly frameworks: Set<string>;
}

export function parsePackagesLock(doc: unknown): ParseResult {
  if (!isObject(doc)) throw new Error('not a NuGet lock file: the document is not a JSON object');
  const dependencies = obj(doc, 'dependencies');
  if (dependencies === null) throw new Error('not a NuGet lock file: no "dependencies" object');
  const problems: string[] = [];
  const version = num(doc, 'version');
  if (version !== 1 && version !== 2) problems.push(`lock file version ${String(doc['version'])} is not 1 or 2; read as version 2`);

  const entries = new Map<string, Entry>();
  for (const [tfm, packages] of Object.entries(dependencies)) {
    if (!isObject(packages)) {
      problems.push(`target ${quote(tfm)} is not an object`);
      continue;
    }
    const framework = tfm.includes('/') ? tfm.slice(0, tfm.indexOf('/')) : tfm;
    for (const [id, p] of Object.entries(packages)) {
      if (!isObject(p)) {
        problems.push(`${quote(id)} in ${quote(tfm)} is not an object`);
        continue;
      }
      const type = (str(p, 'type') ?? '').toLowerCase();
      if (type === 'project') continue;
      const resolved = str(p, 'resolved');
      if (resolved === null || resolved.length === 0 || id.length === 0) {
        problems.push(`${quote(id)} in ${quote(tfm)} has no resolved version`);
        continue;
      }
      const key = packageKey(id, resolved);
      let e = entries.get(key);
      if (e === undefined) {
        e = { name: id, version: resolved, direct: false, frameworks: new Set() };
        entries.set(key, e);
      }
      if (type === 'direct') e.direct = true;
      e.frameworks.add(framework);
    }
  }
  const packages = [...entries.values()].map(
    (e): ExtractedPackage => ({
      type: 'nuget',
      name: e.name,
      version: e.version,
      evidence: 'declared',
      identifiedBy: 'packages.lock.json',
      metadata: { dependency: e.direct ? 'direct' : 'transitive', targetFrameworks: [...e.frameworks].sort().join(',') },
    }),
  );
  return { packages, problems };
}

/**
 * The shared frameworks of a .NET installation (`/usr/share/dotnet/shared/Microsoft.NETCore.App/8.0.11/`): the
 * runtime that framework-dependent apps run on, reported as one runtime package per framework version directory.
 *
 * Identity. GHSA files runtime advisories under the runtime-pack ids (`Microsoft.NETCore.App.Runtime.linux-x64`,
 * `Microsoft.AspNetCore.App.Runtime.linux-musl-arm64`; .NET Core 3.0 and later) and, for the 1.x/2.x frameworks,
 * under the framework package itself (`Microsoft.NETCore.App`, `Microsoft.AspNetCore.App`). So the package is
 * named that way, and no matcher change is needed: a framework-dependent app's runtime and a self-contained
 * app's bundled `runtimepack` (deps-json.ts) get the same name for the same runtime.
 *
 * Version: the directory name, which is what the host resolves frameworks by. The deps.json's own library
 * version can carry a build suffix (`5.0.13-servicing.21565.16` in the 5.0 frameworks) that would defeat matching.
 *
 * RID: from the deps.json (`Microsoft.NETCore.App.Runtime.<rid>` library since 6.0, `runtime.<rid>.Microsoft.NETCore.App`
 * in 2.x-5.0, else the runtime target's RID), made portable (rid.ts), since distro builds of the runtime use
 * distro RIDs that no advisory names. When the file says nothing usable the framework name itself is reported
 * and the problem is told.
 */
import { isObject, obj, str, type JsonObject } from '../../../util/json.js';
import type { ExtractedPackage } from '../../extractor.js';
import type { SharedFrameworkDir } from './paths.js';
import { quote, splitLibraryKey, type ParseResult } from './result.js';
import { portableRid, ridOfTarget } from './rid.js';

/** The first run of digits: the major version (`8.0.11` → 8); NaN when the directory name has none. */
function majorOf(version: string): number {
  let end = 0;
  while (end < version.length && version.charCodeAt(end) >= 48 && version.charCodeAt(end) <= 57) end++;
  return end === 0 ? Number.NaN : Number(version.slice(0, end));
}

/** The RID the framework's deps.json was built for, looking at its libraries first, then its runtime target. */
export function ridOfFrameworkDeps(doc: JsonObject, framework: string): string | null {
  const fw = framework.toLowerCase();
  const libraries = obj(doc, 'libraries');
  if (libraries !== null) {
    for (const key of Object.keys(libraries)) {
      const split = splitLibraryKey(key);
      if (split === null) continue;
      const lower = split[0].toLowerCase();
      const packPrefix = `${fw}.runtime.`;
      if (lower.startsWith(packPrefix) && lower.length > packPrefix.length) return split[0].slice(packPrefix.length);
      const suffix = `.${fw}`;
      if (lower.startsWith('runtime.') && lower.endsWith(suffix) && lower.length > 'runtime.'.length + suffix.length) {
        return split[0].slice('runtime.'.length, split[0].length - suffix.length);
      }
    }
  }
  const runtimeTargetObj = obj(doc, 'runtimeTarget');
  return ridOfTarget(runtimeTargetObj ? str(runtimeTargetObj, 'name') : null);
}

/**
 * The runtime package of one shared framework directory. `doc` is the parsed `<Framework>.deps.json`, or null
 * when it could not be parsed (the directory is still evidence of the framework; only the RID is then unknown).
 */
export function sharedFrameworkPackage(dir: SharedFrameworkDir, doc: unknown): ParseResult {
  const problems: string[] = [];
  const major = majorOf(dir.version);
  if (Number.isNaN(major)) {
    return { packages: [], problems: [`shared framework directory ${quote(dir.version)} is not a version`] };
  }
  const builtRid = isObject(doc) ? ridOfFrameworkDeps(doc, dir.framework) : null;
  const rid = builtRid === null ? null : portableRid(builtRid);
  let name = dir.framework;
  if (major >= 3) {
    if (rid !== null) name = `${dir.framework}.Runtime.${rid}`;
    else problems.push(`no runtime identifier in ${dir.framework}.deps.json: reported as ${dir.framework}, which runtime advisories do not name`);
  }
  const metadata: Record<string, string> = { role: 'runtime', framework: dir.framework };
  if (rid !== null) metadata['rid'] = rid;
  if (builtRid !== null && builtRid !== rid) metadata['ridAsBuilt'] = builtRid;
  const pkg: ExtractedPackage = {
    type: 'nuget',
    name,
    version: dir.version,
    evidence: 'installed',
    identifiedBy: 'shared-framework',
    metadata,
  };
  return { packages: [pkg], problems };
}

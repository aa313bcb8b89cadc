/**
 * `<app>.deps.json`: the dependency manifest the .NET host reads to load an app (written by `dotnet build/publish`).
 *
 * Which libraries are reported, and why:
 * - `package` libraries whose entry in the runtime target lists assets that get loaded (`runtime`, `native` or
 *   `runtimeTargets`, and not `compileOnly`) are installed. Libraries without such assets are build-only packages
 *   (`Microsoft.NET.ILLink.Tasks`, analyzers), meta-packages, or old facade packages whose code the framework now
 *   supplies: a real self-contained publish (Sarif.Multitool, testdata) lists `System.Private.Uri 4.3.2` and
 *   `System.Text.Json 6.0.10` with no assets because the runtime pack's own 8.0 copies win. They are reported
 *   too, so nothing in the manifest is hidden, but as declared evidence with `metadata.deployed = 'false'`: the
 *   matcher does not raise advisories against code that is not in the image (Trivy does). A library the runtime
 *   target does not mention at all is kept as installed, so an odd file errs towards reporting.
 * - Where Trivy falls back to "everything in `libraries`" when `runtimeTarget.name` has no target (hand-edited or
 *   trimmed files), we first look for the target that is there (the RID-specific one before the portable one) and
 *   only report everything when no target exists at all; key lookups are case-insensitive (old SDKs wrote
 *   lower-case target keys).
 * - `runtimepack` libraries are the runtime bundled into a self-contained app (trivy#10802):
 *   `runtimepack.Microsoft.NETCore.App.Runtime.linux-x64/8.0.30` is reported as the runtime pack
 *   `Microsoft.NETCore.App.Runtime.linux-x64` 8.0.30, the id GHSA files runtime advisories under, with a distro
 *   RID made portable (rid.ts) and `metadata.role = runtime`. A plain `package` with a runtime-pack id (the
 *   shared framework's own deps.json) is treated the same.
 * - `project` libraries (the app and its project references) and `reference` ones (bare assemblies, versions
 *   like 0.0.0.0) have no NuGet identity and are not reported; the root project only tells direct from
 *   transitive dependencies.
 */
import { isObject, obj, str, type JsonObject } from '../../../util/json.js';
import type { ExtractedPackage } from '../../extractor.js';
import { packageKey, quote, splitLibraryKey, type ParseResult } from './result.js';
import { runtimePackId } from './rid.js';

const RUNTIMEPACK_PREFIX = 'runtimepack.';

export interface DepsJsonTarget {
  readonly name: string;
  /** Library entries of the target by lower-cased `Name/Version`. */
  readonly entries: ReadonlyMap<string, JsonObject>;
}

/** The target the host loads from: `runtimeTarget.name` when present, else the most specific non-empty target. */
export function runtimeTarget(doc: JsonObject, problems: string[]): DepsJsonTarget | null {
  const targets = obj(doc, 'targets');
  const runtimeTargetObj = obj(doc, 'runtimeTarget');
  const wanted = runtimeTargetObj ? str(runtimeTargetObj, 'name') : null;
  if (targets === null) {
    problems.push('no "targets" section: every package library is reported');
    return null;
  }
  const all = Object.entries(targets).filter((e): e is [string, JsonObject] => isObject(e[1]));
  let chosen = wanted === null ? undefined : all.find(([k]) => k === wanted);
  if (chosen === undefined) {
    const nonEmpty = all.filter(([, v]) => Object.keys(v).length > 0);
    chosen = nonEmpty.find(([k]) => k.includes('/')) ?? nonEmpty[0];
    if (chosen === undefined) {
      if (all.length === 0 || wanted !== null) problems.push('no runtime target with libraries: every package library is reported');
      return null;
    }
    if (wanted !== null) problems.push(`runtime target ${quote(wanted)} is missing; read target ${quote(chosen[0])} instead`);
  }
  const entries = new Map<string, JsonObject>();
  for (const [k, v] of Object.entries(chosen[1])) if (isObject(v)) entries.set(k.toLowerCase(), v);
  return { name: chosen[0], entries };
}

function nonEmpty(v: unknown): boolean {
  if (Array.isArray(v)) return v.length > 0;
  return isObject(v) && Object.keys(v).length > 0;
}

/** True when the host loads something of this library: managed or native assets, for any RID. */
export function hasRuntimeAssets(entry: JsonObject): boolean {
  if (entry['compileOnly'] === true) return false;
  return nonEmpty(entry['runtime']) || nonEmpty(entry['native']) || nonEmpty(entry['runtimeTargets']);
}

function dependencyNames(entry: JsonObject | undefined): Set<string> {
  const out = new Set<string>();
  const deps = entry ? obj(entry, 'dependencies') : null;
  if (deps) for (const k of Object.keys(deps)) out.add(stripRuntimepack(k).toLowerCase());
  return out;
}

function stripRuntimepack(name: string): string {
  return name.toLowerCase().startsWith(RUNTIMEPACK_PREFIX) ? name.slice(RUNTIMEPACK_PREFIX.length) : name;
}

interface Library {
  readonly key: string;
  readonly name: string;
  readonly version: string;
  readonly type: string;
  readonly lib: JsonObject;
}

/** The app's own project: the one named like the file, else the only project nothing depends on. */
function rootProject(projects: readonly Library[], target: DepsJsonTarget | null, fileStem: string): Library | null {
  const byName = projects.find((p) => p.name.toLowerCase() === fileStem.toLowerCase());
  if (byName) return byName;
  if (target === null) return null;
  const referenced = new Set<string>();
  for (const entry of target.entries.values()) for (const d of dependencyNames(entry)) referenced.add(d);
  const roots = projects.filter((p) => !referenced.has(p.name.toLowerCase()));
  return roots.length === 1 ? roots[0]! : null;
}

/**
 * Packages of one deps.json. `fileName` is the file's base name (`App.deps.json`), used to find the app's project.
 * Throws when the document is not a deps.json at all.
 */
export function parseDepsJson(doc: unknown, fileName: string): ParseResult {
  if (!isObject(doc)) throw new Error('not a .NET deps.json: the document is not a JSON object');
  const libraries = obj(doc, 'libraries');
  if (libraries === null) throw new Error('not a .NET deps.json: no "libraries" object');
  const problems: string[] = [];
  const target = runtimeTarget(doc, problems);

  const libs: Library[] = [];
  for (const [key, lib] of Object.entries(libraries)) {
    if (!isObject(lib)) {
      problems.push(`library ${quote(key)} is not an object`);
      continue;
    }
    const split = splitLibraryKey(key);
    if (split === null) {
      problems.push(`library key ${quote(key)} is not Name/Version`);
      continue;
    }
    libs.push({ key, name: split[0], version: split[1], type: (str(lib, 'type') ?? '').toLowerCase(), lib });
  }

  const stem = fileName.endsWith('.deps.json') ? fileName.slice(0, -'.deps.json'.length) : fileName;
  const root = rootProject(libs.filter((l) => l.type === 'project'), target, stem);
  const direct = root ? dependencyNames(target?.entries.get(root.key.toLowerCase())) : null;

  const packages = new Map<string, ExtractedPackage>();
  for (const l of libs) {
    if (l.type !== 'package' && l.type !== 'runtimepack') continue;
    const entry = target?.entries.get(l.key.toLowerCase());
    const deployed = entry === undefined || hasRuntimeAssets(entry);
    const name = l.type === 'runtimepack' ? stripRuntimepack(l.name) : l.name;
    const pack = runtimePackId(name);
    const sha512 = str(l.lib, 'sha512');
    const metadata: Record<string, string> = {};
    if (pack !== null || l.type === 'runtimepack') {
      metadata['role'] = 'runtime';
      if (pack !== null) {
        metadata['framework'] = pack.framework;
        metadata['rid'] = pack.name.slice(pack.framework.length + '.Runtime.'.length);
        if (metadata['rid'] !== pack.rid) metadata['ridAsBuilt'] = pack.rid;
      }
    }
    if (direct !== null) metadata['dependency'] = direct.has(name.toLowerCase()) ? 'direct' : 'transitive';
    if (sha512) metadata['sha512'] = sha512;
    if (!deployed) metadata['deployed'] = 'false';
    const finalName = pack?.name ?? name;
    const k = packageKey(finalName, l.version);
    if (packages.has(k)) continue;
    packages.set(k, {
      type: 'nuget',
      name: finalName,
      version: l.version,
      evidence: deployed ? 'installed' : 'declared',
      identifiedBy: 'deps.json',
      ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
    });
  }
  return { packages: [...packages.values()], problems };
}

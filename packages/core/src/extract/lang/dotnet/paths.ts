/**
 * Which .NET artifact a path is. Runs inside `required()` for every tar entry: plain string compares only.
 */
export type DotnetFileKind = 'deps' | 'shared-framework' | 'lock' | 'config' | 'nuspec' | 'nupkg';

export function dotnetFileKind(path: string): DotnetFileKind | null {
  // dispatch on the last character first: most paths of a layer end in none of n, g, c
  switch (path.charCodeAt(path.length - 1)) {
    case 110: // n: .json
      if (path.endsWith('.deps.json')) return sharedFrameworkOf(path) === null ? 'deps' : 'shared-framework';
      return path.endsWith('/packages.lock.json') ? 'lock' : null;
    case 103: // g: .config, .nupkg
      if (path.endsWith('.config')) return isPackagesConfig(path) ? 'config' : null;
      if (path.endsWith('.nupkg')) return isGlobalPackagesNupkg(path) ? null : 'nupkg';
      return null;
    case 99: // c: .nuspec
      return path.endsWith('.nuspec') ? 'nuspec' : null;
    default:
      return null;
  }
}

/** `packages.config`, or the per-project `packages.<project>.config` NuGet also reads. */
function isPackagesConfig(path: string): boolean {
  const base = path.slice(path.lastIndexOf('/') + 1);
  return base === 'packages.config' || (base.startsWith('packages.') && base.length > 'packages..config'.length);
}

export interface SharedFrameworkDir {
  /** `/usr/share/dotnet`: the directory that holds `shared/`. */
  readonly root: string;
  /** The framework's name as its directory spells it: `Microsoft.NETCore.App`, `Microsoft.AspNetCore.App`, ... */
  readonly framework: string;
  /** The version directory: the framework version the host resolves. */
  readonly version: string;
}

/**
 * `<root>/shared/<Framework>/<version>/<Framework>.deps.json`: the file every shared framework directory carries
 * (hostpolicy reads it to know the framework's assemblies). Any framework name is accepted as long as the file is
 * named after its directory, so third-party shared frameworks come through too.
 */
export function sharedFrameworkOf(path: string): SharedFrameworkDir | null {
  const fileStart = path.lastIndexOf('/');
  if (fileStart <= 0) return null;
  const versionStart = path.lastIndexOf('/', fileStart - 1);
  if (versionStart <= 0) return null;
  const frameworkStart = path.lastIndexOf('/', versionStart - 1);
  if (frameworkStart < 0) return null;
  const framework = path.slice(frameworkStart + 1, versionStart);
  if (framework.length === 0 || path.slice(fileStart + 1) !== `${framework}.deps.json`) return null;
  if (frameworkStart < '/shared'.length || !path.startsWith('/shared/', frameworkStart - '/shared'.length)) return null;
  const version = path.slice(versionStart + 1, fileStart);
  if (version.length === 0) return null;
  return { root: path.slice(0, frameworkStart - '/shared'.length), framework, version };
}

/**
 * The global packages folder (`~/.nuget/packages/<id>/<version>/<id>.<version>.nupkg`) keeps the extracted
 * `<id>.nuspec` beside each .nupkg; reading both would report every package twice.
 */
function isGlobalPackagesNupkg(path: string): boolean {
  const fileStart = path.lastIndexOf('/');
  const versionStart = fileStart > 0 ? path.lastIndexOf('/', fileStart - 1) : -1;
  const idStart = versionStart > 0 ? path.lastIndexOf('/', versionStart - 1) : -1;
  if (idStart < 0) return false;
  const id = path.slice(idStart + 1, versionStart);
  const version = path.slice(versionStart + 1, fileStart);
  return path.slice(fileStart + 1) === `${id}.${version}.nupkg`;
}

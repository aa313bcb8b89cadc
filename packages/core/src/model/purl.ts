import { PackageURL } from 'packageurl-js';
import type { PackageType } from './package.js';

export interface PurlInput {
  readonly type: PackageType;
  /** Canonical name: Maven "group:artifact", npm "@scope/name", Go module path, NuGet id, PyPI name. */
  readonly name: string;
  readonly version: string;
  /** OS packages: the distro id ("debian", "alpine", "redhat", ...). */
  readonly namespace?: string;
  readonly qualifiers?: Readonly<Record<string, string>>;
}

function splitName(type: PackageType, name: string): [namespace: string | undefined, name: string] {
  switch (type) {
    case 'maven': {
      const i = name.indexOf(':');
      return i > 0 ? [name.slice(0, i), name.slice(i + 1)] : [undefined, name];
    }
    case 'npm':
    case 'golang': {
      const i = name.lastIndexOf('/');
      return i > 0 ? [name.slice(0, i), name.slice(i + 1)] : [undefined, name];
    }
    default:
      return [undefined, name];
  }
}

/** The package URL (purl spec) of a package; empty qualifier values are dropped. */
export function buildPurl(input: PurlInput): string {
  const [langNamespace, name] = splitName(input.type, input.name);
  // purl's rpm type carries the epoch as a qualifier, not in the version
  const epoch = input.qualifiers?.['epoch'];
  const version = input.type === 'rpm' && epoch && input.version.startsWith(`${epoch}:`) ? input.version.slice(epoch.length + 1) : input.version;
  const qualifiers: Record<string, string> = {};
  for (const [k, v] of Object.entries(input.qualifiers ?? {})) if (v !== '') qualifiers[k] = v;
  return new PackageURL(
    input.type,
    input.namespace ?? langNamespace,
    name,
    version === '' ? undefined : version,
    Object.keys(qualifiers).length > 0 ? qualifiers : undefined,
    undefined,
  ).toString();
}

/**
 * purl types of every ecosystem Tally inventories. `generic` is for runtimes that have no package ecosystem of
 * their own (the JDK, the Python interpreter, the node binary): `pkg:generic/python@3.11.2`.
 */
export const PACKAGE_TYPES = ['deb', 'apk', 'rpm', 'npm', 'pypi', 'maven', 'golang', 'nuget', 'generic'] as const;
export type PackageType = (typeof PACKAGE_TYPES)[number];

export const OS_PACKAGE_TYPES: ReadonlySet<PackageType> = new Set<PackageType>(['deb', 'apk', 'rpm']);

export const SCAN_TYPES = ['Static', 'Dynamic', 'SCA'] as const;
export type ScanType = (typeof SCAN_TYPES)[number];

/** The UI's OS / Non-OS split. */
export type PackageClass = 'os' | 'lang';

/** installed: package metadata; declared: a lockfile or manifest; binary: read out of a compiled binary. */
export type Evidence = 'installed' | 'declared' | 'binary';

export interface SourcePackage {
  readonly name: string;
  readonly version: string;
}

/** A reference from a package or finding to the layer that introduced it. */
export interface LayerRef {
  readonly index: number;
  /** Null only for a rootfs directory, which has no tar to digest. */
  readonly diffId: string | null;
  readonly createdBy: string | null;
}

/** A package as it appears in the report (report-schema.md). */
export interface Package {
  readonly id: string;
  readonly name: string;
  readonly version: string;
  readonly type: PackageType;
  readonly purl: string;
  readonly class: PackageClass;
  readonly scanType: ScanType;
  readonly source?: SourcePackage;
  readonly arch?: string;
  readonly layer: LayerRef;
  readonly locations: readonly string[];
  /** The strongest evidence: installed > binary > declared. */
  readonly evidence: Evidence;
  /** Present when one entry merges evidence from several files (a lockfile and the installed package.json). */
  readonly evidenceSources?: readonly { readonly evidence: Evidence; readonly location: string }[];
  readonly identifiedBy?: string;
  readonly licenses?: readonly string[];
  readonly vendor?: string;
  /** Set on language packages whose files belong to an OS package (so they are not matched twice). */
  readonly ownedBy?: { readonly type: PackageType; readonly name: string; readonly version: string };
  /** Small ecosystem-specific facts (sha1 of a jar, go version of a binary, ...). Values are strings. */
  readonly metadata?: Readonly<Record<string, string>>;
}

export function packageClassOf(type: PackageType): PackageClass {
  return OS_PACKAGE_TYPES.has(type) ? 'os' : 'lang';
}

import { createHash } from 'node:crypto';
import type { Distro } from './distro/detect.js';
import type { Extractor } from './extract/extractor.js';
import type { MergedImage, MergedPackage } from './image/applier.js';
import { packageClassOf, type LayerRef, type Package, type PackageType } from './model/package.js';
import { buildPurl } from './model/purl.js';
import { describeError, type Issue } from './model/issue.js';
import { dirname, isWithin } from './image/path.js';

/** purl namespace of OS packages when the distro is unknown. */
const DEFAULT_OS_NAMESPACE: Partial<Record<PackageType, string>> = { deb: 'debian', apk: 'alpine', rpm: 'rpm' };

/** Stable package id: sha256 of type, name, version, arch and first location (arch: multi-arch dpkg lists libc6 twice). */
export function packageId(type: string, name: string, version: string, arch: string, location: string): string {
  return createHash('sha256').update(`${type}\0${name}\0${version}\0${arch}\0${location}`).digest('hex');
}

function locationOf(m: MergedPackage): string {
  return m.pkg.nested && m.pkg.nested.length > 0 ? `${m.path}!/${m.pkg.nested.join('!/')}` : m.path;
}

function osQualifiers(m: MergedPackage, distro: Distro | null): Record<string, string> {
  const q: Record<string, string> = {};
  if (m.pkg.arch) q['arch'] = m.pkg.arch;
  if (distro && distro.version) q['distro'] = `${distro.family}-${distro.version}`;
  return q;
}

/**
 * Turn merged extractor output into report packages: purl (distro-aware for OS packages), id, layer reference,
 * location, the OS package that owns a language artifact; duplicates of one package at one location merge.
 * Problems (an identity the purl spec rejects) are appended to `issues`.
 */
export function buildPackages(
  merged: MergedImage,
  distro: Distro | null,
  layerRefs: readonly LayerRef[],
  extractors: readonly Extractor[],
  issues: Issue[],
): Package[] {
  const scanTypeOf = new Map(extractors.map((e) => [e.name, e.scanType]));
  // OS packages by (extractor, name), to resolve file ownership to a versioned owner
  const osByName = new Map<string, MergedPackage>();
  const chosen = chosenPackages(merged.packages, extractors, issues);
  for (const m of chosen) if (packageClassOf(m.pkg.type) === 'os') osByName.set(`${m.extractor}\0${m.pkg.name}`, m);

  const byKey = new Map<string, Package>();
  for (const m of chosen) {
    const { pkg } = m;
    const cls = packageClassOf(pkg.type);
    const location = locationOf(m);
    const arch = pkg.arch ?? '';
    // A runtime (python, node, a JDK) found in several files of one version is one runtime with several locations.
    const isRuntime = pkg.metadata?.['role'] === 'runtime';
    const key = `${pkg.type}\0${pkg.name}\0${pkg.version}\0${arch}\0${isRuntime ? '' : location}`;
    const existing = byKey.get(key);
    if (existing) {
      const locations = existing.locations.includes(location) ? existing.locations : [...existing.locations, location];
      byKey.set(key, { ...existing, locations, layer: m.layer < existing.layer.index ? layerRefs[m.layer]! : existing.layer });
      continue;
    }
    const qualifiers = cls === 'os' ? { ...osQualifiers(m, distro), ...pkg.qualifiers } : { ...pkg.qualifiers };
    let purl: string;
    try {
      purl = buildPurl({
        type: pkg.type,
        name: pkg.name,
        version: pkg.version,
        ...(cls === 'os' ? { namespace: distro?.family ?? DEFAULT_OS_NAMESPACE[pkg.type] ?? pkg.type } : {}),
        qualifiers,
      });
    } catch (err) {
      // one malformed identity (a name the purl spec rejects) must not cost the rest of the inventory
      issues.push({ layer: m.layer, path: location, extractor: m.extractor, message: `package ${pkg.type}/${pkg.name}@${pkg.version} skipped: ${describeError(err)}` });
      continue;
    }
    const owner = cls === 'lang' ? merged.owners.get(m.path) : undefined;
    const ownerPkg = owner ? osByName.get(`${owner.extractor}\0${owner.packageName}`) : undefined;
    byKey.set(key, {
      id: packageId(pkg.type, pkg.name, pkg.version, arch, location),
      name: pkg.name,
      version: pkg.version,
      type: pkg.type,
      purl,
      class: cls,
      scanType: scanTypeOf.get(m.extractor) ?? (cls === 'os' ? 'Static' : 'SCA'),
      ...(pkg.source ? { source: pkg.source } : {}),
      ...(pkg.arch ? { arch: pkg.arch } : {}),
      layer: layerRefs[m.layer]!,
      locations: [location],
      evidence: pkg.evidence,
      ...(pkg.identifiedBy ? { identifiedBy: pkg.identifiedBy } : {}),
      ...(pkg.licenses && pkg.licenses.length > 0 ? { licenses: pkg.licenses } : {}),
      ...(pkg.vendor ? { vendor: pkg.vendor } : {}),
      ...(ownerPkg ? { ownedBy: { type: ownerPkg.pkg.type, name: ownerPkg.pkg.name, version: ownerPkg.pkg.version } } : {}),
      ...(pkg.metadata ? { metadata: pkg.metadata } : {}),
    });
  }
  return mergeDeclaredEvidence([...byKey.values()]).sort(comparePackages);
}

/**
 * The packages of the files their extractors chose (`choose`), where a program reads one of several files: the
 * others are dropped, each with an issue naming it.
 */
function chosenPackages(packages: readonly MergedPackage[], extractors: readonly Extractor[], issues: Issue[]): readonly MergedPackage[] {
  const choosing = new Map(extractors.filter((e) => e.choose !== undefined).map((e) => [e.name, e]));
  const pathsOf = new Map<string, Set<string>>();
  for (const m of packages) {
    if (!choosing.has(m.extractor)) continue;
    const paths = pathsOf.get(m.extractor);
    if (paths === undefined) pathsOf.set(m.extractor, new Set([m.path]));
    else paths.add(m.path);
  }
  const dropped = new Set<string>();
  for (const [name, paths] of pathsOf) {
    if (paths.size < 2) continue;
    const { keep, reason } = choosing.get(name)!.choose!([...paths].sort());
    for (const path of paths) {
      if (path === keep) continue;
      dropped.add(`${name}\0${path}`);
      issues.push({ layer: null, path, extractor: name, message: `packages not counted: ${reason}` });
    }
  }
  return dropped.size === 0 ? packages : packages.filter((m) => !dropped.has(`${m.extractor}\0${m.path}`));
}

/**
 * A lockfile entry (declared) for a package that is also installed or compiled in below the lockfile's directory
 * is the same package: fold it into that entry (its location and evidence kept in `evidenceSources`), so one
 * package is one row and is matched once. Declared-only packages stay as they are.
 */
function mergeDeclaredEvidence(packages: Package[]): Package[] {
  const key = (p: Package): string => `${p.type}\0${p.name}\0${p.version}`;
  const present = new Map<string, Package[]>();
  for (const p of packages) {
    if (p.class === 'lang' && p.evidence !== 'declared') present.set(key(p), [...(present.get(key(p)) ?? []), p]);
  }
  const declaredIn = new Map<Package, string[]>();
  const kept: Package[] = [];
  for (const p of packages) {
    if (p.class === 'lang' && p.evidence === 'declared') {
      const lockfile = p.locations[0] ?? '/';
      const target = present.get(key(p))?.find((q) => q.locations.some((l) => isWithin(l, dirname(lockfile))));
      if (target) {
        declaredIn.set(target, [...(declaredIn.get(target) ?? []), lockfile]);
        continue;
      }
    }
    kept.push(p);
  }
  return kept.map((p) => {
    const extra = declaredIn.get(p);
    if (!extra) return p;
    return {
      ...p,
      locations: [...p.locations, ...extra],
      evidenceSources: [...p.locations.map((location) => ({ evidence: p.evidence, location })), ...extra.map((location) => ({ evidence: 'declared' as const, location }))],
    };
  });
}

function comparePackages(a: Package, b: Package): number {
  if (a.class !== b.class) return a.class === 'os' ? -1 : 1;
  return a.layer.index - b.layer.index || cmp(a.name, b.name) || cmp(a.version, b.version) || cmp(a.locations[0] ?? '', b.locations[0] ?? '');
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

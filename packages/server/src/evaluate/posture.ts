/**
 * Posture evaluation on the server: stored inventory × the server's vulnerability database → detection rows.
 *
 * The core matcher (`matchPackages`, the same code the CLI runs) decides every finding. A finding depends only on
 * the package identity and the image's distro, never on where the package sits, so results are computed once per
 * (distro, dictionary package) and kept for the life of one database handle; each image's detection is that result
 * stamped with the image's own scan type and layer. A fleet of 10,000 images sharing base layers then costs one
 * match per distinct package, not one per image (the re-evaluation budget in bench/backend.mjs).
 */
import { createHash } from 'node:crypto';
import { matchPackages, type Distro, type Finding, type VulnDb } from '@tally/core';
import { packageForMatching, type MatchablePackage } from '../store/packages.js';
import type { NewDetection } from '../store/schema.js';
import { AdvisoryFingerprints, lookupKeysOf, type Basis } from './fingerprints.js';

export const SEVERITY_RANK: Readonly<Record<string, number>> = { CRITICAL: 0, HIGH: 1, MEDIUM: 2, LOW: 3, NEGLIGIBLE: 4, UNKNOWN: 5 };

/** The image's OS as stored (images.os_*). */
export interface StoredOs {
  readonly os_family: string | null;
  readonly os_name: string | null;
  readonly os_version: string | null;
  readonly os_pretty: string | null;
}

/** A report's OS as stored (the upload's and the inspection worker's view of it are the same). */
export function storedOs(os: { readonly family: string; readonly name: string; readonly version: string; readonly prettyName: string | null } | null | undefined): StoredOs {
  return { os_family: os?.family ?? null, os_name: os?.name ?? null, os_version: os?.version ?? null, os_pretty: os?.prettyName ?? null };
}

export function distroOf(os: StoredOs): Distro | null {
  if (os.os_family === null) return null;
  return { family: os.os_family, name: os.os_name ?? '', version: os.os_version ?? '', prettyName: os.os_pretty, codename: null, detectedBy: 'report' };
}

/** evaluations.distro: JSON [family, name, version], or '' without an OS. */
export function distroKey(os: StoredOs): string {
  return os.os_family === null ? '' : JSON.stringify([os.os_family, os.os_name, os.os_version]);
}

/** One image package to evaluate: the dictionary columns plus where it is in the image. */
export interface PackageInImage extends MatchablePackage {
  readonly image_package_pk: number;
  readonly package_pk: number;
  readonly scan_type: string;
  readonly layer_index: number;
}

/** What a finding says independently of the image, serialised once. */
export interface Template {
  readonly vulnId: string;
  readonly severity: string;
  readonly severityRank: number;
  readonly status: string;
  readonly fixedVersions: string;
  readonly kev: number;
  readonly epss: number | null;
  readonly cvssScore: number | null;
  readonly data: string;
  readonly class: string;
  /** Hash of the fields above (finding_data.hash). */
  readonly hash: string;
}

function templateOf(f: Finding): Template {
  const data = JSON.stringify({
    aliases: f.aliases,
    cvss: f.cvss,
    severitySource: f.severitySource,
    summary: f.summary,
    dataSource: f.dataSource,
    match: f.match,
  });
  const fixedVersions = JSON.stringify(f.fixedVersions);
  const scores = f.cvss.map((c) => c.score).filter((s) => Number.isFinite(s));
  const cvssScore = scores.length > 0 ? Math.max(...scores) : null;
  const epss = f.epss !== null && Number.isFinite(f.epss) ? f.epss : null;
  const kev = f.kev ? 1 : 0;
  const hash = createHash('sha256')
    .update(JSON.stringify([f.id, f.severity, f.status, fixedVersions, kev, epss, cvssScore, f.class, data]))
    .digest('base64url');
  return { vulnId: f.id, severity: f.severity, severityRank: SEVERITY_RANK[f.severity] ?? 5, status: f.status, fixedVersions, kev, epss, cvssScore, data, class: f.class, hash };
}

/** Detection rows for some images plus the finding data they reference (evaluate/findings.ts writes both). */
export interface Detections {
  readonly rows: NewDetection[];
  /** hash → the shared part of the finding. */
  readonly findings: Map<string, FindingData>;
  /** (distro, package) pairs matched for the first time by this matcher: ingestion records them in `evaluations`. */
  readonly fresh?: Map<number, { readonly distro: string; readonly signature: string }>;
  /**
   * Every pair of these rows, by package pk, with what its findings were computed from: `detections()` always fills
   * it and insertDetections records it (evaluate/pairs.ts). The re-evaluation's own rewrite leaves it out.
   */
  readonly pairs?: Map<number, PairRecord>;
}

/** One (distro, package) pair as matched: its findings' signature and the database facts they depend on. */
export interface PairRecord {
  readonly distro: string;
  readonly packagePk: number;
  readonly signature: string;
  readonly basis: Basis;
}

export interface FindingData {
  readonly fixed_versions: string;
  readonly data: string;
}

/**
 * The findings of one (distro, package) pair, as one comparable string: `hash severity cvss vulnId` lines, sorted.
 * Besides the hash (which decides equality) a line keeps what the re-evaluation needs to rewrite the finding's
 * detections without reading them: the vuln id (their index) and what they count towards (severity, CVSS score).
 */
export function signatureOf(templates: readonly Template[]): string {
  return templates
    .map((t) => `${t.hash} ${t.severity} ${t.cvssScore ?? '-'} ${t.vulnId}`)
    .sort()
    .join('\n');
}

export interface SignatureEntry {
  readonly hash: string;
  readonly severity: string;
  readonly cvssScore: number | null;
  readonly vulnId: string;
}

/** The findings a signature lists, or null when it is not one (a record written in another form). */
export function signatureEntries(signature: string): SignatureEntry[] | null {
  if (signature === '') return [];
  const out: SignatureEntry[] = [];
  for (const line of signature.split('\n')) {
    const m = /^(\S+) (\S+) (\S+) (.+)$/.exec(line);
    const cvss = m?.[3] === '-' ? null : Number(m?.[3]);
    if (m === null || (cvss !== null && !Number.isFinite(cvss))) return null;
    out.push({ hash: m[1] as string, severity: m[2] as string, cvssScore: cvss, vulnId: m[4] as string });
  }
  return out;
}

/** One (distro, package) pair as matched: its findings and their signature (computed once). */
export interface Matched {
  readonly templates: readonly Template[];
  readonly signature: string;
}

/** One distro's cached results, by package key (nested maps: no string key built per package and lookup). */
interface DistroCache {
  readonly key: string;
  readonly matched: Map<string, Matched>;
  readonly bases: Map<string, Basis>;
  /** Results another thread computed for this database, not used here yet: taken as if matched when first needed. */
  readonly seeded: Map<string, Matched>;
}

/**
 * Pairs an inspection worker matched for the first time, computed with its own handle on the database file whose
 * identity they carry (evaluate/vulndb.ts): the main thread takes them instead of matching again when its own
 * handle has that identity. Moves the matching of new packages off the SQLite writer's thread: alternated over 1,200
 * uploads, its CPU an upload went from 29.2, 25.2, 29.8, 27.4 ms to 27.3, 22.8, 24.3, 29.0. A swap racing an open
 * can leave a handle on newer content under the older identity, here as for the main thread's own handle; the
 * re-evaluation that swap triggers rewrites what either matched.
 */
export interface MatchSeeds {
  readonly identity: string;
  readonly os: StoredOs;
  readonly entries: readonly (readonly [pkey: string, matched: Matched, basis: Basis])[];
}

export class PostureMatcher {
  private readonly distros = new Map<string, DistroCache>();
  /** The same StoredOs object (one per upload or image batch) finds its cache without serialising the distro again. */
  private readonly byOs = new WeakMap<StoredOs, DistroCache>();
  private entries = 0;
  readonly fingerprints: AdvisoryFingerprints;

  constructor(
    readonly db: VulnDb,
    /** Cached (distro, package) results; past this the cache starts over (a crude but safe bound). */
    private readonly maxEntries = 500_000,
  ) {
    this.fingerprints = new AdvisoryFingerprints(db);
  }

  private distroCache(os: StoredOs): DistroCache {
    let c = this.byOs.get(os);
    if (c === undefined) {
      const key = distroKey(os);
      c = this.distros.get(key);
      if (c === undefined) this.distros.set(key, (c = { key, matched: new Map(), bases: new Map(), seeded: new Map() }));
      this.byOs.set(os, c);
    }
    return c;
  }

  /** Room for `n` more entries, starting over when the bound would be passed. */
  private reserve(n: number): void {
    if (this.entries + n <= this.maxEntries) {
      this.entries += n;
      return;
    }
    for (const c of this.distros.values()) {
      c.matched.clear();
      c.bases.clear();
      c.seeded.clear();
    }
    this.entries = n;
  }

  /** The lookup keys of a pair and their fingerprints in this database (cached). */
  basisOf(os: StoredOs, p: MatchablePackage): Basis {
    const { bases } = this.distroCache(os);
    let hit = bases.get(p.pkey);
    if (hit === undefined) {
      hit = this.fingerprints.basis(lookupKeysOf(distroOf(os), p));
      this.reserve(1);
      bases.set(p.pkey, hit);
    }
    return hit;
  }

  /**
   * The findings of each package on this distro (cached). `onFresh` hears about the pairs computed now rather
   * than taken from the cache.
   */
  matchedFor(os: StoredOs, packages: readonly MatchablePackage[], onFresh?: (pkey: string, matched: Matched) => void): (pkey: string) => Matched {
    const cache = this.distroCache(os);
    // Read back through a local map: a cache reset while this batch is in use must not lose its entries.
    const local = new Map<string, Matched>();
    const misses = new Map<string, MatchablePackage>();
    for (const p of packages) {
      const hit = cache.matched.get(p.pkey);
      if (hit !== undefined) {
        local.set(p.pkey, hit);
        continue;
      }
      const seeded = cache.seeded.get(p.pkey);
      if (seeded === undefined) {
        misses.set(p.pkey, p);
        continue;
      }
      cache.seeded.delete(p.pkey);
      cache.matched.set(p.pkey, seeded);
      local.set(p.pkey, seeded);
      onFresh?.(p.pkey, seeded);
    }
    if (misses.size > 0) {
      const { findings } = matchPackages([...misses.values()].map(packageForMatching), distroOf(os), this.db);
      const byPackage = new Map<string, Template[]>();
      for (const f of findings) {
        let list = byPackage.get(f.packageId);
        if (list === undefined) byPackage.set(f.packageId, (list = []));
        list.push(templateOf(f));
      }
      this.reserve(misses.size);
      for (const pkey of misses.keys()) {
        const templates = byPackage.get(pkey) ?? [];
        const matched = { templates, signature: signatureOf(templates) };
        cache.matched.set(pkey, matched);
        local.set(pkey, matched);
        onFresh?.(pkey, matched);
      }
    }
    return (pkey) => local.get(pkey) ?? NOTHING;
  }

  /** The pairs of `packages` this matcher had not matched yet, matched now, with their bases (for MatchSeeds). */
  fresh(os: StoredOs, packages: readonly MatchablePackage[]): MatchSeeds['entries'] {
    const out: [string, Matched, Basis][] = [];
    const byKey = new Map(packages.map((p) => [p.pkey, p]));
    this.matchedFor(os, packages, (pkey, matched) => out.push([pkey, matched, this.basisOf(os, byKey.get(pkey) as MatchablePackage)]));
    return out;
  }

  /** Takes another thread's results (see MatchSeeds); the caller has checked they come from this database file. */
  seed(seeds: MatchSeeds): void {
    const cache = this.distroCache(seeds.os);
    for (const [pkey, matched, basis] of seeds.entries) {
      if (cache.matched.has(pkey) || cache.seeded.has(pkey)) continue;
      this.reserve(1);
      cache.seeded.set(pkey, matched);
      if (!cache.bases.has(pkey)) cache.bases.set(pkey, basis);
    }
  }

  /** Detection rows for one image's packages (all of them, or a batch of them), added to `into` (returned, with `pairs`). */
  detections(imagePk: number, os: StoredOs, packages: readonly PackageInImage[], into: Detections = { rows: [], findings: new Map() }): Detections {
    const dk = this.distroCache(os).key;
    const pairs = into.pairs ?? new Map<number, PairRecord>();
    const pkOf = new Map(packages.map((p) => [p.pkey, p.package_pk]));
    const matchedOf = this.matchedFor(os, packages, (pkey, matched) => {
      const pk = pkOf.get(pkey);
      if (pk !== undefined) into.fresh?.set(pk, { distro: dk, signature: matched.signature });
    });
    for (const p of packages) {
      const { templates, signature } = matchedOf(p.pkey);
      stamp(imagePk, p, templates, into);
      pairs.set(p.package_pk, { distro: dk, packagePk: p.package_pk, signature, basis: this.basisOf(os, p) });
    }
    return into.pairs === undefined ? { ...into, pairs } : into;
  }
}

const NOTHING: Matched = { templates: [], signature: '' };

/** One image package's detections: the pair's findings with the image's own scan type and layer. */
export function stamp(imagePk: number, p: { image_package_pk: number; package_pk: number; scan_type: string; layer_index: number }, templates: readonly Template[], into: Detections): void {
  for (const t of templates) {
    into.findings.set(t.hash, { fixed_versions: t.fixedVersions, data: t.data });
    into.rows.push({
      image_pk: imagePk,
      image_package_pk: p.image_package_pk,
      package_pk: p.package_pk,
      vuln_id: t.vulnId,
      scan_type: p.scan_type,
      class: t.class,
      severity: t.severity,
      severity_rank: t.severityRank,
      status: t.status,
      has_fix: t.fixedVersions === '[]' ? 0 : 1,
      layer_index: p.layer_index,
      kev: t.kev,
      epss: t.epss,
      cvss_score: t.cvssScore,
      finding: t.hash,
    });
  }
}

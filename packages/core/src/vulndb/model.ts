/**
 * The normalised advisory model every importer produces and the matcher consumes. It is OSV-shaped (OSV is the
 * richest common format) with the distro-tracker facts OSV cannot say: a per-package status and a vendor rating.
 */

/** OSV range event; exactly one key is set. */
export type RangeEvent =
  | { readonly introduced: string }
  | { readonly fixed: string }
  | { readonly last_affected: string }
  | { readonly limit: string };

export interface AffectedRange {
  /** ECOSYSTEM and SEMVER ranges are evaluated; GIT ranges are kept for display only. */
  readonly type: 'ECOSYSTEM' | 'SEMVER' | 'GIT';
  readonly events: readonly RangeEvent[];
}

/**
 * What a distro tracker says about a package beyond "fixed in X": Debian `<unfixed>`, `no-dsa`, `<end-of-life>`...
 * `not_affected` entries are kept so that an explicit "not affected" is distinguishable from "no data".
 */
export type VendorStatus = 'fixed' | 'affected' | 'will_not_fix' | 'fix_deferred' | 'end_of_life' | 'under_investigation' | 'not_affected';

export interface Affected {
  /** OSV ecosystem, with release for distros: "npm", "PyPI", "Maven", "Go", "NuGet", "Debian:12", "Alpine:v3.19", "AlmaLinux:9". */
  readonly ecosystem: string;
  /** Normalised per ecosystem (see normalizePackageName): PyPI PEP 503, NuGet lower-case, others as written. */
  readonly package: string;
  readonly ranges: readonly AffectedRange[];
  /** Explicitly enumerated affected versions (OSV `versions`). */
  readonly versions: readonly string[];
  /** Distro trackers only. */
  readonly status?: VendorStatus;
  /** Vendor rating for this package (Debian urgency, distro severity), already mapped to Tally's scale. */
  readonly severity?: VendorSeverity;
}

export interface VendorSeverity {
  readonly level: 'CRITICAL' | 'HIGH' | 'MEDIUM' | 'LOW' | 'NEGLIGIBLE' | 'UNKNOWN';
  /** "debian", "alpine", "redhat", "ghsa", ... */
  readonly source: string;
}

export interface CvssVector {
  /** OSV severity type: CVSS_V2, CVSS_V3 (3.0 or 3.1, read from the vector prefix), CVSS_V4. */
  readonly type: 'CVSS_V2' | 'CVSS_V3' | 'CVSS_V4';
  readonly vector: string;
  /** Where the vector came from ("nvd", "ghsa", the advisory's own database...). */
  readonly source: string;
}

export interface Advisory {
  /** GHSA-…, CVE-…, GO-…, PYSEC-…, DSA-…, ALSA-…; for distro trackers keyed by CVE, the CVE. */
  readonly id: string;
  readonly aliases: readonly string[];
  /** OSV `related`, and CVE lists of bundle advisories (a DSA fixing several CVEs). */
  readonly related: readonly string[];
  /** The feed it came from: "osv:npm", "debian-tracker", "debian-dsa", "alpine-secdb", ... */
  readonly source: string;
  readonly summary: string;
  readonly details: string;
  readonly published: string | null;
  readonly modified: string | null;
  readonly cvss: readonly CvssVector[];
  /** GHSA `database_specific.severity` and similar advisory-wide ratings. */
  readonly severity: VendorSeverity | null;
  readonly references: readonly string[];
  readonly affected: readonly Affected[];
}

export interface KevEntry {
  readonly cve: string;
  readonly dateAdded: string;
  readonly dueDate: string | null;
  readonly knownRansomwareCampaignUse: string | null;
}

export interface EpssEntry {
  readonly cve: string;
  readonly score: number;
  readonly percentile: number;
  readonly date: string | null;
}

/** Read access to a vulnerability database, as the matcher needs it. Implemented by the SQLite store. */
export interface VulnDb {
  /** Every advisory with an `affected` entry for (ecosystem, normalised package name). */
  affecting(ecosystem: string, packageName: string): readonly Advisory[];
  advisory(id: string): Advisory | null;
  kev(cve: string): KevEntry | null;
  epss(cve: string): EpssEntry | null;
}

/** Canonical package names per ecosystem, so that "Django_Foo" and "django-foo" meet. */
export function normalizePackageName(ecosystem: string, name: string): string {
  const base = ecosystem.split(':')[0];
  switch (base) {
    case 'PyPI':
      return name.toLowerCase().replace(/[-_.]+/g, '-');
    case 'NuGet':
      return name.toLowerCase();
    default:
      return name;
  }
}

/**
 * What a (distro, package) pair's findings depend on in the vulnerability database, as comparable strings, so that a
 * database change re-matches only the pairs it can affect (evaluate/reevaluate.ts).
 *
 * The matcher reads the database only through core's `VulnDb` lookups: `affecting(ecosystem, name)` for each lookup
 * the package makes (core `lookupTargets`: the distro's ecosystem and the source or binary name for OS packages, the
 * language ecosystem and the normalised name otherwise), `advisory(id)` for the other ids of a vulnerability (their
 * severity and CVSS count), and `kev` / `epss` for its CVEs. A lookup key's fingerprint hashes all of that:
 *  - the content of every advisory affecting the key (ranges, fixed versions, statuses, severities, CVSS, aliases,
 *    summary), in the order the database returns them; a withdrawn record is not in the database, so it drops out;
 *  - for every id those advisories carry (own id, aliases, related, a CVE embedded in an id), the content of the
 *    advisory `advisory(id)` resolves to;
 *  - for every such CVE, its KEV flag and EPSS score.
 * It errs on the side of more: an id the matcher would not consult for a given version still counts, so a
 * fingerprint may change without a pair's findings changing (the re-evaluation re-matches and rewrites nothing),
 * never the reverse. EPSS scores move daily for most CVEs, so a daily EPSS import re-matches most keys that have one.
 */
import { createHash } from 'node:crypto';
import { distroEcosystems, lookupTargets, type Advisory, type Distro, type VulnDb } from '@tally/core';
import { packageForMatching, type MatchablePackage } from '../store/packages.js';

/** The fingerprint of a key no advisory affects. */
export const NO_ADVISORIES = '-';
/** Marks a pair whose images may hold detections from different databases: it is rewritten at the next re-evaluation. */
export const UNSETTLED = '';

const CVE = /^CVE-\d{4}-\d{4,}$/;
/** Ids that embed the CVE they are about (UBUNTU-CVE-…, DEBIAN-CVE-…): the matcher joins them by that CVE. */
const EMBEDDED_CVE = /^[A-Z]+-(CVE-\d{4}-\d{4,})$/;

function digest(text: string): string {
  return createHash('sha256').update(text).digest('base64url').slice(0, 22);
}

/** One lookup the matcher makes for a package: JSON [ecosystem, name] (unambiguous, NUL-free for PostgreSQL text). */
export function lookupKeysOf(distro: Distro | null, p: MatchablePackage): string[] {
  const t = lookupTargets(packageForMatching(p), (type) => distroEcosystems(distro, type));
  if ('unsupported' in t) return [];
  return [...new Set(t.targets.map((x) => JSON.stringify([x.ecosystem, x.name])))].sort();
}

/** A pair's lookup keys with their fingerprints, sorted by key. */
export type Basis = readonly { readonly key: string; readonly fingerprint: string }[];

export function basisText(basis: Basis): string {
  return basis.map((b) => `${b.key}=${b.fingerprint}`).join('\n');
}

/** Fingerprints of lookup keys in one database (one per opened file: the file never changes under it). */
export class AdvisoryFingerprints {
  private readonly byKey = new Map<string, string>();
  private readonly content = new WeakMap<Advisory, string>();
  private readonly byId = new Map<string, string>();

  constructor(
    private readonly db: VulnDb,
    /** Memoised keys and ids; past this the memo starts over (a crude but safe bound). */
    private readonly maxEntries = 1_000_000,
  ) {}

  of(key: string): string {
    let hit = this.byKey.get(key);
    if (hit === undefined) {
      const [ecosystem, name] = JSON.parse(key) as [string, string];
      hit = this.compute(ecosystem, name);
      if (this.byKey.size >= this.maxEntries) this.byKey.clear();
      this.byKey.set(key, hit);
    }
    return hit;
  }

  basis(keys: readonly string[]): Basis {
    return keys.map((key) => ({ key, fingerprint: this.of(key) }));
  }

  private compute(ecosystem: string, name: string): string {
    const advisories = this.db.affecting(ecosystem, name);
    if (advisories.length === 0) return NO_ADVISORIES;
    const ids = new Set<string>();
    for (const a of advisories) {
      for (const id of [a.id, ...a.aliases, ...a.related]) {
        ids.add(id);
        const embedded = EMBEDDED_CVE.exec(id)?.[1];
        if (embedded !== undefined) ids.add(embedded);
      }
    }
    const deps = [...ids].sort().map((id) => `${id}=${this.idFacts(id)}`);
    return digest(JSON.stringify([advisories.map((a) => this.contentOf(a)), deps]));
  }

  /** What `advisory(id)` resolves to, plus KEV and EPSS for a CVE. */
  private idFacts(id: string): string {
    let hit = this.byId.get(id);
    if (hit === undefined) {
      const a = this.db.advisory(id);
      hit = a === null ? NO_ADVISORIES : this.contentOf(a);
      if (CVE.test(id)) hit += `;${this.db.kev(id) === null ? 0 : 1};${this.db.epss(id)?.score ?? ''}`;
      if (this.byId.size >= this.maxEntries) this.byId.clear();
      this.byId.set(id, hit);
    }
    return hit;
  }

  private contentOf(a: Advisory): string {
    let hit = this.content.get(a);
    if (hit === undefined) {
      hit = digest(JSON.stringify(a));
      this.content.set(a, hit);
    }
    return hit;
  }
}

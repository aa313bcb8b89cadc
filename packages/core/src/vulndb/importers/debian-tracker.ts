/**
 * The Debian security tracker JSON (https://security-tracker.debian.org/tracker/data/json): one object keyed by
 * SOURCE package name, each a map CVE (or TEMP-…) → { description, debianbug, releases: codename → {status,
 * fixed_version, urgency, nodsa, nodsa_reason, repositories} }.
 *
 * One Advisory per (source package, CVE), keyed `package/CVE`, with one `affected` entry per numbered release.
 * Statuses (the tracker's words → Tally's):
 *   resolved, fixed_version "0"        → not_affected (the tracker's way of saying "never vulnerable")
 *   resolved, fixed_version V          → fixed, range [0, V)
 *   open, urgency end-of-life          → end_of_life   (release out of security support)
 *   open, nodsa_reason postponed       → fix_deferred  (will be fixed in a point release)
 *   open, nodsa / nodsa_reason ignored → will_not_fix  (no-dsa: minor issue)
 *   open                               → affected
 *   undetermined                       → under_investigation
 * Urgency → severity on the affected entry (unimportant → NEGLIGIBLE, low* → LOW, …).
 */
import { isObject, str } from '../../util/json.js';
import { normalizePackageName, type Advisory, type Affected, type VendorSeverity, type VendorStatus } from '../model.js';
import { DEBIAN_TRACKER_URL, debianEcosystem, debianUrgency } from './debian.js';
import { ID_PATTERN, skip, type Parsed } from './types.js';

export const DEBIAN_TRACKER_SOURCE = 'debian-tracker';

/** Debian source package names (policy §5.6.1), loosely: a sanity bound against garbage keys. */
const SOURCE_PACKAGE = /^[A-Za-z0-9][A-Za-z0-9+._~-]{0,127}$/;
const TRACKER_ID = /^(CVE-\d{4}-\d{4,}|TEMP-\d+-[0-9A-Fa-f]+|DSA-\d+(-\d+)?|DLA-\d+(-\d+)?)$/;

/** Detects the tracker shape from the first bytes: `{ "pkg": { "CVE-…": {` (format detection by content). */
export function looksLikeDebianTracker(head: string): boolean {
  return /^\s*\{\s*"[^"\\]{1,128}"\s*:\s*\{\s*"(CVE-\d{4}-\d+|TEMP-\d+-[0-9A-Fa-f]+)"\s*:\s*\{/.test(head);
}

interface ReleaseFacts {
  readonly status: VendorStatus;
  readonly fixed: string | null;
  readonly open: boolean;
  readonly level: VendorSeverity['level'] | null;
}

function releaseFacts(r: unknown): ReleaseFacts | string {
  if (!isObject(r)) return 'release entry is not an object';
  const status = str(r, 'status');
  const urgency = str(r, 'urgency') ?? '';
  const level = debianUrgency(urgency);
  const nodsa = str(r, 'nodsa');
  const nodsaReason = (str(r, 'nodsa_reason') ?? '').toLowerCase();
  switch (status) {
    case 'resolved': {
      const fixed = str(r, 'fixed_version');
      if (fixed === null || fixed.trim() === '') return 'resolved without fixed_version';
      if (fixed === '0') return { status: 'not_affected', fixed: null, open: false, level };
      return { status: 'fixed', fixed, open: false, level };
    }
    case 'open': {
      let s: VendorStatus = 'affected';
      if (urgency.toLowerCase() === 'end-of-life') s = 'end_of_life';
      else if (nodsaReason === 'postponed') s = 'fix_deferred';
      else if (nodsaReason === 'ignored' || (nodsa !== null && nodsa !== '')) s = 'will_not_fix';
      return { status: s, fixed: null, open: true, level };
    }
    case 'undetermined':
      return { status: 'under_investigation', fixed: null, open: true, level };
    default:
      return `unknown status ${JSON.stringify(status)}`;
  }
}

/** One package's CVE map → advisories (and skips). `value` is untrusted JSON. */
export function parseDebianTrackerPackage(pkg: string, value: unknown): Parsed[] {
  if (!SOURCE_PACKAGE.test(pkg)) return [skip('invalid', `not a Debian source package name: ${JSON.stringify(pkg.slice(0, 80))}`)];
  if (!isObject(value)) return [skip('invalid', `${pkg}: value is not an object`)];
  const out: Parsed[] = [];
  for (const [cve, entry] of Object.entries(value)) {
    if (!TRACKER_ID.test(cve) || !ID_PATTERN.test(cve)) {
      out.push(skip('invalid', `${pkg}: unexpected key ${JSON.stringify(cve.slice(0, 80))}`));
      continue;
    }
    if (!isObject(entry)) {
      out.push(skip('invalid', `${pkg}/${cve}: not an object`, cve));
      continue;
    }
    const releases = entry['releases'];
    const affected: Affected[] = [];
    const problems: string[] = [];
    if (isObject(releases)) {
      for (const [codename, r] of Object.entries(releases)) {
        const ecosystem = debianEcosystem(codename);
        if (ecosystem === null) continue; // sid, experimental: no release number to match against
        const facts = releaseFacts(r);
        if (typeof facts === 'string') {
          problems.push(`${codename}: ${facts}`);
          continue;
        }
        affected.push({
          ecosystem,
          package: normalizePackageName(ecosystem, pkg),
          ranges: facts.fixed !== null
            ? [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: facts.fixed }] }]
            : facts.open
              ? [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }]
              : [],
          versions: [],
          status: facts.status,
          ...(facts.level ? { severity: { level: facts.level, source: 'debian' } } : {}),
        });
      }
    }
    if (affected.length === 0) {
      out.push(
        problems.length > 0
          ? skip('invalid', `${pkg}/${cve}: ${problems[0]}`, cve)
          : skip('ignored', 'no numbered Debian release (sid only or empty releases)', cve),
      );
      continue;
    }
    const bug = entry['debianbug'];
    const references = [`${DEBIAN_TRACKER_URL}${cve}`];
    if (typeof bug === 'number' && Number.isSafeInteger(bug) && bug > 0) references.push(`https://bugs.debian.org/${bug}`);
    const advisory: Advisory = {
      id: cve,
      aliases: [],
      related: [],
      source: DEBIAN_TRACKER_SOURCE,
      summary: '',
      details: str(entry, 'description') ?? '',
      published: null,
      modified: null,
      cvss: [],
      severity: null,
      references,
      affected,
    };
    out.push({ key: `${pkg}/${cve}`, advisory });
  }
  return out;
}

/**
 * Red Hat CSAF 2.0 documents: security advisories (`csaf_security_advisory`, one RHSA each) and VEX files
 * (`csaf_vex`, one CVE each, with affected / not-affected / deferred streams too).
 *
 * Products are resolved through the product tree: a status entry names a relationship id
 * ("AppStream-9.4.0.GA:openssl-1:3.0.7-27.el9.src") whose platform carries a CPE
 * (`cpe:/a:redhat:enterprise_linux:9::appstream`) and whose package carries a purl
 * (`pkg:rpm/redhat/openssl@3.0.7-27.el9?arch=src&epoch=1`). Ecosystem names follow osv.dev's Red Hat records:
 * "Red Hat:" + the CPE after `redhat:` → `Red Hat:enterprise_linux:9::appstream`, so CSAF and OSV Red Hat data meet.
 * Packages are the rpm names (source and binary), versions `epoch:version-release` when the epoch is not 0.
 *
 * Status mapping (product_status → Tally):
 *   fixed               → fixed, range [0, version]
 *   known_affected      → affected, or per remediation: no_fix_planned "Will not fix" → will_not_fix,
 *                         "Out of support scope" → end_of_life; none_available "Fix deferred" → fix_deferred
 *   known_not_affected  → not_affected
 *   under_investigation → under_investigation
 */
import { arr, isObject, obj, str, type JsonObject } from '../../util/json.js';
import type { Advisory, AffectedRange, CvssVector, VendorSeverity, VendorStatus } from '../model.js';
import { CVE_PATTERN, ID_PATTERN, skip, type Parsed } from './types.js';

export function looksLikeCsaf(v: unknown): boolean {
  if (!isObject(v)) return false;
  const doc = obj(v, 'document');
  return doc !== null && typeof doc['csaf_version'] === 'string';
}

interface ProductFacts {
  readonly cpe: string | null;
  readonly purl: string | null;
}

interface Pkg {
  readonly name: string;
  /** epoch:version-release, or null for a versionless component ("openssl" in a VEX affected list). */
  readonly evr: string | null;
}

const MAX_PRODUCTS = 200_000;

function collectProducts(tree: JsonObject): Map<string, ProductFacts> {
  const products = new Map<string, ProductFacts>();
  const add = (p: unknown): void => {
    if (!isObject(p) || products.size >= MAX_PRODUCTS) return;
    const id = str(p, 'product_id');
    if (id === null) return;
    const helper = obj(p, 'product_identification_helper');
    products.set(id, { cpe: helper ? str(helper, 'cpe') : null, purl: helper ? str(helper, 'purl') : null });
  };
  // Branches nest (vendor → family → name/version); walk them with an explicit stack, bounded in depth.
  const stack: { branches: readonly unknown[]; depth: number }[] = [{ branches: arr(tree, 'branches') ?? [], depth: 0 }];
  while (stack.length > 0) {
    const { branches, depth } = stack.pop() ?? { branches: [], depth: 0 };
    if (depth > 16) continue;
    for (const b of branches) {
      if (!isObject(b)) continue;
      add(b['product']);
      const sub = arr(b, 'branches');
      if (sub) stack.push({ branches: sub, depth: depth + 1 });
    }
  }
  for (const p of arr(tree, 'full_product_names') ?? []) add(p);
  return products;
}

/** `pkg:rpm/redhat/openssl@3.0.7-27.el9?arch=src&epoch=1` → openssl, 1:3.0.7-27.el9. */
export function rpmFromPurl(purl: string): Pkg | null {
  const m = /^pkg:rpm\/[^/]+\/([^@?#]+)(?:@([^?#]+))?(?:\?([^#]*))?/.exec(purl);
  if (!m) return null;
  let name: string;
  let version: string | null;
  try {
    name = decodeURIComponent(m[1] ?? '');
    version = m[2] ? decodeURIComponent(m[2]) : null;
  } catch {
    return null;
  }
  const epoch = new URLSearchParams(m[3] ?? '').get('epoch');
  if (name === '') return null;
  return { name, evr: version === null ? null : epoch && epoch !== '0' ? `${epoch}:${version}` : version };
}

/** `openssl-devel-1:3.0.7-27.el9.aarch64` (CSAF product reference, NEVRA) → openssl-devel, 1:3.0.7-27.el9. */
export function rpmFromNevra(ref: string): Pkg | null {
  const m = /^(.+)-(\d+):([^-:]+)-([^-:]+)\.([A-Za-z0-9_]+)$/.exec(ref);
  if (m) {
    const [, name = '', epoch = '0', v = '', r = ''] = m;
    return { name, evr: epoch === '0' ? `${v}-${r}` : `${epoch}:${v}-${r}` };
  }
  // A versionless component: "openssl" or "openssl.src".
  if (/^[A-Za-z0-9][A-Za-z0-9+._-]*$/.test(ref)) return { name: ref.replace(/\.(src|noarch|x86_64|aarch64|ppc64le|s390x|i686)$/, ''), evr: null };
  return null;
}

/** `cpe:/a:redhat:enterprise_linux:9::appstream` → `Red Hat:enterprise_linux:9::appstream`. */
export function redhatEcosystem(cpe: string): string | null {
  const m = /^cpe:\/[aoh]:redhat:(.+)$/.exec(cpe);
  return m?.[1] ? `Red Hat:${m[1]}` : null;
}

const SEVERITY: Readonly<Record<string, VendorSeverity['level']>> = { critical: 'CRITICAL', important: 'HIGH', moderate: 'MEDIUM', low: 'LOW' };

interface Slot {
  status: VendorStatus;
  fixed: string[];
}

/** Statuses in order of precedence when one package/platform pair is listed several times. */
const PRECEDENCE: readonly VendorStatus[] = ['affected', 'fix_deferred', 'will_not_fix', 'end_of_life', 'under_investigation', 'fixed', 'not_affected'];

export function parseCsaf(v: unknown): Parsed[] {
  if (!isObject(v)) return [skip('invalid', 'CSAF document is not an object')];
  const doc = obj(v, 'document');
  const tracking = doc ? obj(doc, 'tracking') : null;
  const id = tracking ? str(tracking, 'id') : null;
  if (doc === null || id === null || !ID_PATTERN.test(id)) return [skip('invalid', 'CSAF document without a tracking id')];
  const category = str(doc, 'category') ?? '';
  const isVex = category === 'csaf_vex';
  const tree = obj(v, 'product_tree');
  if (tree === null) return [skip('invalid', `${id}: no product_tree`, id)];
  const products = collectProducts(tree);
  const relationships = new Map<string, { pkg: string; platform: string }>();
  for (const r of arr(tree, 'relationships') ?? []) {
    if (!isObject(r)) continue;
    const full = obj(r, 'full_product_name');
    const pid = full ? str(full, 'product_id') : null;
    const pkg = str(r, 'product_reference');
    const platform = str(r, 'relates_to_product_reference');
    if (pid && pkg && platform && relationships.size < MAX_PRODUCTS) relationships.set(pid, { pkg, platform });
  }

  const resolve = (productId: string): { ecosystem: string; pkg: Pkg } | null => {
    const rel = relationships.get(productId);
    if (!rel) return null;
    const cpe = products.get(rel.platform)?.cpe;
    const ecosystem = cpe ? redhatEcosystem(cpe) : null;
    if (!ecosystem) return null;
    const purl = products.get(rel.pkg)?.purl;
    // Only rpm packages: containers (pkg:oci) and other product kinds are not matched against rpm inventories.
    if (purl && !purl.startsWith('pkg:rpm/')) return null;
    const pkg = (purl ? rpmFromPurl(purl) : null) ?? rpmFromNevra(rel.pkg);
    return pkg ? { ecosystem, pkg } : null;
  };

  const slots = new Map<string, Slot>();
  const setStatus = (productId: string, status: VendorStatus): void => {
    const r = resolve(productId);
    if (!r) return;
    const key = `${r.ecosystem}\0${r.pkg.name}`;
    const slot = slots.get(key) ?? { status, fixed: [] };
    if (PRECEDENCE.indexOf(status) < PRECEDENCE.indexOf(slot.status)) slot.status = status;
    if (status === 'fixed' && r.pkg.evr !== null && !slot.fixed.includes(r.pkg.evr)) slot.fixed.push(r.pkg.evr);
    slots.set(key, slot);
  };

  const cves: string[] = [];
  const related = new Set<string>();
  const cvss: CvssVector[] = [];
  for (const vuln of arr(v, 'vulnerabilities') ?? []) {
    if (!isObject(vuln)) continue;
    const cve = str(vuln, 'cve');
    if (cve && CVE_PATTERN.test(cve) && !cves.includes(cve)) cves.push(cve);
    // Remediations refine "known_affected": why there is no fix.
    const why = new Map<string, VendorStatus>();
    for (const rem of arr(vuln, 'remediations') ?? []) {
      if (!isObject(rem)) continue;
      const cat = str(rem, 'category');
      const details = (str(rem, 'details') ?? '').toLowerCase();
      const url = str(rem, 'url');
      const rhsa = url ? /\/errata\/(RH[SBE]A-\d{4}:\d+)/.exec(url)?.[1] : undefined;
      if (rhsa && rhsa !== id) related.add(rhsa);
      let s: VendorStatus | null = null;
      if (cat === 'no_fix_planned') s = details.includes('out of support') ? 'end_of_life' : 'will_not_fix';
      else if (cat === 'none_available') s = details.includes('deferred') ? 'fix_deferred' : 'affected';
      if (s) for (const pid of arr(rem, 'product_ids') ?? []) if (typeof pid === 'string') why.set(pid, s);
    }
    const status = obj(vuln, 'product_status');
    if (status) {
      for (const pid of arr(status, 'fixed') ?? []) if (typeof pid === 'string') setStatus(pid, 'fixed');
      for (const pid of arr(status, 'known_affected') ?? []) if (typeof pid === 'string') setStatus(pid, why.get(pid) ?? 'affected');
      for (const pid of arr(status, 'known_not_affected') ?? []) if (typeof pid === 'string') setStatus(pid, 'not_affected');
      for (const pid of arr(status, 'under_investigation') ?? []) if (typeof pid === 'string') setStatus(pid, 'under_investigation');
    }
    for (const s of arr(vuln, 'scores') ?? []) {
      if (!isObject(s)) continue;
      for (const [field, type] of [['cvss_v3', 'CVSS_V3'], ['cvss_v2', 'CVSS_V2'], ['cvss_v4', 'CVSS_V4']] as const) {
        const c = obj(s, field);
        const vector = c ? str(c, 'vectorString') : null;
        if (vector && !cvss.some((x) => x.vector === vector)) cvss.push({ type, vector, source: 'redhat' });
      }
    }
  }

  const affected = [...slots.entries()].map(([key, slot]) => {
    const [ecosystem = '', name = ''] = key.split('\0');
    const ranges: AffectedRange[] =
      slot.status === 'fixed'
        ? slot.fixed.map((f) => ({ type: 'ECOSYSTEM' as const, events: [{ introduced: '0' }, { fixed: f }] }))
        : slot.status === 'not_affected'
          ? []
          : [{ type: 'ECOSYSTEM' as const, events: [{ introduced: '0' }] }];
    return { ecosystem, package: name, ranges, versions: [], status: slot.status };
  });
  if (affected.length === 0) return [skip('ignored', `${id}: no rpm packages on Red Hat platforms`, id)];

  const agg = obj(doc, 'aggregate_severity');
  const level = agg ? SEVERITY[(str(agg, 'text') ?? '').toLowerCase()] : undefined;
  const notes = (arr(doc, 'notes') ?? []).filter(isObject);
  const note = (cat: string): string => notes.filter((n) => str(n, 'category') === cat).map((n) => str(n, 'text') ?? '').join('\n\n');
  const references = (arr(doc, 'references') ?? [])
    .filter(isObject)
    .map((r) => str(r, 'url'))
    .filter((u): u is string => u !== null)
    .slice(0, 50);
  const advisory: Advisory = {
    id,
    aliases: [],
    related: isVex ? [...related] : [...cves, ...related],
    source: isVex ? 'redhat-vex' : 'redhat-csaf',
    summary: str(doc, 'title') ?? '',
    details: isVex ? note('description') || note('summary') : note('general') || note('summary'),
    published: tracking ? str(tracking, 'initial_release_date') : null,
    modified: tracking ? str(tracking, 'current_release_date') : null,
    cvss,
    severity: level ? { level, source: 'redhat' } : null,
    references,
    affected,
  };
  return [{ key: id, advisory }];
}

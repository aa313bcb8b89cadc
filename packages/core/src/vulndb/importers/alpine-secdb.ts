/**
 * Alpine secdb documents (https://secdb.alpinelinux.org/v3.NN/{main,community}.json):
 *   { distroversion: "v3.11", reponame: "main", packages: [ { pkg: { name, secfixes: { "<fixed version>": [ids] } } } ] }
 *
 * One Advisory per (release, package, id), keyed `Alpine:v3.11/pkg/id`, with a `fixed` range per listing. The real
 * data's quirks, all handled here:
 *  - secfixes key "0": the ids never affected the package → status not_affected, no range;
 *  - two ids in one string ("CVE-2017-8904 XSA-214"): the CVE is the id, the other an alias;
 *  - only a non-CVE id ("XSA-207", "wnpa-sec-2017-18", "ZBX-11023"): that id;
 *  - free text after the id ("CVE-2017-2616 (+ regression fix)", "CVE-2017-16808 (AoE)"): ignored;
 *  - typos and suffixes ("CVE_2019-2426", "CVE-2017-17434-1", "CVE-2017-8073.patch"): the CVE they name;
 *  - placeholders ("CVE-????-?????  XSA-295"): the placeholder is dropped;
 *  - `packages: ""` for an empty repository;
 *  - the same id under two fixed versions of one package: both ranges are kept (their union, i.e. the higher fix,
 *    decides), so the data loses nothing and the matcher errs towards reporting.
 */
import { isObject, obj, str } from '../../util/json.js';
import { normalizePackageName, type Advisory, type AffectedRange } from '../model.js';
import { ID_PATTERN, skip, type Parsed } from './types.js';

export const ALPINE_SOURCE = 'alpine-secdb';

const CVE_LIKE = /^CVE[-_](\d{4})-(\d{4,})/i;
const OTHER_ID = /^[A-Za-z][A-Za-z0-9]*(?:-[A-Za-z0-9]+)*-\d+$/;
const BRANCH = /^(v\d+\.\d+|edge)$/;
const APK_VERSION = /^[0-9][A-Za-z0-9._+~-]*$/;

export function looksLikeAlpineSecdb(v: unknown): boolean {
  return isObject(v) && typeof v['distroversion'] === 'string' && 'packages' in v;
}

/** The ids named by one secfixes string: the CVE first (when there is one), then the others. */
export function alpineIds(text: string): { id: string; aliases: string[] } | null {
  const cves: string[] = [];
  const others: string[] = [];
  // "CVE 2018-16859" (a space for the dash) happens upstream; rejoin it before splitting into tokens.
  for (const raw of text.trim().replace(/\bCVE[ _]+(?=\d{4}-\d)/gi, 'CVE-').split(/\s+/)) {
    if (raw.startsWith('(')) break; // free text from here on
    const token = raw.replace(/[,;:]+$/, '');
    const cve = CVE_LIKE.exec(token);
    if (cve) {
      const id = `CVE-${cve[1]}-${cve[2]}`;
      if (!cves.includes(id)) cves.push(id);
    } else if (OTHER_ID.test(token) && !/^CVE-/i.test(token)) {
      if (!others.includes(token)) others.push(token);
    }
  }
  const all = [...cves, ...others];
  const id = all[0];
  return id === undefined ? null : { id, aliases: all.slice(1) };
}

/** One secdb document → advisories and skips. */
export function parseAlpineSecdb(doc: unknown): Parsed[] {
  if (!isObject(doc)) return [skip('invalid', 'secdb document is not an object')];
  const branch = str(doc, 'distroversion');
  if (branch === null || !BRANCH.test(branch)) return [skip('invalid', `unexpected distroversion ${JSON.stringify(doc['distroversion'])}`)];
  const ecosystem = `Alpine:${branch}`;
  const packages = doc['packages'];
  if (packages === '' || packages === null) return []; // an empty repository is written as "" upstream
  if (!Array.isArray(packages)) return [skip('invalid', `${ecosystem}: packages is not a list`)];

  const out: Parsed[] = [];
  for (const p of packages as readonly unknown[]) {
    const pkg = isObject(p) ? obj(p, 'pkg') : null;
    const name = pkg ? str(pkg, 'name') : null;
    const secfixes = pkg ? obj(pkg, 'secfixes') : null;
    if (pkg === null || name === null || !/^[A-Za-z0-9][A-Za-z0-9+._-]{0,127}$/.test(name)) {
      out.push(skip('invalid', `${ecosystem}: package entry without a valid name`));
      continue;
    }
    if (secfixes === null) {
      out.push(skip('invalid', `${ecosystem}/${name}: secfixes is not a map`));
      continue;
    }
    // id → ranges and aliases, in the order listed; merged so one package never gets two advisories for one id.
    const byId = new Map<string, { aliases: Set<string>; ranges: AffectedRange[]; neverAffected: boolean }>();
    for (const [version, ids] of Object.entries(secfixes)) {
      const never = version === '0';
      if (!never && !APK_VERSION.test(version)) {
        out.push(skip('invalid', `${ecosystem}/${name}: unparsable fixed version ${JSON.stringify(version.slice(0, 60))}`));
        continue;
      }
      const list = Array.isArray(ids) ? (ids as readonly unknown[]) : null;
      if (list === null) {
        out.push(skip('invalid', `${ecosystem}/${name}@${version}: ids are not a list`));
        continue;
      }
      for (const item of list) {
        const parsed = typeof item === 'string' ? alpineIds(item) : null;
        if (parsed === null) {
          out.push(skip('invalid', `${ecosystem}/${name}@${version}: no id in ${JSON.stringify(item)}`.slice(0, 160)));
          continue;
        }
        if (!ID_PATTERN.test(parsed.id)) {
          out.push(skip('invalid', `${ecosystem}/${name}@${version}: implausible id`));
          continue;
        }
        const slot = byId.get(parsed.id) ?? { aliases: new Set<string>(), ranges: [], neverAffected: false };
        for (const a of parsed.aliases) slot.aliases.add(a);
        if (never) slot.neverAffected = true;
        else slot.ranges.push({ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: version }] });
        byId.set(parsed.id, slot);
      }
    }
    const pkgName = normalizePackageName(ecosystem, name);
    for (const [id, slot] of byId) {
      // A fix listing wins over "0": if Alpine both fixed it and listed it as never affecting, the fix is the fact.
      const fixed = slot.ranges.length > 0;
      const advisory: Advisory = {
        id,
        aliases: [...slot.aliases],
        related: [],
        source: ALPINE_SOURCE,
        summary: '',
        details: '',
        published: null,
        modified: null,
        cvss: [],
        severity: null,
        references: id.startsWith('CVE-') ? [`https://security.alpinelinux.org/vuln/${id}`] : [],
        affected: [{ ecosystem, package: pkgName, ranges: slot.ranges, versions: [], status: fixed ? 'fixed' : 'not_affected' }],
      };
      out.push({ key: `${ecosystem}/${pkgName}/${id}`, advisory });
    }
  }
  return out;
}

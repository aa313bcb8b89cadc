// Alpine secdb, CISA KEV, EPSS, Red Hat CSAF/VEX and Node.js Security WG parsers, on the real files of
// ../shared/vulndb/.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { alpineIds, looksLikeAlpineSecdb, parseAlpineSecdb } from './alpine-secdb.js';
import { looksLikeCsaf, parseCsaf, redhatEcosystem, rpmFromNevra, rpmFromPurl } from './csaf.js';
import { EpssParser, looksLikeEpss } from './epss.js';
import { looksLikeKev, parseKev } from './kev.js';
import { looksLikeNswg, nswgRanges, parseNswg } from './nswg.js';
import { isSkipped, type KeyedAdvisory, type Parsed } from './types.js';

const SHARED = new URL('../../../../../../shared/vulndb/', import.meta.url);
const sharedText = (name: string): string => gunzipSync(readFileSync(new URL(name, SHARED))).toString('utf8');
const sharedLines = (name: string): unknown[] =>
  sharedText(name)
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as unknown);
const advisories = (ps: readonly Parsed[]): KeyedAdvisory[] => ps.filter((p): p is KeyedAdvisory => !isSkipped(p));

describe('Alpine secdb (real 2020 documents)', () => {
  const docs = sharedLines('alpine-secdb-2020.secdb.ndjson.gz');
  const all = docs.flatMap((d) => parseAlpineSecdb(d));
  const byKey = new Map(advisories(all).map((a) => [a.key, a.advisory]));

  it('recognises documents and reads all of them', () => {
    assert.equal(docs.length, 18);
    assert.ok(docs.every(looksLikeAlpineSecdb));
    // 12,028 CVE fix listings upstream; merged per (release, package, id), minus the two unreadable entries.
    assert.ok(byKey.size > 11_000, String(byKey.size));
    assert.equal(all.filter(isSkipped).length, 1); // heimdal 7.4.0-r0: "" instead of a list
  });
  it('maps distroversion to the ecosystem and each listing to a fixed range', () => {
    const a = byKey.get('Alpine:v3.3/apache2/CVE-2017-3167');
    assert.ok(a);
    assert.equal(a.source, 'alpine-secdb');
    assert.deepEqual(a.affected, [
      { ecosystem: 'Alpine:v3.3', package: 'apache2', ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2.4.26-r0' }] }], versions: [], status: 'fixed' },
    ]);
  });
  it('reads key "0" as never affected', () => {
    const a = byKey.get('Alpine:v3.8/db/CVE-2016-0682');
    assert.equal(a?.affected[0]?.status, 'not_affected');
    assert.deepEqual(a?.affected[0]?.ranges, []);
  });
  it('splits two ids in one string, keeps XSA-only ids, drops free text and placeholders', () => {
    const xen = [...byKey.values()].filter((a) => a.affected[0]?.package === 'xen' && a.affected[0].ecosystem === 'Alpine:v3.11');
    const cve = xen.find((a) => a.id === 'CVE-2017-8904');
    assert.deepEqual(cve?.aliases, ['XSA-214']);
    assert.ok(xen.some((a) => a.id === 'XSA-207' && a.aliases.length === 0));
    assert.ok(xen.some((a) => a.id === 'XSA-295'), 'the CVE-????-????? placeholder leaves the XSA id');
    assert.equal(alpineIds('CVE-2017-2616 (+ regression fix)')?.id, 'CVE-2017-2616');
    assert.deepEqual(alpineIds('CVE-2017-16808 (AoE)'), { id: 'CVE-2017-16808', aliases: [] });
    assert.deepEqual(alpineIds('CVE-2018-8897  XSA-260'), { id: 'CVE-2018-8897', aliases: ['XSA-260'] });
    assert.equal(alpineIds('CVE_2019-2426')?.id, 'CVE-2019-2426');
    assert.equal(alpineIds('CVE-2017-17434-1')?.id, 'CVE-2017-17434');
    assert.equal(alpineIds('CVE-2017-8073.patch')?.id, 'CVE-2017-8073');
    assert.equal(alpineIds('CVE 2018-16859')?.id, 'CVE-2018-16859');
    assert.equal(alpineIds('wnpa-sec-2017-18')?.id, 'wnpa-sec-2017-18');
    assert.equal(alpineIds('(only text)'), null);
    assert.equal(alpineIds(''), null);
  });
  it('keeps both fixes when one id is listed under two versions of a package', () => {
    const a = byKey.get('Alpine:v3.11/wpa_supplicant/CVE-2017-13077');
    assert.deepEqual(a?.affected[0]?.ranges.map((r) => r.events[1]), [{ fixed: '2.7-r0' }, { fixed: '2.6-r7' }]);
  });
  it('reads an empty repository and rejects malformed documents without throwing', () => {
    assert.deepEqual(parseAlpineSecdb({ distroversion: 'v3.3', packages: '' }), []);
    const bad = [
      ...parseAlpineSecdb(null),
      ...parseAlpineSecdb({ distroversion: 3.3, packages: [] }),
      ...parseAlpineSecdb({ distroversion: 'v3.9', packages: {} }),
      ...parseAlpineSecdb({ distroversion: 'v3.9', packages: [{ pkg: { name: 'x', secfixes: { '1.0-r0': 'CVE-2020-1', 'bad version!': [] } } }, 7, { pkg: {} }] }),
      ...parseAlpineSecdb({ distroversion: 'v3.9', packages: [{ pkg: { name: '__proto__', secfixes: { __proto__: ['CVE-2020-2'] } } }] }),
    ];
    assert.ok(bad.every((p) => isSkipped(p) && p.skip === 'invalid'), JSON.stringify(bad));
  });
});

describe('CISA KEV (real catalog)', () => {
  const doc: unknown = JSON.parse(sharedText('cisa-kev.json.gz'));
  it('reads every entry and the catalog version', () => {
    assert.equal(looksLikeKev(doc), true);
    const kev = parseKev(doc);
    assert.equal(kev.catalogVersion, '2025.08.25');
    assert.equal(kev.entries.length, 1404);
    assert.ok(kev.entries.every((e) => !('skip' in e)));
    const log4shell = kev.entries.find((e) => 'cve' in e && e.cve === 'CVE-2021-44228');
    assert.deepEqual(log4shell, { cve: 'CVE-2021-44228', dateAdded: '2021-12-10', dueDate: '2021-12-24', knownRansomwareCampaignUse: 'Known' });
  });
  it('skips malformed entries', () => {
    const kev = parseKev({ catalogVersion: 'x', vulnerabilities: [{ cveID: 'CVE-1' }, { cveID: 'CVE-2020-1234', dateAdded: 5 }, 'str'] });
    assert.deepEqual(kev.entries.map((e) => ('skip' in e ? e.skip : e.cve)), ['invalid', 'invalid', 'invalid']);
    assert.equal(looksLikeKev(JSON.parse(sharedText('cisa-kev.schema.json.gz'))), false);
  });
});

describe('EPSS CSV (real sample)', () => {
  it('reads the score date from the metadata line and every row', () => {
    const text = sharedText('epss.sample.csv.gz');
    assert.equal(looksLikeEpss(text), true);
    const p = new EpssParser();
    const rows = text.split('\n').map((l) => p.line(l)).filter((r) => r !== null);
    assert.equal(p.modelVersion, 'v2023.03.01');
    assert.deepEqual(rows[4], { cve: 'CVE-1999-0005', score: 0.91963, percentile: 0.99214, date: '2025-02-20' });
    assert.equal(rows.length, 5);
  });
  it('skips rows that are not a CVE with two probabilities', () => {
    const p = new EpssParser();
    const got = ['cve,epss,percentile', 'CVE-2020-1,0.1,0.2', 'CVE-2020-1234,1.5,0.2', 'CVE-2020-1234,abc,0.2', 'CVE-2020-1234,0.1', 'CVE-2020-1234,0.1,0.2,extra', 'CVE-2020-1234,,'].map((l) => p.line(l));
    assert.deepEqual(got.map((r) => (r === null ? null : 'skip' in r ? r.skip : r.cve)), [null, 'invalid', 'invalid', 'invalid', 'invalid', 'invalid', 'invalid']);
  });
});

describe('Red Hat CSAF advisories and VEX (real documents)', () => {
  const csaf = sharedLines('redhat-csaf.samples.ndjson.gz');
  const vex = sharedLines('redhat-vex.samples.ndjson.gz');
  it('helpers read purls, NEVRAs and platform CPEs', () => {
    assert.deepEqual(rpmFromPurl('pkg:rpm/redhat/openssl@3.0.7-27.el9?arch=src&epoch=1'), { name: 'openssl', evr: '1:3.0.7-27.el9' });
    assert.deepEqual(rpmFromPurl('pkg:rpm/redhat/python3.9@3.9.18-3.el9_4.5?arch=src'), { name: 'python3.9', evr: '3.9.18-3.el9_4.5' });
    assert.deepEqual(rpmFromNevra('openssl-devel-1:3.0.7-27.el9.aarch64'), { name: 'openssl-devel', evr: '1:3.0.7-27.el9' });
    assert.deepEqual(rpmFromNevra('openssl.src'), { name: 'openssl', evr: null });
    assert.equal(redhatEcosystem('cpe:/a:redhat:enterprise_linux:9::appstream'), 'Red Hat:enterprise_linux:9::appstream');
  });
  it('turns an RHSA into one advisory with its CVEs and fixed rpm versions per platform', () => {
    assert.ok(csaf.every(looksLikeCsaf));
    const all = csaf.flatMap((d) => parseCsaf(d));
    const byId = new Map(advisories(all).map((a) => [a.key, a.advisory]));
    assert.equal(byId.size, 4);
    const a = byId.get('RHSA-2024:6163');
    assert.ok(a);
    assert.equal(a.source, 'redhat-csaf');
    assert.deepEqual(a.related, ['CVE-2024-8088']);
    assert.equal(a.severity?.level, 'MEDIUM');
    assert.equal(a.cvss[0]?.vector, 'CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:U/C:N/I:N/A:H');
    const f = a.affected.find((x) => x.ecosystem === 'Red Hat:enterprise_linux:9::appstream' && x.package === 'python3.9');
    assert.deepEqual(f?.ranges, [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '3.9.18-3.el9_4.5' }] }]);
    assert.equal(f?.status, 'fixed');
  });
  it('turns a VEX document into per-platform statuses, including will-not-fix and deferred', () => {
    const all = vex.flatMap((d) => parseCsaf(d));
    const byId = new Map(advisories(all).map((a) => [a.key, a.advisory]));
    const a = byId.get('CVE-2024-0727');
    assert.ok(a);
    assert.equal(a.source, 'redhat-vex');
    assert.ok(a.related.includes('RHSA-2024:2447'));
    const get = (eco: string, pkg: string) => a.affected.find((x) => x.ecosystem === eco && x.package === pkg);
    assert.deepEqual(get('Red Hat:enterprise_linux:9::appstream', 'openssl')?.ranges[0]?.events[1], { fixed: '1:3.0.7-27.el9' });
    assert.equal(get('Red Hat:enterprise_linux:6', 'openssl')?.status, 'end_of_life');
    assert.equal(get('Red Hat:enterprise_linux:8', 'edk2-ovmf')?.status, 'will_not_fix');
    assert.equal(get('Red Hat:enterprise_linux:8', 'compat-openssl10')?.status, 'fix_deferred');
    assert.equal(get('Red Hat:enterprise_linux:9::baseos', 'openssl-fips-provider')?.status, 'not_affected');
  });
  it('rejects malformed documents', () => {
    assert.deepEqual(parseCsaf({ document: { csaf_version: '2.0' } }).map((p) => isSkipped(p) && p.skip), ['invalid']);
    assert.deepEqual(parseCsaf({ document: { csaf_version: '2.0', tracking: { id: 'RHSA-1' } } }).map((p) => isSkipped(p) && p.skip), ['invalid']);
  });
});

describe('Node.js Security WG (real records)', () => {
  const recs = sharedLines('nodejs-security-wg.ndjson.gz');
  const all = recs.map(parseNswg);
  const byId = new Map(advisories(all).map((a) => [a.key, a.advisory]));
  it('imports every npm and core record', () => {
    assert.ok(recs.every(looksLikeNswg));
    assert.equal(byId.size, 638);
  });
  it('converts an npm record: <=1.5.1 patched by >=1.5.2', () => {
    const a = byId.get('NSWG-ECO-1');
    assert.deepEqual(a?.aliases, ['CVE-2014-7205']);
    assert.deepEqual(a?.affected, [{ ecosystem: 'npm', package: 'bassmaster', ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.5.2' }] }], versions: [] }]);
  });
  it('converts a core record to per-line ranges for the Node.js runtime', () => {
    const a = byId.get('NSWG-COR-1');
    assert.equal(a?.affected[0]?.ecosystem, 'Node.js');
    assert.equal(a?.affected[0]?.package, 'node');
    assert.deepEqual(a?.affected[0]?.ranges.map((r) => r.events), [
      [{ introduced: '8.0.0' }, { fixed: '8.1.4' }],
      [{ introduced: '7.0.0' }, { fixed: '7.10.1' }],
      [{ introduced: '4.0.0' }, { fixed: '4.8.4' }],
      [{ introduced: '6.0.0' }, { fixed: '6.11.1' }],
      [{ introduced: '5.0.0' }, { fixed: '6.0.0' }], // 5.x never got a patch
    ]);
  });
  it('converts malicious-module placeholders to "every version" and unpatched <= to last_affected', () => {
    assert.deepEqual(nswgRanges('<=99.999.99999', '<0.0.0')?.ranges, [{ type: 'SEMVER', events: [{ introduced: '0' }] }]);
    assert.deepEqual(nswgRanges('<=0.0.6', null)?.ranges, [{ type: 'SEMVER', events: [{ introduced: '0' }, { last_affected: '0.0.6' }] }]);
    assert.deepEqual(nswgRanges('*', null)?.ranges, [{ type: 'SEMVER', events: [{ introduced: '0' }] }]);
    assert.equal(nswgRanges('not a range ((', null), null);
  });
});

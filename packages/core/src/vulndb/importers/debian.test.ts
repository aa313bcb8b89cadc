import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import type { Advisory } from '../model.js';
import { debianEcosystem, debianUrgency } from './debian.js';
import { DebianListParser, looksLikeDebianList } from './debian-list.js';
import { looksLikeDebianTracker, parseDebianTrackerPackage } from './debian-tracker.js';
import { isSkipped, type KeyedAdvisory, type Parsed, type Skip } from './types.js';

const SHARED = new URL('../../../../../../shared/vulndb/', import.meta.url);
const sharedText = (name: string): string => gunzipSync(readFileSync(new URL(name, SHARED))).toString('utf8');

const advisories = (ps: readonly Parsed[]): KeyedAdvisory[] => ps.filter((p): p is KeyedAdvisory => !isSkipped(p));
const skips = (ps: readonly Parsed[]): Skip[] => ps.filter((p): p is Skip => isSkipped(p));

function parseList(text: string): Parsed[] {
  const kind = looksLikeDebianList(text);
  assert.ok(kind);
  const p = new DebianListParser(kind);
  const out: Parsed[] = [];
  for (const line of text.split('\n')) out.push(...p.line(line));
  out.push(...p.end());
  return out;
}

describe('Debian release names and urgencies', () => {
  it('maps codenames to release numbers, sid to nothing', () => {
    assert.equal(debianEcosystem('bookworm'), 'Debian:12');
    assert.equal(debianEcosystem('bullseye'), 'Debian:11');
    assert.equal(debianEcosystem('buster'), 'Debian:10');
    assert.equal(debianEcosystem('stretch'), 'Debian:9');
    assert.equal(debianEcosystem('jessie'), 'Debian:8');
    assert.equal(debianEcosystem('wheezy'), 'Debian:7');
    assert.equal(debianEcosystem('squeeze'), 'Debian:6');
    assert.equal(debianEcosystem('trixie'), 'Debian:13');
    assert.equal(debianEcosystem('woody'), 'Debian:3.0');
    assert.equal(debianEcosystem('sid'), null);
    assert.equal(debianEcosystem('experimental'), null);
    assert.equal(debianEcosystem('__proto__'), null);
  });
  it('maps urgencies, ignoring the NVD-derived stars', () => {
    assert.equal(debianUrgency('unimportant'), 'NEGLIGIBLE');
    assert.equal(debianUrgency('low*'), 'LOW');
    assert.equal(debianUrgency('low**'), 'LOW');
    assert.equal(debianUrgency('medium'), 'MEDIUM');
    assert.equal(debianUrgency('high**'), 'HIGH');
    assert.equal(debianUrgency('not yet assigned'), null);
    assert.equal(debianUrgency('end-of-life'), null);
  });
});

describe('Debian security tracker JSON (real sample)', () => {
  const text = sharedText('debian-tracker-json.sample.json.gz');
  const doc = JSON.parse(text) as Record<string, unknown>;
  const all = Object.entries(doc).flatMap(([pkg, v]) => parseDebianTrackerPackage(pkg, v));
  const byKey = new Map(advisories(all).map((a) => [a.key, a.advisory]));

  it('is recognised from its first bytes', () => {
    assert.equal(looksLikeDebianTracker(text), true);
    assert.equal(looksLikeDebianTracker('{"id": "GHSA-x", "affected": []}'), false);
  });
  it('keys one advisory per source package and CVE, one affected entry per numbered release (sid dropped)', () => {
    const a = byKey.get('prototypejs/CVE-2008-7220');
    assert.ok(a);
    assert.equal(a.id, 'CVE-2008-7220');
    assert.equal(a.source, 'debian-tracker');
    assert.deepEqual(a.affected.map((f) => f.ecosystem).sort(), ['Debian:10', 'Debian:8', 'Debian:9']);
    const buster = a.affected.find((f) => f.ecosystem === 'Debian:10');
    assert.equal(buster?.package, 'prototypejs');
    assert.equal(buster?.status, 'fixed');
    assert.deepEqual(buster?.ranges, [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '1.6.0.2-1' }] }]);
    assert.deepEqual(buster?.severity, { level: 'HIGH', source: 'debian' });
    assert.ok(a.references.includes('https://bugs.debian.org/555217'));
    assert.match(a.details, /Prototype JavaScript framework/);
  });
  it('reads fixed_version "0" as not affected, with the unimportant urgency as NEGLIGIBLE', () => {
    const a = byKey.get('prototypejs/CVE-2007-2383');
    for (const f of a?.affected ?? []) {
      assert.equal(f.status, 'not_affected');
      assert.deepEqual(f.ranges, []);
      assert.equal(f.severity?.level, 'NEGLIGIBLE');
    }
  });
  it('reads open + end-of-life as end_of_life with an open range; not yet assigned urgency gives no severity', () => {
    const a = byKey.get('chromium/CVE-2022-0456');
    const stretch = a?.affected.find((f) => f.ecosystem === 'Debian:9');
    assert.equal(stretch?.status, 'end_of_life');
    assert.deepEqual(stretch?.ranges, [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }]);
    const bookworm = a?.affected.find((f) => f.ecosystem === 'Debian:12');
    assert.equal(bookworm?.status, 'fixed');
    assert.equal(bookworm?.severity, undefined);
    const bullseye = a?.affected.find((f) => f.ecosystem === 'Debian:11');
    assert.deepEqual(bullseye?.ranges[0]?.events[1], { fixed: '98.0.4758.80-1~deb11u1' });
  });
  it('covers trixie and skips a CVE whose releases are empty', () => {
    assert.ok(byKey.get('sope/CVE-2025-53603')?.affected.some((f) => f.ecosystem === 'Debian:13'));
    assert.deepEqual(skips(all).map((s) => [s.skip, s.id]), [['ignored', 'CVE-2022-0358']]);
  });
  it('maps no-dsa flags to statuses', () => {
    const entry = (r: Record<string, unknown>): Advisory | undefined =>
      advisories(parseDebianTrackerPackage('openssl', { 'CVE-2024-0001': { releases: { bookworm: r } } }))[0]?.advisory;
    assert.equal(entry({ status: 'open', urgency: 'low', nodsa: 'Minor issue', nodsa_reason: 'postponed' })?.affected[0]?.status, 'fix_deferred');
    assert.equal(entry({ status: 'open', urgency: 'low', nodsa: 'Minor issue', nodsa_reason: 'ignored' })?.affected[0]?.status, 'will_not_fix');
    assert.equal(entry({ status: 'open', urgency: 'unimportant' })?.affected[0]?.status, 'affected');
    assert.equal(entry({ status: 'undetermined', urgency: 'not yet assigned' })?.affected[0]?.status, 'under_investigation');
  });
  it('counts hostile or malformed entries instead of failing', () => {
    const bad = [
      ...parseDebianTrackerPackage('__proto__', { 'CVE-2024-1': {} }),
      ...parseDebianTrackerPackage('pkg', 'not an object'),
      ...parseDebianTrackerPackage('pkg', { 'CVE-2024-2': 42, notacve: {}, 'CVE-2024-3': { releases: { bookworm: { status: 'resolved' } } } }),
      ...parseDebianTrackerPackage('pkg', { 'CVE-2024-4': { releases: { bookworm: { status: 7, fixed_version: ['x'] } } } }),
    ];
    assert.equal(advisories(bad).length, 0);
    assert.deepEqual(skips(bad).map((s) => s.skip), ['invalid', 'invalid', 'invalid', 'invalid', 'invalid', 'invalid']);
  });
});

describe('Debian DSA / DLA lists (real files)', () => {
  const dsa = parseList(sharedText('debian-dsa-list.txt.gz'));
  const dla = parseList(sharedText('debian-dla-list.txt.gz'));
  const dsaById = new Map(advisories(dsa).map((a) => [a.key, a.advisory]));
  const dlaById = new Map(advisories(dla).map((a) => [a.key, a.advisory]));

  it('parses every entry with release lines', () => {
    assert.equal(dsaById.size + skips(dsa).filter((s) => s.skip === 'ignored').length, 5406);
    assert.equal(dlaById.size + skips(dla).filter((s) => s.skip === 'ignored').length, 3534);
    assert.ok(dsaById.size > 5300);
    assert.ok(dlaById.size > 3500);
  });
  it('makes one advisory per DSA with its CVEs as related and the source package per release', () => {
    const a = dsaById.get('DSA-5380-1');
    assert.ok(a);
    assert.equal(a.source, 'debian-dsa');
    assert.equal(a.summary, 'xorg-server - security update');
    assert.equal(a.published, '2023-03-29T00:00:00Z');
    assert.deepEqual(a.related, ['CVE-2023-1393']);
    // The version has an epoch: kept verbatim for the dpkg comparator.
    assert.deepEqual(a.affected, [
      { ecosystem: 'Debian:11', package: 'xorg-server', ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed: '2:1.20.11-1+deb11u6' }] }], versions: [], status: 'fixed' },
    ]);
  });
  it('reads DLA entries for LTS releases', () => {
    const a = dlaById.get('DLA-3380-1');
    assert.equal(a?.source, 'debian-dla');
    assert.equal(a?.affected[0]?.ecosystem, 'Debian:10');
    assert.equal(a?.affected[0]?.package, 'firmware-nonfree');
    assert.equal(a?.related.length, 11);
  });
  it('reads <not-affected>, <unfixed>, <end-of-life> and urgency notes', () => {
    const statuses = new Set(advisories([...dsa, ...dla]).flatMap((a) => a.advisory.affected.map((f) => f.status)));
    assert.deepEqual([...statuses].sort(), ['affected', 'end_of_life', 'fixed', 'not_affected']);
    const eol = dlaById.get('DLA-372-1');
    assert.deepEqual(eol?.affected[0]?.ranges, [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }]);
    assert.equal(eol?.affected[0]?.status, 'end_of_life');
    const withUrgency = advisories(dsa).flatMap((a) => a.advisory.affected).filter((f) => f.severity !== undefined);
    assert.ok(withUrgency.length > 10);
    assert.ok(withUrgency.every((f) => f.severity?.source === 'debian'));
  });
  it('tolerates spaces inside braces and several releases per entry', () => {
    const text = '[10 Feb 2006] DSA-962-1 pdftohtml - buffer overflows\n\t{ CVE-2006-0467 }\n\t[woody] - gnocatan 0.6.1-5woody3\n\t[sarge] - gnocatan 0.8.1.59-1sarge1\n\tNOTE: not fixed in testing at time of DSA\n';
    const [a] = advisories(parseList(text));
    assert.deepEqual(a?.advisory.related, ['CVE-2006-0467']);
    assert.deepEqual(a?.advisory.affected.map((f) => f.ecosystem), ['Debian:3.0', 'Debian:3.1']);
    assert.match(a?.advisory.details ?? '', /NOTE: not fixed in testing/);
  });
  it('skips announcements and counts garbage lines', () => {
    const ps = parseList('[18 Apr 2018] DSA-4205-1 jessie end-of-life\n\tNOTE: x\ngarbage line\n[19 Apr 2018] DSA-4206-1 foo - bar\n\t[stretch] - foo what?ever\n\t[sid] - foo 1.0\n');
    assert.deepEqual(
      ps.map((p) => (isSkipped(p) ? p.skip : p.key)),
      ['invalid', 'ignored', 'invalid', 'ignored'],
    );
  });
});

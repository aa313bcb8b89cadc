/**
 * Matching on real records from ../shared/vulndb (read through parseOsvRecord), plus Debian/Alpine advisories in the
 * exact shape the importers produce (some read from the real DSA list, tracker sample and secdb files).
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { before, describe, test } from 'node:test';
import type { Distro } from '../distro/detect.js';
import type { Package } from '../model/package.js';
import type { Finding } from '../model/report.js';
import { MemoryVulnDb } from '../vulndb/memory.js';
import type { Advisory } from '../vulndb/model.js';
import { matchPackages, type MatchResult } from './match.js';
import {
  byId,
  debianAffected,
  distro,
  loadOsv,
  pkg,
  readDsaEntries,
  readKev,
  readSecdbPackage,
  readTrackerSample,
  trackerAdvisory,
  VULNDB_DIR,
} from './testdata/fixtures.js';

const ids = (r: MatchResult): string[] => r.findings.map((f) => f.id);
const find = (r: MatchResult, id: string): Finding => {
  const f = r.findings.find((x) => x.id === id);
  assert.ok(f, `no finding ${id}; have ${ids(r).join(', ')}`);
  return f;
};
const run = (advisories: readonly Advisory[], packages: readonly Package[], d: Distro | null = null): MatchResult =>
  matchPackages(packages, d, new MemoryVulnDb(advisories));

test('the shared data directory resolves from this folder', () => {
  assert.equal(fileURLToPath(new URL('../../../../../shared/vulndb/', import.meta.url)), VULNDB_DIR);
  assert.ok(existsSync(VULNDB_DIR + 'ghsa-npm.osv.ndjson.gz'));
});

// ---------------------------------------------------------------------------------------------------------------
describe('npm (ghsa-npm)', () => {
  let adv: Advisory[] = [];
  before(async () => {
    adv = (await loadOsv('ghsa-npm.osv.ndjson.gz')).advisories;
  });

  test('lodash@4.17.15 and minimist@0.0.8 → their GHSAs, CVE as id, with fixed versions', () => {
    const r = run(adv, [pkg('npm', 'lodash', '4.17.15'), pkg('npm', 'minimist', '0.0.8')]);
    assert.deepEqual(ids(r), ['CVE-2020-8203', 'CVE-2021-23337', 'CVE-2021-44906']);
    const proto = find(r, 'CVE-2020-8203');
    assert.deepEqual(proto.aliases, ['GHSA-p6mc-m468-83gw']);
    assert.deepEqual(proto.fixedVersions, ['4.17.20']);
    assert.equal(proto.status, 'fixed');
    assert.deepEqual(proto.dataSource, { id: 'GHSA-p6mc-m468-83gw', source: 'osv:ghsa' });
    assert.deepEqual(proto.match, { by: 'package', ecosystem: 'npm', range: '<4.17.20' });
    assert.equal(proto.severity, 'HIGH');
    assert.equal(proto.severitySource, 'ghsa');
    assert.deepEqual(proto.cvss, [{ version: '3.1', vector: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:N/I:H/A:H', score: 7.4, source: 'ghsa' }]);
    assert.equal(proto.summary, 'Prototype Pollution in lodash');
    assert.equal(proto.scanType, 'SCA');
    assert.equal(proto.class, 'lang');
    assert.deepEqual(find(r, 'CVE-2021-23337').aliases, ['GHSA-35jh-r3h4-6jhm']);
    assert.deepEqual(find(r, 'CVE-2021-23337').fixedVersions, ['4.17.21']);
    const minimist = find(r, 'CVE-2021-44906');
    assert.deepEqual(minimist.aliases, ['GHSA-xvch-5gv4-984h']);
    assert.equal(minimist.package.name, 'minimist');
    // Both branches' fixes are above 0.0.8: 0.2.4 on the 0.x line, 1.2.6 on 1.x.
    assert.deepEqual(minimist.fixedVersions, ['0.2.4', '1.2.6']);
    assert.equal(minimist.severity, 'CRITICAL');
    assert.deepEqual(r.issues, []);
  });

  test('just below the fix, at the fix, above it', () => {
    assert.deepEqual(ids(run(adv, [pkg('npm', 'lodash', '4.17.20')])), ['CVE-2021-23337']);
    assert.deepEqual(ids(run(adv, [pkg('npm', 'lodash', '4.17.21')])), []);
    assert.deepEqual(ids(run(adv, [pkg('npm', 'lodash', '4.18.0')])), []);
  });

  test('before introduced, and each of several ranges (ws)', () => {
    const at = (v: string) => ids(run(adv, [pkg('npm', 'ws', v)]));
    assert.deepEqual(at('2.0.0'), []); // introduced 2.1.0
    assert.deepEqual(at('2.1.0'), ['CVE-2024-37890']);
    assert.deepEqual(at('5.2.3'), ['CVE-2024-37890']);
    assert.deepEqual(at('5.2.4'), []);
    assert.deepEqual(at('5.9.0'), []); // between ranges
    assert.deepEqual(at('6.0.0'), ['CVE-2024-37890']);
    assert.deepEqual(at('8.17.1'), []);
    assert.deepEqual(find(run(adv, [pkg('npm', 'ws', '7.5.9')]), 'CVE-2024-37890').fixedVersions, ['7.5.10', '8.17.1']);
  });

  test('an explicit versions list (ua-parser-js malware, no CVE → GHSA id)', () => {
    const r = run(adv, [pkg('npm', 'ua-parser-js', '0.7.29')]);
    assert.deepEqual(ids(r), ['GHSA-pjwm-rvh2-c87w']);
    assert.deepEqual(ids(run(adv, [pkg('npm', 'ua-parser-js', '0.7.28')])), []);
  });

  test('lodash-es is a separate package of the same advisories', () => {
    assert.deepEqual(ids(run(adv, [pkg('npm', 'lodash-es', '4.17.15')])), ['CVE-2020-8203', 'CVE-2021-23337']);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('NuGet (ghsa-nuget)', () => {
  test('the withdrawn GHSA-8g9c-28fc-mcx2 is skipped by the parser and never matches', async () => {
    const loaded = await loadOsv('ghsa-nuget.osv.ndjson.gz');
    assert.deepEqual(
      loaded.skipped.map((s) => [s.id, s.skipped]),
      [['GHSA-8g9c-28fc-mcx2', 'withdrawn']],
    );
    assert.equal(loaded.advisories.some((a) => a.id === 'GHSA-8g9c-28fc-mcx2'), false);
    const r = run(loaded.advisories, [pkg('nuget', 'Microsoft.IdentityModel.JsonWebTokens', '5.6.0'), pkg('nuget', 'System.IdentityModel.Tokens.Jwt', '6.6.0')]);
    assert.deepEqual(r.findings, []);
  });

  test('case-insensitive ids', async () => {
    const adv = (await loadOsv('ghsa-nuget.osv.ndjson.gz')).advisories;
    for (const name of ['Newtonsoft.Json', 'newtonsoft.json', 'NEWTONSOFT.JSON']) {
      const r = run(adv, [pkg('nuget', name, '12.0.3')]);
      assert.deepEqual(ids(r), ['GHSA-5crp-9r3c-p9vr'], name);
      assert.equal(r.findings[0]!.package.name, name); // reported as installed
      assert.deepEqual(r.findings[0]!.fixedVersions, ['13.0.1']);
      assert.equal(r.findings[0]!.severity, 'LOW');
    }
    assert.deepEqual(ids(run(adv, [pkg('nuget', 'Newtonsoft.Json', '13.0.1')])), []);
  });

  test('v3.1 and v4.0 vectors both listed (GHSA-8g4q-xg66-9fp4); GHSA rating decides', async () => {
    const adv = (await loadOsv('ghsa-nuget.osv.ndjson.gz')).advisories;
    const r = run(adv, [pkg('nuget', 'System.Text.Json', '8.0.4')]);
    const f = find(r, 'CVE-2024-43485');
    assert.deepEqual(
      f.cvss.map((c) => [c.version, c.score]),
      [
        ['4.0', 8.8],
        ['3.1', 7.5],
      ],
    );
    assert.deepEqual([f.severity, f.severitySource], ['HIGH', 'ghsa']);
    assert.deepEqual(f.fixedVersions, ['8.0.5']);
    assert.deepEqual(ids(run(adv, [pkg('nuget', 'System.Text.Json', '8.0.5')])), []);
    assert.deepEqual(ids(run(adv, [pkg('nuget', 'System.Text.Json', '7.0.0')])), []); // between the ranges
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('Maven', () => {
  test('Log4Shell (GHSA-jfh8-c2jp-5v3q, three ranges) with the KEV flag joined by CVE', async () => {
    const adv = (await loadOsv('ghsa-maven.osv.ndjson.gz')).advisories;
    const db = new MemoryVulnDb(adv, { kev: readKev(), epss: [{ cve: 'CVE-2021-44228', score: 0.94358, percentile: 0.99957, date: '2025-02-20' }] });
    const at = (v: string) => matchPackages([pkg('maven', 'org.apache.logging.log4j:log4j-core', v)], null, db);
    const f = find(at('2.14.1'), 'CVE-2021-44228');
    assert.deepEqual(f.aliases, ['GHSA-jfh8-c2jp-5v3q']);
    assert.deepEqual(f.fixedVersions, ['2.15.0']);
    assert.equal(f.match.range, '>=2.13.0, <2.15.0');
    assert.equal(f.kev, true);
    assert.equal(f.epss, 0.94358);
    assert.deepEqual([f.severity, f.severitySource], ['CRITICAL', 'ghsa']);
    assert.deepEqual(find(at('2.4'), 'CVE-2021-44228').fixedVersions, ['2.12.2', '2.15.0']);
    assert.deepEqual(find(at('2.0-beta9'), 'CVE-2021-44228').fixedVersions, ['2.3.1', '2.12.2', '2.15.0']);
    for (const fixed of ['2.3.1', '2.12.2', '2.15.0', '2.17.1']) assert.deepEqual(ids(at(fixed)), [], fixed);
    // Not the same artifact: log4j-api is not in the advisory.
    assert.deepEqual(ids(matchPackages([pkg('maven', 'org.apache.logging.log4j:log4j-api', '2.14.1')], null, db)), []);
  });

  test('Spring4Shell: Maven qualifiers (5.2.20.RELEASE fixed)', async () => {
    const adv = (await loadOsv('ghsa-maven.osv.ndjson.gz')).advisories;
    const at = (v: string) => run(adv, [pkg('maven', 'org.springframework:spring-beans', v)]);
    const f = find(at('5.2.19.RELEASE'), 'CVE-2022-22965');
    assert.deepEqual(f.fixedVersions, ['5.2.20.RELEASE', '5.3.18']);
    assert.equal(f.match.range, '<5.2.20.RELEASE');
    assert.deepEqual(ids(at('5.2.20.RELEASE')), []);
    assert.deepEqual(ids(at('5.2.20')), []); // Maven: "RELEASE" is the release itself
    assert.deepEqual(ids(at('5.3.0')), ['CVE-2022-22965']);
    assert.deepEqual(ids(at('5.3.17')), ['CVE-2022-22965']);
    assert.deepEqual(ids(at('5.3.18')), []);
  });

  test('last_affected (osv.dev-served log4j:log4j GHSA-2qrg-x229-3v8q: >=1.2, <=1.2.17)', async () => {
    const adv = (await loadOsv('maven-osvdev-2024.osv.ndjson.gz')).advisories.filter((a) => a.id === 'GHSA-2qrg-x229-3v8q');
    const at = (v: string) => run(adv, [pkg('maven', 'log4j:log4j', v)]);
    const f = find(at('1.2.17'), 'CVE-2019-17571');
    assert.equal(f.match.range, '>=1.2, <=1.2.17');
    assert.equal(f.status, 'affected'); // no fixed version exists
    assert.deepEqual(f.fixedVersions, []);
    assert.deepEqual(ids(at('1.2.18')), []);
    assert.deepEqual(ids(at('1.1.3')), []); // before introduced
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('PyPI (pypa)', () => {
  let adv: Advisory[] = [];
  before(async () => {
    adv = (await loadOsv('pypi-pypa.osv.ndjson.gz')).advisories;
  });

  test('PEP 503 name normalisation (jw.util as JW_Util, Jw-Util)', () => {
    for (const name of ['jw.util', 'JW_Util', 'Jw-Util', 'jw__util']) {
      const r = run(adv, [pkg('pypi', name, '2.2')]);
      assert.deepEqual(ids(r), ['CVE-2020-13388'], name);
      assert.deepEqual(r.findings[0]!.aliases, ['GHSA-h72c-w3q3-55qq', 'PYSEC-2020-341']);
      assert.deepEqual(r.findings[0]!.fixedVersions, ['2.3']);
      // Its versions list holds "-class.-jw.util.version.Version-", which PEP 440 refuses: skipped, no issue.
      assert.deepEqual(r.issues, []);
    }
    assert.deepEqual(ids(run(adv, [pkg('pypi', 'JW_Util', '2.3')])), []);
    assert.deepEqual(ids(run(adv, [pkg('pypi', 'jw-utils', '2.2')])), []); // a different name
  });

  test('last_affected without a fix (py <= 1.11.0)', () => {
    const f = find(run(adv, [pkg('pypi', 'py', '1.11.0')]), 'CVE-2022-42969');
    assert.deepEqual(f.aliases, ['GHSA-w596-4wvx-j9j6', 'PYSEC-2022-42969']);
    assert.equal(f.status, 'affected');
    assert.equal(f.match.range, '<=1.11.0');
    assert.deepEqual(ids(run(adv, [pkg('pypi', 'py', '1.11.1')])), []);
  });

  test('multi-pair ranges: django 1.2.6 has both fixes above it', () => {
    const r = run(adv, [pkg('pypi', 'Django', '1.2.6')]);
    const f = find(r, 'CVE-2011-4136');
    assert.deepEqual(f.fixedVersions, ['1.2.7', '1.3.1']);
    assert.deepEqual(f.aliases, ['GHSA-x88j-93vc-wpmp', 'PYSEC-2011-1']);
    assert.equal(f.match.range, '<1.2.7');
    assert.ok(!ids(run(adv, [pkg('pypi', 'Django', '1.3.1')])).includes('CVE-2011-4136'));
    assert.ok(ids(run(adv, [pkg('pypi', 'Django', '1.3')])).includes('CVE-2011-4136'));
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('Go (go-vulndb)', () => {
  let adv: Advisory[] = [];
  before(async () => {
    adv = (await loadOsv('go-vulndb.osv.ndjson.gz')).advisories;
  });

  test('withdrawn Go records are skipped by the parser', async () => {
    const skipped = (await loadOsv('go-vulndb.osv.ndjson.gz')).skipped;
    assert.equal(skipped.filter((s) => s.skipped === 'withdrawn').length, 17);
  });

  test('a binary built with go1.19.8 → stdlib GO- advisories', () => {
    const stdlib = pkg('golang', 'stdlib', 'v1.19.8', { metadata: { goVersion: 'go1.19.8' } });
    const r = run(adv, [stdlib]);
    const f = find(r, 'CVE-2023-29403');
    assert.deepEqual(f.aliases, ['GO-2023-1840']);
    assert.deepEqual(f.dataSource, { id: 'GO-2023-1840', source: 'osv:go-vulndb' });
    assert.deepEqual(f.match, { by: 'go-stdlib', ecosystem: 'Go', range: '<1.19.10' });
    assert.deepEqual(f.fixedVersions, ['1.19.10', '1.20.5']);
    assert.equal(f.severity, 'UNKNOWN'); // the Go database rates nothing and no GHSA is at hand
    const stdlibFindings = r.findings.filter((x) => x.match.by === 'go-stdlib');
    assert.ok(stdlibFindings.length >= 40, `${stdlibFindings.length} stdlib findings`);
    assert.ok(stdlibFindings.every((x) => x.dataSource.id.startsWith('GO-')));
    assert.ok(r.findings.some((x) => x.match.by === 'go-toolchain'));
    assert.deepEqual(r.issues, []);
    // A current toolchain has none of these.
    assert.ok(!ids(run(adv, [pkg('golang', 'stdlib', 'v1.20.5')])).includes('CVE-2023-29403'));
  });

  test('a module: golang.org/x/text', () => {
    const r = run(adv, [pkg('golang', 'golang.org/x/text', 'v0.3.6')]);
    assert.deepEqual(ids(r), ['CVE-2021-38561', 'CVE-2022-32149', 'CVE-2026-56852']);
    assert.deepEqual(find(r, 'CVE-2021-38561').aliases, ['GHSA-ppp9-7jff-5vj2', 'GO-2021-0113']);
    assert.deepEqual(ids(run(adv, [pkg('golang', 'golang.org/x/text', 'v0.39.0')])), []);
  });

  test('one Go record with two CVEs (GO-2022-0197) is one finding, the lower CVE as id', () => {
    const r = run(adv, [pkg('golang', 'golang.org/x/net', 'v0.0.0-20180101000000-aaaaaaaaaaaa')]);
    const f = find(r, 'CVE-2018-17847');
    assert.deepEqual(f.aliases, ['CVE-2018-17848', 'GHSA-4r78-hx75-jjj2', 'GHSA-mv93-wvcp-7m7r', 'GO-2022-0197']);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('Debian (source packages, epochs, DSA bundles, tracker statuses)', () => {
  const dsa = readDsaEntries(['DSA-5343-1', 'DSA-5169-1', 'DSA-5139-1', 'DSA-5103-1', 'DSA-5357-1', 'DSA-5380-1']);
  const dsas = [...dsa.values()];
  const bullseye = distro('debian', '11', 'bullseye');

  test('libssl1.1 (source openssl) on bullseye → one finding per CVE of DSA-5343-1', () => {
    const libssl = pkg('deb', 'libssl1.1', '1.1.1n-0+deb11u3', { source: { name: 'openssl', version: '1.1.1n-0+deb11u3' } });
    const r = run(dsas, [libssl], bullseye);
    assert.deepEqual(ids(r), ['CVE-2022-2097', 'CVE-2022-4304', 'CVE-2022-4450', 'CVE-2023-0215', 'CVE-2023-0286']);
    for (const f of r.findings) {
      assert.deepEqual(f.aliases, ['DSA-5343-1']); // the bundle id is an alias, and did not merge the CVEs
      assert.deepEqual(f.fixedVersions, ['1.1.1n-0+deb11u4']);
      assert.deepEqual(f.match, { by: 'source-package', ecosystem: 'Debian:11', range: '<1.1.1n-0+deb11u4' });
      assert.deepEqual(f.dataSource, { id: 'DSA-5343-1', source: 'debian-dsa' });
      assert.equal(f.status, 'fixed');
      assert.equal(f.package.name, 'libssl1.1');
      assert.equal(f.scanType, 'Static');
      assert.equal(f.class, 'os');
    }
    // DSA-5169-1 (fixed in deb11u3) and older do not apply to deb11u3.
    assert.deepEqual(ids(run(dsas, [pkg('deb', 'libssl1.1', '1.1.1n-0+deb11u4', { source: { name: 'openssl', version: '1.1.1n-0+deb11u4' } })], bullseye)), []);
    assert.deepEqual(
      ids(run(dsas, [pkg('deb', 'libssl1.1', '1.1.1n-0+deb11u2', { source: { name: 'openssl', version: '1.1.1n-0+deb11u2' } })], bullseye)),
      ['CVE-2022-2068', 'CVE-2022-2097', 'CVE-2022-4304', 'CVE-2022-4450', 'CVE-2023-0215', 'CVE-2023-0286'],
    );
    // The binary name alone never matches a source-keyed record.
    assert.deepEqual(ids(run(dsas, [pkg('deb', 'openssl-foo', '1.0', { source: { name: 'openssl-foo', version: '1.0' } })], bullseye)), []);
  });

  test('epochs: git 1:2.30.2-1+deb11u1 affected, 1:…u2 fixed, an epoch-less 2.30.2-1+deb11u9 is older than 1:…', () => {
    const git = (v: string) => pkg('deb', 'git-man', v, { source: { name: 'git', version: v } });
    const r = run(dsas, [git('1:2.30.2-1+deb11u1')], bullseye);
    assert.deepEqual(ids(r), ['CVE-2023-22490', 'CVE-2023-23946']);
    assert.deepEqual(r.findings[0]!.fixedVersions, ['1:2.30.2-1+deb11u2']);
    assert.deepEqual(ids(run(dsas, [git('1:2.30.2-1+deb11u2')], bullseye)), []);
    assert.deepEqual(ids(run(dsas, [git('2.30.2-1+deb11u9')], bullseye)), ['CVE-2023-22490', 'CVE-2023-23946']);
    const xorg = pkg('deb', 'xserver-xorg-core', '2:1.20.11-1+deb11u5', { source: { name: 'xorg-server', version: '2:1.20.11-1+deb11u5' } });
    assert.deepEqual(ids(run(dsas, [xorg], bullseye)), ['CVE-2023-1393']);
  });

  test('the SOURCE version is compared, not the binary one (bsdutils 1:… from util-linux without epoch)', () => {
    const adv = trackerAdvisory('CVE-2024-28085', [debianAffected('11', 'util-linux', { fixed: '2.36.1-8+deb11u2' }, 'low')]);
    const bsdutils = pkg('deb', 'bsdutils', '1:2.36.1-8+deb11u1', { source: { name: 'util-linux', version: '2.36.1-8+deb11u1' } });
    const f = find(run([adv], [bsdutils], bullseye), 'CVE-2024-28085');
    assert.deepEqual([f.severity, f.severitySource], ['LOW', 'debian']);
    assert.equal(f.package.version, '1:2.36.1-8+deb11u1');
  });

  test('tracker record + DSA for one CVE merge into one finding; the tracker (id = CVE) is the data source', () => {
    const tracker = trackerAdvisory('CVE-2022-4450', [debianAffected('11', 'openssl', { fixed: '1.1.1n-0+deb11u4' }, 'medium')], 'The function PEM_read_bio_ex() …');
    const r = run([tracker, ...dsas], [pkg('deb', 'libssl1.1', '1.1.1n-0+deb11u3', { source: { name: 'openssl', version: '1.1.1n-0+deb11u3' } })], bullseye);
    const f = find(r, 'CVE-2022-4450');
    assert.equal(r.findings.filter((x) => x.id === 'CVE-2022-4450').length, 1);
    assert.deepEqual(f.aliases, ['DSA-5343-1']);
    assert.deepEqual(f.dataSource, { id: 'CVE-2022-4450', source: 'debian-tracker' });
    assert.deepEqual([f.severity, f.severitySource], ['MEDIUM', 'debian']);
    assert.equal(f.summary, 'The function PEM_read_bio_ex() …');
    assert.equal(r.findings.length, 5);
  });

  test('tracker statuses: <unfixed>, no-dsa, postponed, end-of-life, unimportant, <not-affected>', () => {
    const src = (v: string) => pkg('deb', 'libfoo1', v, { source: { name: 'foo', version: v } });
    const adv = [
      trackerAdvisory('CVE-2024-0001', [debianAffected('12', 'foo', { status: 'affected' }, 'high')]),
      trackerAdvisory('CVE-2024-0002', [debianAffected('12', 'foo', { status: 'will_not_fix' }, 'low')]),
      trackerAdvisory('CVE-2024-0003', [debianAffected('12', 'foo', { status: 'fix_deferred' }, 'medium')]),
      trackerAdvisory('CVE-2024-0004', [debianAffected('12', 'foo', { status: 'end_of_life' })]),
      trackerAdvisory('CVE-2024-0005', [debianAffected('12', 'foo', { status: 'affected' }, 'unimportant')]),
      trackerAdvisory('CVE-2024-0006', [debianAffected('12', 'foo', { status: 'not_affected' })]),
      trackerAdvisory('CVE-2024-0007', [debianAffected('11', 'foo', { status: 'affected' })]), // another release
    ];
    const r = run(adv, [src('1.0-1')], distro('debian', '12'));
    assert.deepEqual(
      r.findings.map((f) => [f.id, f.status, f.severity, f.fixedVersions.length, f.match.range]),
      [
        ['CVE-2024-0001', 'affected', 'HIGH', 0, '>=0'],
        ['CVE-2024-0002', 'will_not_fix', 'LOW', 0, '>=0'],
        ['CVE-2024-0003', 'fix_deferred', 'MEDIUM', 0, '>=0'],
        ['CVE-2024-0004', 'end_of_life', 'UNKNOWN', 0, '>=0'],
        ['CVE-2024-0005', 'affected', 'NEGLIGIBLE', 0, '>=0'],
      ],
    );
  });

  test('an explicit per-CVE <not-affected> outweighs a DSA range; a DSA <not-affected> line does not hide an open CVE', () => {
    const dsaLike: Advisory = { ...byId(dsas, 'DSA-5343-1') };
    const notAffected = trackerAdvisory('CVE-2022-4450', [debianAffected('11', 'openssl', { status: 'not_affected' })]);
    const libssl = pkg('deb', 'libssl1.1', '1.1.1n-0+deb11u3', { source: { name: 'openssl', version: '1.1.1n-0+deb11u3' } });
    assert.ok(!ids(run([notAffected, dsaLike], [libssl], bullseye)).includes('CVE-2022-4450'));
    const dsaNotAffected: Advisory = { ...dsaLike, affected: [debianAffected('11', 'openssl', { status: 'not_affected' })] };
    const open = trackerAdvisory('CVE-2022-4450', [debianAffected('11', 'openssl', { status: 'affected' })]);
    assert.deepEqual(ids(run([dsaNotAffected, open], [libssl], bullseye)), ['CVE-2022-4450']);
  });

  test('the real tracker sample: end-of-life in buster, fixed in bookworm, never-affected, high** urgency', () => {
    const adv = readTrackerSample();
    const chromium = (v: string) => pkg('deb', 'chromium', v, { source: { name: 'chromium', version: v } });
    const buster = find(run(adv, [chromium('90.0.4430.212-1~deb10u1')], distro('debian', '10')), 'CVE-2022-0456');
    assert.equal(buster.status, 'end_of_life');
    const bookworm = find(run(adv, [chromium('97.0.4692.99-1')], distro('debian', '12')), 'CVE-2022-0456');
    assert.deepEqual([bookworm.status, bookworm.fixedVersions], ['fixed', ['98.0.4758.80-1']]);
    const proto = (v: string) => pkg('deb', 'libjs-prototype', v, { source: { name: 'prototypejs', version: v } });
    const r = run(adv, [proto('1.5.0-1')], distro('debian', '10'));
    assert.deepEqual(ids(r), ['CVE-2008-7220']); // CVE-2007-2383 is "resolved in 0": never affected
    assert.deepEqual([r.findings[0]!.severity, r.findings[0]!.severitySource], ['HIGH', 'debian']);
  });

  test('OSV Debian records (osv-format-samples): DSA-3029-1 aliases one CVE', async () => {
    const adv = (await loadOsv('osv-format-samples.osv.ndjson.gz')).advisories;
    const nginx = pkg('deb', 'nginx-common', '1.2.1-2.2+wheezy2', { source: { name: 'nginx', version: '1.2.1-2.2+wheezy2' } });
    const f = find(run(adv, [nginx], distro('debian', '7')), 'CVE-2014-3616');
    assert.deepEqual(f.aliases, ['DSA-3029-1']);
    assert.deepEqual(f.fixedVersions, ['1.2.1-2.2+wheezy3']);
    const mc = pkg('deb', 'intel-microcode', '3.20230512.1', { source: { name: 'intel-microcode', version: '3.20230512.1' } });
    assert.deepEqual(ids(run(adv, [mc], distro('debian', '12'))), ['DSA-5474-1']); // an erratum without CVEs: its own id
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('Alpine', () => {
  test('secdb v3.11: origin package, two fixes for one CVE (their union)', () => {
    const adv = [...readSecdbPackage('v3.11', 'main', 'openssl'), ...readSecdbPackage('v3.11', 'main', 'busybox')];
    const d = distro('alpine', '3.11.6');
    const libcrypto = pkg('apk', 'libcrypto1.1', '1.1.1d-r2', { source: { name: 'openssl', version: '1.1.1d-r2' } });
    const r = run(adv, [libcrypto], d);
    assert.deepEqual(ids(r), ['CVE-2019-1551']);
    assert.deepEqual(r.findings[0]!.match, { by: 'source-package', ecosystem: 'Alpine:v3.11', range: '<1.1.1d-r3' });
    assert.deepEqual(r.findings[0]!.dataSource.source, 'alpine-secdb');
    const bb = (v: string) => pkg('apk', 'busybox', v, { source: { name: 'busybox', version: v } });
    const f = find(run(adv, [bb('1.30.1-r1')], d), 'CVE-2019-5747');
    assert.deepEqual(f.fixedVersions, ['1.30.1-r2']);
    assert.deepEqual(ids(run(adv, [bb('1.30.1-r2')], d)), []);
    assert.deepEqual(ids(run(adv, [bb('1.31.1-r9')], d)), []);
    assert.deepEqual(ids(run(adv, [libcrypto], distro('alpine', '3.12.0'))), []); // other release
  });

  test('OSV Alpine record (CVE-2018-5407) scored from its CVSS vector', async () => {
    const adv = (await loadOsv('osv-format-samples.osv.ndjson.gz')).advisories;
    const libssl = pkg('apk', 'libssl1.0', '1.0.2p-r0', { source: { name: 'openssl', version: '1.0.2p-r0' } });
    const f = find(run(adv, [libssl], distro('alpine', '3.8.5')), 'CVE-2018-5407');
    assert.deepEqual([f.severity, f.severitySource], ['MEDIUM', 'cvss-v3.1']);
    assert.deepEqual(f.fixedVersions, ['1.0.2q-r0']);
    assert.deepEqual(ids(run(adv, [pkg('apk', 'libssl1.0', '1.0.2q-r0', { source: { name: 'openssl', version: '1.0.2q-r0' } })], distro('alpine', '3.8.5'))), []);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('rpm distros', () => {
  test('AlmaLinux: binary name, epoch, one finding per CVE of an ALSA, erratum rating', async () => {
    const adv = (await loadOsv('almalinux.osv.ndjson.gz')).advisories;
    const d = distro('almalinux', '10.0');
    const r = run(adv, [pkg('rpm', 'openssl-libs', '1:3.5.1-3.el10', { source: { name: 'openssl', version: '3.5.1-3.el10' } })], d);
    const f = find(r, 'CVE-2025-9230');
    assert.deepEqual(f.aliases, ['ALSA-2025:21248']);
    assert.deepEqual(f.fixedVersions, ['1:3.5.1-4.el10_1.alma.1']);
    assert.deepEqual([f.severity, f.severitySource], ['MEDIUM', 'almalinux']);
    assert.deepEqual(f.match, { by: 'package', ecosystem: 'AlmaLinux:10', range: '<1:3.5.1-4.el10_1.alma.1' });
    assert.equal(r.findings.length, 1 + 12 + 1 + 1 + 15);
    const later = run(adv, [pkg('rpm', 'openssl-libs', '1:3.5.1-4.el10_1.alma.1')], d);
    assert.ok(!ids(later).includes('CVE-2025-9230'));
    // Epoch 0 is older than epoch 1, whatever the version says.
    assert.ok(ids(run(adv, [pkg('rpm', 'openssl-libs', '3.9.9-1.el10')], d)).includes('CVE-2025-9230'));
  });

  test('AlmaLinux bug-fix errata (ALBA) are not vulnerabilities', async () => {
    const adv = (await loadOsv('almalinux.osv.ndjson.gz')).advisories;
    const r = run(adv, [pkg('rpm', 'oci-umount', '2:2.3.4-1.module_el8.0.0+1')], distro('almalinux', '8.10'));
    assert.ok(!r.findings.some((f) => f.id.startsWith('ALBA-') || f.aliases.some((a) => a.startsWith('ALBA-'))));
  });

  test('Rocky Linux: RLSA-2021:3891 expands to its ten CVEs', async () => {
    const adv = (await loadOsv('osv-format-samples.osv.ndjson.gz')).advisories;
    const r = run(adv, [pkg('rpm', 'java-11-openjdk', '1:11.0.12.0.7-0.el8_4')], distro('rocky', '8.4'));
    assert.equal(r.findings.length, 10);
    assert.ok(r.findings.every((f) => f.aliases.includes('RLSA-2021:3891') && f.fixedVersions[0] === '1:11.0.13.0.8-1.el8_4'));
    // The erratum's title rating ("Important") is the distro's rating, and the only one this record has.
    assert.ok(r.findings.every((f) => f.severity === 'HIGH' && f.severitySource === 'rocky'));
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('Ubuntu', () => {
  test('Ubuntu:22.04:LTS records match a 22.04 image on the source package', async () => {
    const adv = (await loadOsv('osv-format-samples.osv.ndjson.gz')).advisories;
    const wayland = pkg('deb', 'libwayland-client0', '1.20.0-1', { source: { name: 'wayland', version: '1.20.0-1' } });
    const r = run(adv, [wayland], distro('ubuntu', '22.04'));
    const f = find(r, 'CVE-2021-3782');
    assert.ok(f.aliases.includes('UBUNTU-CVE-2021-3782'));
    assert.deepEqual(f.fixedVersions, ['1.20.0-1ubuntu0.1']);
    assert.equal(f.match.ecosystem, 'Ubuntu:22.04:LTS');
    assert.deepEqual(ids(run(adv, [pkg('deb', 'libwayland-client0', '1.20.0-1ubuntu0.1', { source: { name: 'wayland', version: '1.20.0-1ubuntu0.1' } })], distro('ubuntu', '22.04'))), []);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('Node.js runtime (generic/node)', () => {
  test('the node binary meets Node.js core advisories (NSWG-COR-1, in the NSWG importer\'s shape)', () => {
    // NSWG-COR-1: vulnerable "8.x || 7.x || 4.x || 6.x || 5.x", patched "^8.1.4 || ^7.10.1 || ^4.8.4 || ^6.11.1".
    const range = (lo: string, fixed: string) => ({ type: 'SEMVER' as const, events: [{ introduced: lo }, { fixed }] });
    const cor1: Advisory = {
      id: 'NSWG-COR-1',
      aliases: ['CVE-2017-1000381'],
      related: [],
      source: 'nodejs-security-wg',
      summary: 'memory overread when parsing invalid NAPTR responses',
      details: '',
      published: null,
      modified: null,
      cvss: [],
      severity: { level: 'HIGH', source: 'nodejs-security-wg' },
      references: [],
      affected: [
        {
          ecosystem: 'Node.js',
          package: 'node',
          ranges: [range('8.0.0', '8.1.4'), range('7.0.0', '7.10.1'), range('4.0.0', '4.8.4'), range('6.0.0', '6.11.1'), range('5.0.0', '6.0.0')],
          versions: [],
        },
      ],
    };
    const r = run([cor1], [pkg('generic', 'node', '8.1.3')]);
    const f = find(r, 'CVE-2017-1000381');
    assert.deepEqual(f.aliases, ['NSWG-COR-1']);
    assert.deepEqual(f.match, { by: 'runtime', ecosystem: 'Node.js', range: '>=8.0.0, <8.1.4' });
    assert.deepEqual([f.severity, f.severitySource], ['HIGH', 'nodejs-security-wg']);
    assert.deepEqual(f.fixedVersions, ['8.1.4']);
    assert.deepEqual(ids(run([cor1], [pkg('generic', 'node', '8.1.4')])), []);
    assert.deepEqual(ids(run([cor1], [pkg('generic', 'node', '18.19.0')])), []);
    assert.deepEqual(ids(run([cor1], [pkg('generic', 'python', '8.1.3')])), []);
  });
});

// ---------------------------------------------------------------------------------------------------------------
describe('unknown results, skipped packages, issues, determinism', () => {
  test('an unparsable installed version → under_investigation findings flagged unknown-version, and an issue', async () => {
    const adv = (await loadOsv('ghsa-npm.osv.ndjson.gz')).advisories;
    const r = run(adv, [pkg('npm', 'lodash', 'latest')]);
    assert.deepEqual(ids(r), ['CVE-2020-8203', 'CVE-2021-23337']);
    for (const f of r.findings) {
      assert.equal(f.status, 'under_investigation');
      assert.equal(f.match.by, 'unknown-version');
    }
    assert.deepEqual(find(r, 'CVE-2020-8203').fixedVersions, ['4.17.20']);
    assert.equal(r.issues.length, 1);
    assert.match(r.issues[0]!.message, /npm lodash@latest: version "latest" is not a valid npm version/);
    assert.equal(r.issues[0]!.extractor, 'match');
    assert.equal(r.issues[0]!.layer, 0);
  });

  test('an unparsable range bound → unknown where it decides, and one issue per bound', () => {
    const bad: Advisory = {
      id: 'GHSA-test-bad0-bnd0',
      aliases: ['CVE-2099-0001'],
      related: [],
      source: 'osv:ghsa',
      summary: 'broken bound',
      details: '',
      published: null,
      modified: null,
      cvss: [{ type: 'CVSS_V3', vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:X', source: 'ghsa' }],
      severity: null,
      references: [],
      affected: [{ ecosystem: 'npm', package: 'left-pad', ranges: [{ type: 'ECOSYSTEM', events: [{ introduced: '1.0.0' }, { fixed: 'one.two' }] }], versions: [] }],
    };
    const r = run([bad], [pkg('npm', 'left-pad', '1.1.0'), pkg('npm', 'left-pad', '1.2.0'), pkg('npm', 'left-pad', '0.9.0')]);
    assert.deepEqual(
      r.findings.map((f) => [f.package.version, f.id, f.status, f.match.by, f.match.range]),
      [
        ['1.1.0', 'CVE-2099-0001', 'under_investigation', 'unknown-version', '>=1.0.0, <one.two'],
        ['1.2.0', 'CVE-2099-0001', 'under_investigation', 'unknown-version', '>=1.0.0, <one.two'],
      ],
    );
    assert.deepEqual(
      r.issues.map((i) => i.message),
      [
        'GHSA-test-bad0-bnd0 (npm left-pad): range bound "one.two" cannot be compared with the npm scheme (not a strict semver version); where it decides, the result is reported as unknown',
        'GHSA-test-bad0-bnd0: CVSS vector "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:X" ignored: illegal value "X" for A',
      ].sort(),
    );
    assert.deepEqual(r.findings[0]!.cvss, []);
    assert.equal(r.findings[0]!.severity, 'UNKNOWN');
  });

  test('packages owned by an OS package are not matched again', async () => {
    const adv = (await loadOsv('pypi-pypa.osv.ndjson.gz')).advisories;
    const owned = pkg('pypi', 'Django', '1.2.6', { ownedBy: { type: 'deb', name: 'python-django', version: '1.2.6-1' } });
    assert.deepEqual(run(adv, [owned]).findings, []);
  });

  test('OS packages without a data ecosystem: one aggregated issue', () => {
    const r = run([], [pkg('rpm', 'bash', '4.2.46-34.el7'), pkg('rpm', 'glibc', '2.17-317.el7')], distro('centos', '7'));
    assert.deepEqual(
      r.issues.map((i) => i.message),
      ['no vulnerability data ecosystem for rpm packages on centos 7 (2 packages)'],
    );
  });

  test('deterministic: the same findings whatever the input order', async () => {
    const adv = [...(await loadOsv('ghsa-npm.osv.ndjson.gz')).advisories, ...(await loadOsv('ghsa-maven.osv.ndjson.gz')).advisories];
    const packages = [
      pkg('npm', 'lodash', '4.17.15'),
      pkg('npm', 'minimist', '0.0.8'),
      pkg('maven', 'org.apache.logging.log4j:log4j-core', '2.14.1'),
      pkg('npm', 'qs', '6.5.2'),
      pkg('npm', 'ws', '7.0.0'),
    ];
    const a = run(adv, packages);
    const b = run([...adv].reverse(), [...packages].reverse());
    assert.deepEqual(b, a);
    assert.deepEqual(
      a.findings.map((f) => `${f.package.name}:${f.id}`),
      [
        'org.apache.logging.log4j:log4j-core:CVE-2021-44228',
        'lodash:CVE-2020-8203',
        'lodash:CVE-2021-23337',
        'minimist:CVE-2021-44906',
        'qs:CVE-2022-24999',
        'ws:CVE-2024-37890',
      ],
    );
  });
});

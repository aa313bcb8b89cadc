import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import type { Log } from 'sarif';
import type { Finding, ScanReport } from '../model/report.js';
import { validateSarif } from '../testing/sbom-schemas.js';
import { artifactUri, buildSarif, markdownText, sarifFormatter, securitySeverity } from './sarif.js';
import { loadReport } from './testdata/fixture.js';

const report = loadReport();

async function render(r: ScanReport): Promise<string> {
  const chunks: string[] = [];
  const out = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString('utf8'));
      cb();
    },
  });
  await sarifFormatter.write(r, out, { color: false });
  return chunks.join('');
}

interface Alert {
  ruleId: string;
  /** What GitHub shows: the security-severity band when the rule is tagged "security", else the level. */
  severity: string;
  level: string;
  path: string;
  line: number;
  fingerprint: string;
  package: string;
}

/** Reads a SARIF log the way GitHub code scanning turns it into alerts (docs: "SARIF support for code scanning"). */
function githubAlerts(log: Log): Alert[] {
  assert.equal(log.version, '2.1.0');
  const alerts: Alert[] = [];
  for (const run of log.runs) {
    const rules = run.tool.driver.rules ?? [];
    for (const r of run.results ?? []) {
      const rule = r.ruleIndex !== undefined ? rules[r.ruleIndex] : rules.find((x) => x.id === r.ruleId);
      assert.ok(rule, `result ${String(r.ruleId)} names no rule`);
      assert.equal(rule.id, r.ruleId);
      const tags = (rule.properties?.tags ?? []) as string[];
      const score = rule.properties?.['security-severity'] as string | undefined;
      const level = r.level ?? rule.defaultConfiguration?.level ?? 'warning';
      let severity: string = level;
      if (score !== undefined && tags.includes('security')) {
        const s = Number(score);
        severity = s >= 9 ? 'critical' : s >= 7 ? 'high' : s >= 4 ? 'medium' : s > 0 ? 'low' : 'none';
      }
      const loc = r.locations?.[0]?.physicalLocation;
      assert.ok(loc?.artifactLocation?.uri && loc.region?.startLine, 'GitHub needs a uri and a start line');
      alerts.push({
        ruleId: rule.id,
        severity,
        level,
        path: decodeURIComponent(loc.artifactLocation.uri),
        line: loc.region.startLine,
        fingerprint: Object.values(r.partialFingerprints ?? {}).join(),
        package: String(r.properties?.['packageName']),
      });
    }
  }
  return alerts;
}

describe('SARIF 2.1.0', () => {
  it('validates against the official schema (draft-04) and GitHub code scanning rules', async () => {
    const text = await render(report);
    validateSarif(JSON.parse(text));
  });

  it('parses back into the alerts GitHub would show: rule ids, levels, severities, file paths, line 1', async () => {
    const log = JSON.parse(await render(report)) as Log;
    const alerts = githubAlerts(log);
    assert.equal(alerts.length, report.vulnerabilities!.length);
    const byPkg = (name: string): Alert => alerts.find((a) => a.package === name)!;
    assert.deepEqual(byPkg('org.apache.logging.log4j:log4j-core'), {
      ruleId: 'CVE-2021-44228',
      severity: 'critical',
      level: 'error',
      // the nested jar's outer file, the one that exists in the image
      path: 'app/app.jar',
      line: 1,
      fingerprint: byPkg('org.apache.logging.log4j:log4j-core').fingerprint,
      package: 'org.apache.logging.log4j:log4j-core',
    });
    assert.deepEqual(
      alerts.map((a) => [a.ruleId, a.package.slice(0, 20), a.level, a.severity, a.path.slice(0, 24)]),
      [
        ['CVE-2021-44228', 'org.apache.logging.l', 'error', 'critical', 'app/app.jar'],
        ['CVE-2024-0727', 'libssl3', 'error', 'high', 'var/lib/dpkg/status'],
        ['CVE-2024-0727', 'openssl', 'error', 'high', 'var/lib/dpkg/status'],
        ['CVE-2023-32681', 'requests', 'warning', 'medium', 'usr/lib/python3/dist-pac'],
        ['GHSA-xxxx-yyyy-zzzz', '@evil/<img src=x one', 'warning', 'medium', 'app/node_modules/@evil/<'],
        // Debian rates it LOW although NVD says 9.8: GitHub must agree with Tally (and --fail-on), not with NVD
        ['CVE-2023-45853', 'zlib1g', 'note', 'low', 'var/lib/dpkg/status'],
        ['CVE-2010-4756', 'libc6', 'note', 'note', 'var/lib/dpkg/status'],
        ['GO-2024-9999', 'golang.org/x/net', 'note', 'note', 'usr/local/bin/app'],
      ],
    );
    assert.equal(new Set(alerts.map((a) => a.fingerprint)).size, alerts.length);
  });

  it('has one rule per vulnerability id with descriptions, help (package, installed and fixed versions) and tags', () => {
    const run = buildSarif(report).runs[0]!;
    const rules = run.tool.driver.rules!;
    assert.deepEqual(rules.map((r) => r.id), ['CVE-2021-44228', 'CVE-2024-0727', 'CVE-2023-32681', 'GHSA-xxxx-yyyy-zzzz', 'CVE-2023-45853', 'CVE-2010-4756', 'GO-2024-9999']);
    assert.equal(run.tool.driver.name, 'Tally');
    assert.equal(run.tool.driver.version, report.tool.version);
    assert.equal(run.tool.driver.informationUri, 'https://tally.dev');
    const dsa = rules[1]!;
    assert.equal(dsa.name, 'OsPackageVulnerability');
    assert.equal(dsa.shortDescription!.text, 'CVE-2024-0727: openssl: denial of service via a crafted <img src=x onerror=alert(1)> PKCS12 file');
    assert.equal(dsa.helpUri, 'https://nvd.nist.gov/vuln/detail/CVE-2024-0727');
    assert.equal(dsa.defaultConfiguration!.level, 'error');
    assert.deepEqual(dsa.properties, { 'security-severity': '7.5', precision: 'high', tags: ['security', 'vulnerability', 'os', 'HIGH'] });
    assert.match(dsa.help!.text, /- libssl3 3\.0\.22-1~deb12u2 \(deb\) at \/var\/lib\/dpkg\/status, layer 1: fixed in 3\.0\.23-1~deb12u1/);
    assert.match(dsa.help!.text, /- openssl 3\.0\.22-1~deb12u2 \(deb\) at \/var\/lib\/dpkg\/status, layer 1: fixed in 3\.0\.23-1~deb12u1/);
    assert.ok(dsa.help!.markdown!.includes('| openssl | deb | 3\\.0\\.22\\-1\\~deb12u2 | 3\\.0\\.23\\-1\\~deb12u1 | /var/lib/dpkg/status | 1 |'));
    assert.equal(rules[6]!.helpUri, 'https://pkg.go.dev/vuln/GO-2024-9999');
    assert.equal(rules[6]!.properties!['security-severity'], undefined);
  });

  it('lists at most 50 packages in a rule\'s help (each result still names its own)', () => {
    const f = report.vulnerabilities!.find((x) => x.id === 'CVE-2023-32681')!;
    const many = Array.from({ length: 60 }, (_, i): Finding => ({ ...f, packageId: `p${i}`, package: { ...f.package, name: `pkg${i}` } }));
    const run = buildSarif({ ...report, vulnerabilities: many }).runs[0]!;
    assert.equal(run.results!.length, 60);
    const help = run.tool.driver.rules![0]!.help!;
    assert.equal(help.text.split('\n').filter((l) => l.startsWith('- ')).length, 50);
    assert.match(help.text, /… and 10 more packages/);
    assert.match(help.markdown!, /… and 10 more packages/);
  });

  it('keeps the nested chain and package facts in result properties, the purl as a logical location', () => {
    const run = buildSarif(report).runs[0]!;
    const r = run.results!.find((x) => x.ruleId === 'CVE-2021-44228')!;
    assert.equal(r.properties!['location'], '/app/app.jar!/BOOT-INF/lib/log4j-core-2.14.1.jar');
    assert.deepEqual(r.properties!['fixedVersions'], ['2.15.0', '2.12.2']);
    assert.equal(r.properties!['kev'], true);
    assert.deepEqual(r.locations![0]!.logicalLocations, [{ name: 'org.apache.logging.log4j:log4j-core', fullyQualifiedName: 'pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1', kind: 'package' }]);
    assert.match(r.message.text!, /is affected by CVE-2021-44228 \(CRITICAL\); fixed in 2\.15\.0, 2\.12\.2\. Installed by layer 3/);
  });

  it('fingerprints stay the same across runs and versions of the same package at the same place', () => {
    const a = buildSarif(report).runs[0]!.results!;
    const bumped: ScanReport = {
      ...report,
      scannedAt: '2027-01-01T00:00:00Z',
      vulnerabilities: report.vulnerabilities!.map((f): Finding => ({ ...f, package: { ...f.package, version: `${f.package.version}.1` } })),
    };
    const b = buildSarif(bumped).runs[0]!.results!;
    assert.deepEqual(
      a.map((r) => r.partialFingerprints),
      b.map((r) => r.partialFingerprints),
    );
  });

  it('renders hostile text inert: markdown escaped, no control characters, URIs encoded', () => {
    const run = buildSarif(report).runs[0]!;
    const rule = run.tool.driver.rules!.find((r) => r.id === 'GHSA-xxxx-yyyy-zzzz')!;
    assert.ok(!rule.help!.markdown!.includes('<img'), 'raw HTML in markdown');
    assert.ok(rule.help!.markdown!.includes('&lt;img src=x onerror=alert\\(1\\)&gt;'));
    const everything = JSON.stringify(run.tool.driver.rules) + JSON.stringify(run.results!.map((r) => [r.message, r.locations]));
    // eslint-disable-next-line no-control-regex
    assert.ok(!/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(everything), 'control character in SARIF text');
    const r = run.results!.find((x) => x.ruleId === 'GHSA-xxxx-yyyy-zzzz')!;
    const uri = r.locations![0]!.physicalLocation!.artifactLocation!.uri!;
    assert.ok(uri.startsWith('app/node_modules/%40evil/%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E%20%22quoted%22'), uri);
    assert.ok(!/[\s<>"]/.test(uri));
    assert.equal(markdownText(`a|b*c_[x](y)\n<b>`), 'a\\|b\\*c\\_\\[x\\]\\(y\\) &lt;b&gt;');
  });

  it('turns locations into relative URIs of the file that exists in the image', () => {
    assert.equal(artifactUri('/var/lib/dpkg/status'), 'var/lib/dpkg/status');
    assert.equal(artifactUri('/app/a.war!/WEB-INF/lib/b.jar!/META-INF/maven/x/pom.properties'), 'app/a.war');
    assert.equal(artifactUri('/opt/my app/c:d.jar'), 'opt/my%20app/c%3Ad.jar');
    assert.equal(artifactUri('/'), 'image');
    assert.equal(artifactUri('/x/\uD800bad'), 'x/%EF%BF%BDbad');
  });

  it('chooses security-severity inside the band of the severity Tally reports', () => {
    const nvd = (score: number, version: '3.1' | '2.0' | '4.0' = '3.1') => ({ version, vector: '', score, source: 'nvd' });
    assert.equal(securitySeverity({ severity: 'HIGH', severitySource: 'debian', cvss: [nvd(7.5)] }), 7.5);
    assert.equal(securitySeverity({ severity: 'HIGH', severitySource: 'debian', cvss: [nvd(9.8)] }), 8);
    assert.equal(securitySeverity({ severity: 'CRITICAL', severitySource: 'nvd', cvss: [nvd(9.3, '2.0'), nvd(9.1)] }), 9.1);
    assert.equal(securitySeverity({ severity: 'MEDIUM', severitySource: 'ghsa', cvss: [nvd(5), { ...nvd(6.5), source: 'ghsa' }] }), 6.5);
    assert.equal(securitySeverity({ severity: 'LOW', severitySource: 'x', cvss: [] }), 2);
    assert.equal(securitySeverity({ severity: 'NEGLIGIBLE', severitySource: 'x', cvss: [nvd(3)] }), null);
  });

  it('is valid with no findings, and says whether matching ran', async () => {
    const { vulnerabilities: _v, ...unmatched } = report;
    const log = JSON.parse(await render(unmatched)) as Log;
    validateSarif(log);
    assert.deepEqual(log.runs[0]!.results, []);
    assert.equal(log.runs[0]!.properties!['vulnerabilitiesMatched'], false);
  });

  it('is checked by a validator that rejects what GitHub would not read', () => {
    const log = JSON.parse(JSON.stringify(buildSarif(report))) as Log;
    const noLine = structuredClone(log);
    delete noLine.runs[0]!.results![0]!.locations![0]!.physicalLocation!.region;
    assert.throws(() => validateSarif(noLine), /no region.startLine/);
    const badIndex = structuredClone(log);
    badIndex.runs[0]!.results![0]!.ruleIndex = 3;
    assert.throws(() => validateSarif(badIndex), /ruleIndex 3 does not name it/);
    const badLevel = structuredClone(log) as unknown as { runs: { results: { level: string }[] }[] };
    badLevel.runs[0]!.results[0]!.level = 'fatal';
    assert.throws(() => validateSarif(badLevel), /SARIF is not valid/);
  });
});

/**
 * Writes report.json, the fixture the format tests read: a real scan of the example image
 * (tools/example-image/build.mts: Debian 12, three layers of real .debs), plus one hand-made layer of language
 * packages (a nested jar among them) and hand-made findings of the shape in report-schema.md, with hostile strings
 * (`<img src=x onerror=alert(1)>`, quotes, newlines, control characters, `]]>`) in names, versions, createdBy and
 * summaries. Ids, purls and layer counts are computed the way the scanner computes them, so the result still
 * validates against docs/report.schema.json.
 *
 * Regenerate after a change to the scanner's output: node --import tsx packages/core/src/report/testdata/make-report.mts
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { DEFAULT_PLATFORM, scanImage, sourceForTarget } from '../../index.js';
import { packageId } from '../../inventory.js';
import type { Package, PackageType } from '../../model/package.js';
import { buildPurl } from '../../model/purl.js';
import { SEVERITIES, type Finding, type ReportLayer, type ScanReport, type Severity } from '../../model/report.js';
import { validateReport } from '../../testing/report-schema.js';
import { HOSTILE } from './fixture.js';

const root = new URL('../../../../../', import.meta.url).pathname;
const archive = execFileSync(process.execPath, ['--import', 'tsx', 'tools/example-image/build.mts'], { cwd: root, encoding: 'utf8' }).trim();
const scanned = await scanImage(await sourceForTarget(archive, { platform: DEFAULT_PLATFORM, platformExplicit: false }), { performScaScan: true });

const sha = (s: string): string => `sha256:${createHash('sha256').update(s).digest('hex')}`;

const created = '2026-01-01T00:00:00Z';
const hostileCreatedBy = `COPY --chown=app ${HOSTILE} /app # buildkit`;
const layer3: ReportLayer = {
  index: 3,
  digest: sha('layer-3-blob'),
  diffId: sha('layer-3-tar'),
  mediaType: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  size: 123456,
  createdBy: hostileCreatedBy,
  created,
  comment: null,
  packages: { os: 0, lang: 0 },
};
const layerRef = { index: 3, diffId: layer3.diffId, createdBy: hostileCreatedBy };

function lang(type: PackageType, name: string, version: string, locations: string[], extra: Partial<Package> = {}): Package {
  return {
    id: packageId(type, name, version, '', locations[0]!),
    name,
    version,
    type,
    purl: buildPurl({ type, name, version }),
    class: 'lang',
    scanType: 'SCA',
    layer: layerRef,
    locations,
    evidence: 'installed',
    ...extra,
  };
}

const added: Package[] = [
  lang('maven', 'com.example:app', '1.0.0', ['/app/app.jar'], { identifiedBy: 'manifest', licenses: ['Proprietary "Example" License <b>'] }),
  lang('maven', 'org.apache.logging.log4j:log4j-core', '2.14.1', ['/app/app.jar!/BOOT-INF/lib/log4j-core-2.14.1.jar'], {
    identifiedBy: 'pom.properties',
    licenses: ['Apache-2.0'],
    metadata: { sha1: '9141212b8507ab50a45525b545b39d224614528b' },
  }),
  lang('npm', `@evil/${HOSTILE}`, `1.0.0-"beta"\n<script>\u0001`, [`/app/node_modules/@evil/${HOSTILE}/package.json`], {
    licenses: ['MIT OR Apache-2.0', 'GPL-2.0+', `Custom "license"\nline2 <b>${HOSTILE}`],
    vendor: `Evil ${HOSTILE} Corp`,
  }),
  lang('npm', 'lodash', '4.17.20', ['/app/node_modules/lodash/package.json', '/app/package-lock.json'], {
    licenses: ['MIT'],
    evidenceSources: [
      { evidence: 'installed', location: '/app/node_modules/lodash/package.json' },
      { evidence: 'declared', location: '/app/package-lock.json' },
    ],
  }),
  lang('pypi', 'requests', '2.25.0', ['/usr/lib/python3/dist-packages/requests-2.25.0.dist-info/METADATA'], {
    licenses: ['Apache 2.0'],
    ownedBy: { type: 'deb', name: 'python3-requests', version: '2.25.0-1' },
  }),
  lang('golang', 'golang.org/x/net', 'v0.0.0-20210226172049-e18ecbb05110', ['/usr/local/bin/app'], {
    evidence: 'binary',
    identifiedBy: 'buildinfo',
    metadata: { goVersion: 'go1.16.0', [`weird ${HOSTILE}`]: HOSTILE },
  }),
  lang('generic', 'python', '3.11.2', ['/usr/bin/python3.11'], { evidence: 'binary', identifiedBy: 'binary', metadata: { role: 'runtime' } }),
];

const packages = [...scanned.packages, ...added];
const byName = (name: string): Package => packages.find((p) => p.name === name) ?? fail(`no package ${name}`);
function fail(msg: string): never {
  throw new Error(msg);
}

function finding(pkgName: string, f: Pick<Finding, 'id' | 'severity' | 'severitySource' | 'cvss' | 'status' | 'fixedVersions' | 'summary'> & Partial<Finding>): Finding {
  const p = byName(pkgName);
  return {
    aliases: [],
    packageId: p.id,
    package: { name: p.name, version: p.version, type: p.type, purl: p.purl },
    scanType: p.scanType,
    class: p.class,
    layer: p.layer,
    dataSource: { id: f.id, source: 'osv' },
    match: { by: 'package', ecosystem: p.type, range: f.fixedVersions[0] ? `<${f.fixedVersions[0]}` : '*' },
    kev: false,
    epss: null,
    ...f,
  };
}

const dsaOpenssl = {
  id: 'CVE-2024-0727',
  aliases: ['DSA-5599-1'],
  severity: 'HIGH' as const,
  severitySource: 'debian',
  cvss: [{ version: '3.1' as const, vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H', score: 7.5, source: 'nvd' }],
  status: 'fixed' as const,
  fixedVersions: ['3.0.23-1~deb12u1'],
  summary: 'openssl: denial of service via a crafted <img src=x onerror=alert(1)> PKCS12 file',
  dataSource: { id: 'DSA-5599-1', source: 'debian-security-tracker' },
  match: { by: 'source-package', ecosystem: 'Debian:12', range: '<3.0.23-1~deb12u1' },
  epss: 0.0123,
};

const vulnerabilities: Finding[] = [
  finding('openssl', dsaOpenssl),
  finding('libssl3', dsaOpenssl),
  finding('org.apache.logging.log4j:log4j-core', {
    id: 'CVE-2021-44228',
    aliases: ['GHSA-jfh8-c2jp-5v3q'],
    severity: 'CRITICAL',
    severitySource: 'ghsa',
    cvss: [
      { version: '3.1', vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:H/A:H', score: 10, source: 'nvd' },
      { version: '2.0', vector: 'AV:N/AC:M/Au:N/C:C/I:C/A:C', score: 9.3, source: 'nvd' },
    ],
    status: 'fixed',
    fixedVersions: ['2.15.0', '2.12.2'],
    summary: 'Remote code injection in Log4j (JNDI lookups)',
    dataSource: { id: 'GHSA-jfh8-c2jp-5v3q', source: 'ghsa' },
    match: { by: 'package', ecosystem: 'Maven', range: '>=2.0-beta9, <2.15.0' },
    kev: true,
    epss: 0.975,
  }),
  finding(`@evil/${HOSTILE}`, {
    id: 'GHSA-xxxx-yyyy-zzzz',
    severity: 'MEDIUM',
    severitySource: 'ghsa',
    cvss: [{ version: '4.0', vector: 'CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:L/VI:L/VA:N/SC:N/SI:N/SA:N', score: 6.9, source: 'ghsa' }],
    status: 'affected',
    fixedVersions: [],
    summary: `Prototype pollution ${HOSTILE}`,
  }),
  finding('zlib1g', {
    id: 'CVE-2023-45853',
    severity: 'LOW',
    severitySource: 'debian',
    cvss: [{ version: '3.1', vector: 'CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H', score: 9.8, source: 'nvd' }],
    status: 'will_not_fix',
    fixedVersions: [],
    summary: 'MiniZip in zlib through 1.3 has an integer overflow (minizip is not built in Debian)',
    match: { by: 'source-package', ecosystem: 'Debian:12', range: '*' },
  }),
  finding('libc6', {
    id: 'CVE-2010-4756',
    severity: 'NEGLIGIBLE',
    severitySource: 'debian',
    cvss: [{ version: '2.0', vector: 'AV:N/AC:L/Au:S/C:N/I:N/A:P', score: 4, source: 'nvd' }],
    status: 'will_not_fix',
    fixedVersions: [],
    summary: 'glob implementation in the GNU C Library allows a denial of service',
  }),
  finding('golang.org/x/net', {
    id: 'GO-2024-9999',
    severity: 'UNKNOWN',
    severitySource: 'osv',
    cvss: [],
    status: 'fixed',
    fixedVersions: ['v0.0.0-20211209124913-491a49abca63'],
    summary: '',
  }),
  finding('requests', {
    id: 'CVE-2023-32681',
    aliases: ['PYSEC-2023-74', 'GHSA-j8r2-6x86-q33q'],
    severity: 'MEDIUM',
    severitySource: 'ghsa',
    cvss: [{ version: '3.1', vector: 'CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N', score: 6.1, source: 'ghsa' }],
    status: 'fixed',
    fixedVersions: ['2.31.0'],
    summary: 'Unintended leak of Proxy-Authorization header in requests',
  }),
];

const counts = Object.fromEntries(SEVERITIES.map((s) => [s, vulnerabilities.filter((v) => v.severity === s).length])) as Record<Severity, number>;
const report: ScanReport = {
  ...scanned,
  scannedAt: '2026-11-29T10:00:00.123Z',
  image: {
    ...scanned.image,
    ref: 'app.tar',
    layers: [...scanned.image.layers, { ...layer3, packages: { os: 0, lang: added.length } }],
    history: [...scanned.image.history, { createdBy: hostileCreatedBy, created, comment: null, emptyLayer: false }],
  },
  packages,
  vulnerabilities,
  summary: {
    packages: { total: packages.length, os: packages.filter((p) => p.class === 'os').length, lang: packages.filter((p) => p.class === 'lang').length },
    vulnerabilities: counts,
  },
};
validateReport(report);
writeFileSync(new URL('./report.json', import.meta.url), JSON.stringify(report, null, 2) + '\n');
process.stdout.write(`report.json: ${packages.length} packages, ${vulnerabilities.length} findings\n`);

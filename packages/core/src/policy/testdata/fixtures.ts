/** Small reports for the policy tests: a few packages with real ids, purls and locations, and their findings. */
import { createHash } from 'node:crypto';
import type { Package, PackageType } from '../../model/package.js';
import { REPORT_SCHEMA_VERSION, type Finding, type ScanReport, type Severity } from '../../model/report.js';
import { severityCounts } from '../../evaluate.js';

export const IMAGE_ID = `sha256:${'a'.repeat(64)}`;
export const MANIFEST_DIGEST = `sha256:${'b'.repeat(64)}`;
export const REPO_DIGEST = `sha256:${'c'.repeat(64)}`;

const layer = { index: 0, diffId: `sha256:${'d'.repeat(64)}`, createdBy: 'test' };

export function pkg(type: PackageType, name: string, version: string, purl: string, location: string): Package {
  return {
    id: createHash('sha256').update(`${type}\0${name}\0${version}\0${location}`).digest('hex'),
    name,
    version,
    type,
    purl,
    class: type === 'deb' ? 'os' : 'lang',
    scanType: type === 'deb' ? 'Static' : 'SCA',
    layer,
    locations: [location],
    evidence: 'installed',
  };
}

export function finding(p: Package, id: string, severity: Severity, extra: { aliases?: string[]; kev?: boolean } = {}): Finding {
  return {
    id,
    aliases: extra.aliases ?? [],
    packageId: p.id,
    package: { name: p.name, version: p.version, type: p.type, purl: p.purl },
    scanType: p.scanType,
    class: p.class,
    severity,
    severitySource: 'ghsa',
    cvss: [],
    status: 'fixed',
    fixedVersions: [],
    layer,
    summary: '',
    dataSource: { id, source: 'test' },
    match: { by: 'package', ecosystem: 'test', range: '*' },
    kev: extra.kev ?? false,
    epss: null,
  };
}

export const lodash = pkg('npm', 'lodash', '4.17.20', 'pkg:npm/lodash@4.17.20', '/srv/app/node_modules/lodash/package.json');
export const log4j = pkg('maven', 'org.apache.logging.log4j:log4j-core', '2.14.1', 'pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1', '/app/lib/app.jar!/BOOT-INF/lib/log4j-core-2.14.1.jar');
export const springBoot = pkg('maven', 'org.springframework.boot:spring-boot', '2.6.0', 'pkg:maven/org.springframework.boot/spring-boot@2.6.0', '/app/lib/app.jar');
export const openssl = pkg('deb', 'openssl', '3.0.11-1~deb12u2', 'pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12', '/var/lib/dpkg/status');

export const lodashHigh = finding(lodash, 'CVE-2021-23337', 'HIGH', { aliases: ['GHSA-35jh-r3h4-6jhm'] });
export const log4shell = finding(log4j, 'CVE-2021-44228', 'CRITICAL', { aliases: ['GHSA-jfh8-c2jp-5v3q'], kev: true });
export const opensslMedium = finding(openssl, 'CVE-2023-5678', 'MEDIUM', { aliases: ['DSA-5532-1'] });

export function report(findings: readonly Finding[] = [lodashHigh, log4shell, opensslMedium], packages: readonly Package[] = [lodash, log4j, springBoot, openssl]): ScanReport {
  return {
    schemaVersion: REPORT_SCHEMA_VERSION,
    tool: { name: 'tally', version: '0.0.0-test' },
    scannedAt: '2026-06-01T00:00:00.000Z',
    scanTypes: ['Static', 'SCA'],
    sensor: { type: 'cicd', performScaScan: true },
    image: {
      ref: 'registry.example/app:1',
      source: 'registry',
      imageId: IMAGE_ID,
      manifestDigest: MANIFEST_DIGEST,
      repoTags: ['registry.example/app:1'],
      repoDigests: [`registry.example/app@${REPO_DIGEST}`],
      platform: { os: 'linux', architecture: 'amd64', variant: null },
      created: null,
      os: { family: 'debian', name: 'Debian GNU/Linux', version: '12', prettyName: null },
      layers: [
        {
          index: 0,
          digest: null,
          diffId: layer.diffId,
          mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
          size: 1,
          createdBy: 'test',
          created: null,
          comment: null,
          packages: { os: packages.filter((p) => p.class === 'os').length, lang: packages.filter((p) => p.class === 'lang').length },
        },
      ],
      history: [],
    },
    packages,
    vulnerabilities: findings,
    issues: [],
    summary: {
      packages: { total: packages.length, os: packages.filter((p) => p.class === 'os').length, lang: packages.filter((p) => p.class === 'lang').length },
      vulnerabilities: severityCounts(findings),
    },
  };
}

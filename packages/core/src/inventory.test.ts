import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExtractedPackage } from './extract/extractor.js';
import type { MergedImage, MergedPackage } from './image/applier.js';
import { buildPackages } from './inventory.js';

function merged(packages: MergedPackage[], owners: MergedImage['owners'] = new Map()): MergedImage {
  return { packages, owners, readOsFile: () => null, paths: () => [].values(), issues: [] };
}
const npm = (name: string, version: string, evidence: ExtractedPackage['evidence']): ExtractedPackage => ({ type: 'npm', name, version, evidence });
const refs = [0, 1, 2].map((index) => ({ index, diffId: null, createdBy: null }));
const extractors = [{ name: 'lang/node', scanType: 'SCA' as const }, { name: 'os/dpkg', scanType: 'Static' as const }] as never;

describe('inventory', () => {
  it('folds a lockfile entry into the installed package below its directory', () => {
    const pkgs = buildPackages(
      merged([
        { pkg: npm('lodash', '4.17.15', 'installed'), path: '/app/node_modules/lodash/package.json', extractor: 'lang/node', layer: 2 },
        { pkg: npm('lodash', '4.17.15', 'declared'), path: '/app/package-lock.json', extractor: 'lang/node', layer: 1 },
        { pkg: npm('left-pad', '1.3.0', 'declared'), path: '/app/package-lock.json', extractor: 'lang/node', layer: 1 },
        { pkg: npm('lodash', '4.17.15', 'declared'), path: '/other/package-lock.json', extractor: 'lang/node', layer: 1 },
      ]),
      null,
      refs,
      extractors,
      [],
    );
    const lodash = pkgs.filter((p) => p.name === 'lodash');
    assert.equal(lodash.length, 2, 'the lockfile in /other declares a copy that is not installed there');
    const installed = lodash.find((p) => p.evidence === 'installed')!;
    assert.deepEqual(installed.locations, ['/app/node_modules/lodash/package.json', '/app/package-lock.json']);
    assert.deepEqual(installed.evidenceSources?.map((e) => e.evidence), ['installed', 'declared']);
    assert.equal(installed.layer.index, 2);
    assert.equal(pkgs.find((p) => p.name === 'left-pad')?.evidence, 'declared');
  });

  it('names the OS package that owns a language artifact', () => {
    const pkgs = buildPackages(
      merged(
        [
          { pkg: { type: 'deb', name: 'libfoo-java', version: '1.0-1', evidence: 'installed' }, path: '/var/lib/dpkg/status', extractor: 'os/dpkg', layer: 0 },
          { pkg: { type: 'maven', name: 'org.foo:foo', version: '1.0', evidence: 'installed' }, path: '/usr/share/java/foo.jar', extractor: 'lang/node', layer: 0 },
        ],
        new Map([['/usr/share/java/foo.jar', { extractor: 'os/dpkg', packageName: 'libfoo-java' }]]),
      ),
      { family: 'debian', name: 'Debian', version: '12', prettyName: null, codename: null, detectedBy: 'os-release' },
      refs,
      extractors,
      [],
    );
    assert.deepEqual(pkgs.find((p) => p.type === 'maven')?.ownedBy, { type: 'deb', name: 'libfoo-java', version: '1.0-1' });
    assert.equal(pkgs.find((p) => p.type === 'deb')?.purl, 'pkg:deb/debian/libfoo-java@1.0-1?distro=debian-12');
  });

  it('turns an identity the purl spec rejects into an issue and keeps the rest', () => {
    const issues: import('./model/issue.js').Issue[] = [];
    const pkgs = buildPackages(
      merged([
        { pkg: { type: 'maven', name: 'no-group', version: '1.0', evidence: 'installed' }, path: '/a.jar', extractor: 'lang/node', layer: 0 },
        { pkg: npm('ok', '1.0.0', 'installed'), path: '/node_modules/ok/package.json', extractor: 'lang/node', layer: 0 },
      ]),
      null,
      refs,
      extractors,
      issues,
    );
    assert.deepEqual(pkgs.map((p) => p.name), ['ok']);
    assert.match(issues[0]!.message, /maven\/no-group@1.0 skipped/);
  });

  it('puts the rpm epoch in a qualifier, not the purl version', () => {
    const pkgs = buildPackages(
      merged([{ pkg: { type: 'rpm', name: 'openssl-libs', version: '1:3.0.7-27.el9', arch: 'x86_64', qualifiers: { epoch: '1' }, evidence: 'installed' }, path: '/var/lib/rpm/rpmdb.sqlite', extractor: 'os/rpm', layer: 0 }]),
      { family: 'almalinux', name: 'AlmaLinux', version: '9.4', prettyName: null, codename: null, detectedBy: 'os-release' },
      refs,
      [{ name: 'os/rpm', scanType: 'Static' }] as never,
      [],
    );
    assert.equal(pkgs[0]!.purl, 'pkg:rpm/almalinux/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=almalinux-9.4&epoch=1');
  });
});

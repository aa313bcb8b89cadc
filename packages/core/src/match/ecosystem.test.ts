import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Distro } from '../distro/detect.js';
import { distroEcosystems, lookupTargets } from './ecosystem.js';
import { distro, pkg } from './testdata/fixtures.js';

const targetsOf = (d: Distro | null, p: ReturnType<typeof pkg>) => {
  const t = lookupTargets(p, (type) => distroEcosystems(d, type));
  return 'unsupported' in t ? t : t.targets.map(({ ecosystem, name, version, by, scheme }) => ({ ecosystem, name, version, by, scheme: scheme.name }));
};

describe('distro ecosystems', () => {
  test('Debian: major release', () => {
    assert.deepEqual(distroEcosystems(distro('debian', '12'), 'deb'), ['Debian:12']);
    assert.deepEqual(distroEcosystems(distro('debian', '11.9'), 'deb'), ['Debian:11']);
    assert.ok('unsupported' in distroEcosystems(distro('debian', '', 'trixie'), 'deb'));
  });
  test('Ubuntu: the LTS and plain spellings OSV uses', () => {
    assert.deepEqual(distroEcosystems(distro('ubuntu', '22.04'), 'deb'), ['Ubuntu:22.04:LTS', 'Ubuntu:22.04']);
  });
  test('Alpine: v<major>.<minor>, edge for pre-releases', () => {
    assert.deepEqual(distroEcosystems(distro('alpine', '3.19.1'), 'apk'), ['Alpine:v3.19']);
    assert.deepEqual(distroEcosystems(distro('alpine', '3.21.0_alpha20240807'), 'apk'), ['Alpine:edge']);
  });
  test('rpm distros', () => {
    assert.deepEqual(distroEcosystems(distro('almalinux', '9.4'), 'rpm'), ['AlmaLinux:9']);
    assert.deepEqual(distroEcosystems(distro('rocky', '8.10'), 'rpm'), ['Rocky Linux:8']);
    assert.deepEqual(distroEcosystems(distro('redhat', '9.4'), 'rpm'), [
      'Red Hat:enterprise_linux:9::baseos',
      'Red Hat:enterprise_linux:9::appstream',
      'Red Hat:enterprise_linux:9::crb',
    ]);
  });
  test('no data ecosystem → a reason, not silence', () => {
    assert.match((distroEcosystems(distro('centos', '7'), 'rpm') as { unsupported: string }).unsupported, /no vulnerability data ecosystem for rpm packages on centos 7/);
    assert.ok('unsupported' in distroEcosystems(null, 'deb'));
    assert.ok('unsupported' in distroEcosystems(distro('alpine', '3.19.1'), 'deb'));
  });
});

describe('lookup targets', () => {
  test('deb: source package and source version, epoch kept', () => {
    const p = pkg('deb', 'libssl3', '3.0.11-1~deb12u2', { source: { name: 'openssl', version: '3.0.11-1~deb12u2' } });
    assert.deepEqual(targetsOf(distro('debian', '12'), p), [{ ecosystem: 'Debian:12', name: 'openssl', version: '3.0.11-1~deb12u2', by: 'source-package', scheme: 'deb' }]);
    const q = pkg('deb', 'bsdutils', '1:2.38.1-5+deb12u1', { source: { name: 'util-linux', version: '2.38.1-5+deb12u1' } });
    assert.deepEqual(targetsOf(distro('debian', '12'), q), [{ ecosystem: 'Debian:12', name: 'util-linux', version: '2.38.1-5+deb12u1', by: 'source-package', scheme: 'deb' }]);
  });
  test('apk: origin', () => {
    const p = pkg('apk', 'libcrypto3', '3.1.4-r5', { source: { name: 'openssl', version: '3.1.4-r5' } });
    assert.deepEqual(targetsOf(distro('alpine', '3.19.1'), p), [{ ecosystem: 'Alpine:v3.19', name: 'openssl', version: '3.1.4-r5', by: 'source-package', scheme: 'apk' }]);
  });
  test('rpm: binary name, EVR with epoch', () => {
    const p = pkg('rpm', 'openssl-libs', '1:3.0.7-27.el9', { source: { name: 'openssl', version: '3.0.7-27.el9' } });
    assert.deepEqual(targetsOf(distro('almalinux', '9.4'), p), [{ ecosystem: 'AlmaLinux:9', name: 'openssl-libs', version: '1:3.0.7-27.el9', by: 'package', scheme: 'rpm' }]);
  });
  test('language ecosystems and name normalisation', () => {
    const d = distro('debian', '12');
    assert.deepEqual(targetsOf(d, pkg('npm', '@babel/traverse', '7.22.0')), [{ ecosystem: 'npm', name: '@babel/traverse', version: '7.22.0', by: 'package', scheme: 'npm' }]);
    assert.deepEqual(targetsOf(d, pkg('pypi', 'Zope.Interface_X', '5.0')), [{ ecosystem: 'PyPI', name: 'zope-interface-x', version: '5.0', by: 'package', scheme: 'pypi' }]);
    assert.deepEqual(targetsOf(d, pkg('maven', 'org.apache.logging.log4j:log4j-core', '2.14.1')), [
      { ecosystem: 'Maven', name: 'org.apache.logging.log4j:log4j-core', version: '2.14.1', by: 'package', scheme: 'maven' },
    ]);
    assert.deepEqual(targetsOf(d, pkg('nuget', 'Newtonsoft.Json', '12.0.3')), [{ ecosystem: 'NuGet', name: 'newtonsoft.json', version: '12.0.3', by: 'package', scheme: 'nuget' }]);
    assert.deepEqual(targetsOf(d, pkg('golang', 'golang.org/x/text', 'v0.3.6')), [{ ecosystem: 'Go', name: 'golang.org/x/text', version: 'v0.3.6', by: 'package', scheme: 'golang' }]);
  });
  test('Go stdlib: both stdlib and toolchain', () => {
    assert.deepEqual(targetsOf(null, pkg('golang', 'stdlib', 'v1.19.8', { metadata: { goVersion: 'go1.19.8' } })), [
      { ecosystem: 'Go', name: 'stdlib', version: 'v1.19.8', by: 'go-stdlib', scheme: 'golang' },
      { ecosystem: 'Go', name: 'toolchain', version: 'v1.19.8', by: 'go-toolchain', scheme: 'golang' },
    ]);
  });
  test('the node binary → Node.js core advisories; other runtimes: no data, no complaint', () => {
    assert.deepEqual(targetsOf(null, pkg('generic', 'node', '18.19.0')), [{ ecosystem: 'Node.js', name: 'node', version: '18.19.0', by: 'runtime', scheme: 'npm' }]);
    assert.deepEqual(targetsOf(null, pkg('generic', 'python', '3.11.2')), []);
    assert.deepEqual(targetsOf(null, pkg('generic', 'openjdk', '17.0.9')), []);
  });
  test('language packages do not need a distro', () => {
    assert.equal((targetsOf(null, pkg('npm', 'lodash', '4.17.15')) as unknown[]).length, 1);
  });
});

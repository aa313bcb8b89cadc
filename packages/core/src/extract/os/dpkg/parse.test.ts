import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { packageNameOfListFile, parseDpkgStatus, parseListFile, parseSourceField } from './parse.js';

const fixture = readFileSync(new URL('./testdata/status', import.meta.url), 'utf8');

describe('dpkg status', () => {
  it('reads installed packages with source, version and arch', () => {
    const { packages, problems } = parseDpkgStatus(fixture);
    assert.deepEqual(problems, []);
    assert.deepEqual(
      packages.map((p) => `${p.name} ${p.version} ${p.architecture} ${p.source.name} ${p.source.version}`),
      [
        'libssl3 3.0.11-1~deb12u2 amd64 openssl 3.0.11-1~deb12u2',
        'zlib1g 1:1.2.13.dfsg-1 amd64 zlib 1:1.2.13.dfsg-1',
        'libgcc-s1 12.2.0-14 amd64 gcc-12 12.2.0-14',
        'half 1.0 all half 1.0',
      ],
    );
  });

  it('skips removed (config-files) and not-installed entries', () => {
    const names = parseDpkgStatus(fixture).packages.map((p) => p.name);
    assert.ok(!names.includes('removed-pkg'));
    assert.ok(!names.includes('gone'));
  });

  it('reports a truncated last paragraph and keeps the rest', () => {
    const cut = fixture.slice(0, fixture.indexOf('Version: 1:1.2.13') + 'Version: 1:1'.length);
    const { packages, problems } = parseDpkgStatus(cut);
    assert.deepEqual(packages.map((p) => p.name), ['libssl3']);
    assert.ok(problems.some((p) => /truncated.*zlib1g/.test(p)), problems.join());
    const noVersion = parseDpkgStatus(fixture.slice(0, fixture.indexOf('Version: 1:1.2.13')));
    assert.ok(noVersion.problems.some((p) => /zlib1g: no Version/.test(p)));
  });

  it('parses Source with and without its own version', () => {
    assert.deepEqual(parseSourceField('gcc-12 (12.2.0-14)', 'libgcc-s1', '1'), { name: 'gcc-12', version: '12.2.0-14' });
    assert.deepEqual(parseSourceField('openssl', 'libssl3', '3.0'), { name: 'openssl', version: '3.0' });
    assert.deepEqual(parseSourceField(undefined, 'x', '1'), { name: 'x', version: '1' });
  });

  it('handles CRLF and garbage without throwing', () => {
    assert.equal(parseDpkgStatus('Package: a\r\nStatus: install ok installed\r\nVersion: 1\r\n\r\n').packages[0]?.version, '1');
    assert.deepEqual(parseDpkgStatus('\u0000\u0001 binary junk :::\n\n').packages, []);
  });
});

describe('distroless status.d', () => {
  it('takes a control file without Status as installed', () => {
    const { packages, problems } = parseDpkgStatus('Package: tzdata\nVersion: 2024a-0+deb12u1\nArchitecture: all\n', { presenceMeansInstalled: true });
    assert.deepEqual(problems, []);
    assert.deepEqual(packages.map((p) => p.name), ['tzdata']);
    assert.ok(parseDpkgStatus('Package: tzdata\nVersion: 1\n').problems.some((p) => /no Status/.test(p)));
  });
});

describe('dpkg file lists', () => {
  it('names the package of a multi-arch list file and filters lines', () => {
    assert.equal(packageNameOfListFile('/var/lib/dpkg/info/libc6:amd64.list'), 'libc6');
    assert.equal(packageNameOfListFile('/var/lib/dpkg/info/jq.list'), 'jq');
    assert.deepEqual(parseListFile('/.\n/usr\n/usr/share/java/a.jar\n/usr/bin/x\n', (p) => p.endsWith('.jar')), ['/usr/share/java/a.jar']);
  });
});

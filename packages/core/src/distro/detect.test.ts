import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { detectDistro, parseOsRelease } from './detect.js';

const files = (m: Record<string, string>) => (p: string) => m[p] ?? null;

describe('distro detection', () => {
  it('reads os-release with quoting and ID_LIKE', () => {
    const f = parseOsRelease('NAME="Rocky Linux"\nID="rocky"\nID_LIKE="rhel centos fedora"\nVERSION_ID="9.3"\n# comment\nPRETTY_NAME=\'Rocky Linux 9.3 (Blue Onyx)\'\n');
    assert.equal(f.get('NAME'), 'Rocky Linux');
    assert.equal(f.get('PRETTY_NAME'), 'Rocky Linux 9.3 (Blue Onyx)');
    const d = detectDistro(files({ '/etc/os-release': 'ID=linuxmint\nID_LIKE="ubuntu debian"\nVERSION_ID=21\n' }), { hasDpkgStatusD: false });
    assert.equal(d?.family, 'ubuntu');
  });
  it('prefers /etc/os-release, then /usr/lib/os-release', () => {
    assert.equal(detectDistro(files({ '/usr/lib/os-release': 'ID=alpine\nVERSION_ID=3.19.1\n' }), { hasDpkgStatusD: false })?.version, '3.19.1');
  });
  it('falls back to release files and to distroless status.d', () => {
    assert.equal(detectDistro(files({ '/etc/debian_version': '12.5\n' }), { hasDpkgStatusD: false })?.version, '12');
    assert.deepEqual(
      [detectDistro(files({ '/etc/redhat-release': 'Red Hat Enterprise Linux release 8.9 (Ootpa)\n' }), { hasDpkgStatusD: false })].map((d) => [d?.family, d?.version]),
      [['redhat', '8.9']],
    );
    assert.equal(detectDistro(files({ '/etc/alpine-release': '3.18.4\n' }), { hasDpkgStatusD: false })?.family, 'alpine');
    assert.equal(detectDistro(files({}), { hasDpkgStatusD: true })?.detectedBy, 'dpkg-status.d');
    assert.equal(detectDistro(files({}), { hasDpkgStatusD: false }), null);
  });
  it('uses debian_version when Debian testing has no VERSION_ID', () => {
    const d = detectDistro(files({ '/etc/os-release': 'ID=debian\nPRETTY_NAME="Debian GNU/Linux trixie/sid"\n', '/etc/debian_version': 'trixie/sid\n' }), { hasDpkgStatusD: false });
    assert.equal(d?.version, 'trixie/sid');
  });
});

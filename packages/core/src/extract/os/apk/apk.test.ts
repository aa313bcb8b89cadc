import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ExtractContext, ExtractOutput } from '../../extractor.js';
import { apkExtractor } from './index.js';
import { licensesOf, parseApkInstalled } from './parse.js';

// The shape of a real Alpine 3.19 /lib/apk/db/installed (fields, order, ACL and checksum lines), cut down to
// four packages; the last entry is truncated mid-write, as a broken layer would leave it.
const INSTALLED = `C:Q1p78yvTLG094tjE1+kGLwHbcUaHk=
P:musl
V:1.2.4_git20230717-r4
A:x86_64
S:407278
I:662528
T:the musl c library (libc) implementation
U:https://musl.libc.org/
L:MIT
o:musl
m:Timo Teräs <timo.teras@iki.fi>
t:1703091297
c:df90e8b15cd8c6e34ee4fc8a4a1bcaf38b8a8c5f
p:so:libc.musl-x86_64.so.1=1
F:lib
R:ld-musl-x86_64.so.1
a:0:0:755
Z:Q1aTr0Ri4P+8s2ZzP4Tt7cqDuVVBM=
R:libc.musl-x86_64.so.1
a:0:0:777
Z:Q17yJ3JFNypA4mxhJJr0ou6CzsJVI=

C:Q1dJ3q0Cj0pU3yE+ONpEWnfYOkUQM=
P:py3-six
V:1.16.0-r8
A:noarch
S:18624
I:107520
T:Python 2 and 3 compatibility library
U:https://github.com/benjaminp/six
L:MIT
o:py3-six
m:Natanael Copa <ncopa@alpinelinux.org>
t:1701272432
c:a3d9e8b1f0e2c7d6b5a4f3e2d1c0b9a8f7e6d5c4
D:python3~3.11
p:py3.11-six=1.16.0-r8
i:python3~3.11
F:usr
F:usr/lib
F:usr/lib/python3.11
F:usr/lib/python3.11/site-packages
R:six.py
Z:Q1FbLm2+yrxTzbzUpYRh6mLdmGmCk=
F:usr/lib/python3.11/site-packages/six-1.16.0.dist-info
R:METADATA
Z:Q1vNyjVBmjWQw1pIrEgYrT6SYj4Uk=
R:RECORD
Z:Q1Lb5h8yyiMnu4w9bAI9rD/7RXGUU=
R:top_level.txt
Z:Q1Ha4ePn1BwQfC9NBV2h0BZFWr9B0=

C:Q1bNtKBGl5kZ8Q6aH0n6h8pu0Kz3c=
P:libcrypto3
V:3.1.4-r5
A:x86_64
S:1732044
I:4075520
T:Crypto library from openssl
U:https://www.openssl.org/
L:Apache-2.0 AND (MIT OR BSD-2-Clause)
o:openssl
m:Ariadne Conill <ariadne@dereferenced.org>
t:1706032218
c:bd1f7e7b6f8c4b0b0e4f9a2d5c3b1a0f9e8d7c6b
D:so:libc.musl-x86_64.so.1
p:so:libcrypto.so.3=3
r:libressl
F:usr/lib/node_modules/fake
R:package.json
M:0:0:755
a:0:0:644
Z:Q1kS0hYq0a8sV2S2ZbC1D7kWq2u2c=

C:Q1xZ
P:zlib
A:x86_64
S:537`;

const pythonAndNode = (p: string): boolean => p.includes('/site-packages/') || p.endsWith('/package.json');

function ctxWith(keep: ((path: string) => boolean) | null, issues: string[]): ExtractContext {
  return { tempDir: '/nonexistent', signal: new AbortController().signal, isLanguageArtifact: keep, issue: (m) => issues.push(m) };
}

function extract(text: string, keep: ((path: string) => boolean) | null, issues: string[] = []): Promise<ExtractOutput> {
  const data = Buffer.from(text);
  return apkExtractor.extract({ path: '/lib/apk/db/installed', size: data.length, mode: 0o100644, content: { kind: 'buffer', data } }, ctxWith(keep, issues));
}

describe('apk installed database', () => {
  it('reports each complete entry, with origin as the source package', async () => {
    const out = await extract(INSTALLED, null);
    assert.deepEqual(out.packages, [
      {
        type: 'apk',
        name: 'musl',
        version: '1.2.4_git20230717-r4',
        evidence: 'installed',
        arch: 'x86_64',
        source: { name: 'musl', version: '1.2.4_git20230717-r4' },
        licenses: ['MIT'],
        metadata: { maintainer: 'Timo Teräs <timo.teras@iki.fi>' },
      },
      {
        type: 'apk',
        name: 'py3-six',
        version: '1.16.0-r8',
        evidence: 'installed',
        arch: 'noarch',
        source: { name: 'py3-six', version: '1.16.0-r8' },
        licenses: ['MIT'],
        metadata: { maintainer: 'Natanael Copa <ncopa@alpinelinux.org>' },
      },
      {
        type: 'apk',
        name: 'libcrypto3',
        version: '3.1.4-r5',
        evidence: 'installed',
        arch: 'x86_64',
        source: { name: 'openssl', version: '3.1.4-r5' },
        licenses: ['Apache-2.0 AND (MIT OR BSD-2-Clause)'],
        metadata: { maintainer: 'Ariadne Conill <ariadne@dereferenced.org>' },
      },
    ]);
    assert.equal(out.ownership, undefined);
  });

  it('reports the truncated last entry as an issue and keeps going', async () => {
    const issues: string[] = [];
    await extract(INSTALLED, null, issues);
    assert.deepEqual(issues, ['entry 4 at line 75 (zlib): no V (version); skipped', 'file does not end with a newline: it may be truncated']);
  });

  it('reports an entry with no name', () => {
    const { packages, problems } = parseApkInstalled('V:1.0-r0\nA:x86_64\n\nP:ok\nV:2-r0\n\n', null);
    assert.deepEqual(packages.map((p) => p.name), ['ok']);
    assert.deepEqual(problems, ['entry 1 at line 1: no P (name); skipped']);
  });

  it('lists owned files as absolute paths, only those the language extractors want', async () => {
    const out = await extract(INSTALLED, pythonAndNode);
    assert.deepEqual(out.ownership, [
      {
        packageName: 'py3-six',
        files: [
          '/usr/lib/python3.11/site-packages/six.py',
          '/usr/lib/python3.11/site-packages/six-1.16.0.dist-info/METADATA',
          '/usr/lib/python3.11/site-packages/six-1.16.0.dist-info/RECORD',
          '/usr/lib/python3.11/site-packages/six-1.16.0.dist-info/top_level.txt',
        ],
      },
      { packageName: 'libcrypto3', files: ['/usr/lib/node_modules/fake/package.json'] },
    ]);
  });

  it('puts files listed before any F line at the root, and tolerates slashes around F', () => {
    const { packages } = parseApkInstalled('P:a\nV:1-r0\nR:top\nF:/etc/x/\nR:y.conf\n\n', () => true);
    assert.deepEqual(packages[0]?.files, ['/top', '/etc/x/y.conf']);
  });

  it('accepts CRLF line ends and an entry without origin', () => {
    const { packages, problems } = parseApkInstalled('P:a\r\nV:1-r0\r\n\r\n', null);
    assert.deepEqual(problems, []);
    assert.equal(packages[0]?.origin, null);
  });

  it('falls back to the package itself as source when o: is missing', async () => {
    const out = await extract('P:busybox\nV:1.36.1-r15\n\n', null);
    assert.deepEqual(out.packages[0]?.source, { name: 'busybox', version: '1.36.1-r15' });
  });

  it('requires exactly one of the two database paths', () => {
    assert.ok(apkExtractor.required('/lib/apk/db/installed', 0o100644));
    assert.ok(apkExtractor.required('/usr/lib/apk/db/installed', 0o100644));
    for (const p of ['lib/apk/db/installed', '/lib/apk/db/installed.new', '/lib/apk/db/scripts.tar', '/etc/apk/installed', '/x/lib/apk/db/installed']) {
      assert.ok(!apkExtractor.required(p, 0o100644), p);
    }
  });

  it('returns nothing for an empty database', async () => {
    const issues: string[] = [];
    assert.deepEqual((await extract('', null, issues)).packages, []);
    assert.deepEqual(issues, []);
  });
});

describe('apk license field', () => {
  it('splits a plain conjunction into the licenses that all apply', () => {
    assert.deepEqual(licensesOf('MIT AND BSD-2-Clause'), ['MIT', 'BSD-2-Clause']);
    assert.deepEqual(licensesOf('GPL-2.0-or-later and LGPL-2.1-or-later'), ['GPL-2.0-or-later', 'LGPL-2.1-or-later']);
    assert.deepEqual(licensesOf(' MIT '), ['MIT']);
  });

  it('keeps choices, exceptions, groups and old free-form values whole', () => {
    for (const expr of ['MIT OR Apache-2.0', 'GPL-2.0-only WITH Linux-syscall-note', 'Apache-2.0 AND (MIT OR BSD-2-Clause)', 'GPL-2.0 LGPL-2.1', 'Public Domain']) {
      assert.deepEqual(licensesOf(expr), [expr]);
    }
    assert.deepEqual(licensesOf(''), []);
  });
});

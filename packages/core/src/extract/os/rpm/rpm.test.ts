import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import Database from 'better-sqlite3';
import type { ExtractContext, ExtractedPackage, ExtractOutput, FileContent } from '../../extractor.js';
import { rpmExtractor } from './index.js';
import { parseSourceRpm, rpmVersionString } from './parse.js';

// testdata/make-fixtures.sh built these with rpm 4.18 from testdata/specs/ and recorded what `rpm -qa` says
// about them in expected.tsv and expected-files.tsv.
const testdata = (name: string): URL => new URL(`./testdata/${name}`, import.meta.url);
const fixture = (name: string): Buffer => readFileSync(testdata(name));

/** NAME EPOCH VERSION RELEASE ARCH LICENSE VENDOR SOURCERPM, "(none)" for absent, as rpm's --queryformat prints. */
function expectedPackages(): ExtractedPackage[] {
  const none = (v: string | undefined): string | null => (v === undefined || v === '(none)' ? null : v);
  return readFileSync(testdata('expected.tsv'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => line.split('\t'))
    .filter(([name]) => name !== 'gpg-pubkey')
    .map(([name, epoch, version, release, arch, license, vendor, sourceRpm]): ExtractedPackage => {
      const e = none(epoch);
      const source = parseSourceRpm(sourceRpm!);
      return {
        type: 'rpm',
        name: name!,
        version: rpmVersionString({ epoch: e === null ? null : Number(e), version: version!, release: release! }),
        evidence: 'installed',
        ...(none(arch) ? { arch: arch! } : {}),
        ...(source ? { source } : {}),
        ...(none(license) ? { licenses: [license!] } : {}),
        ...(none(vendor) ? { vendor: vendor! } : {}),
        ...(e !== null ? { qualifiers: { epoch: e } } : {}),
      };
    })
    .sort(byName);
}

const byName = (a: { name: string }, b: { name: string }): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

const isLanguageArtifact = (p: string): boolean => p.endsWith('/METADATA') || p.endsWith('/package.json') || p.endsWith('.jar');

function expectedOwnership(): { packageName: string; files: string[] }[] {
  const owned = new Map<string, string[]>();
  for (const line of readFileSync(testdata('expected-files.tsv'), 'utf8').trim().split('\n')) {
    const [name, path] = line.split('\t') as [string, string];
    if (isLanguageArtifact(path)) owned.set(name, [...(owned.get(name) ?? []), path]);
  }
  return [...owned].map(([packageName, files]) => ({ packageName, files: files.sort() })).sort((a, b) => byName({ name: a.packageName }, { name: b.packageName }));
}

let root: string;
let tempDir: string;
let issues: string[];
before(async () => {
  root = await mkdtemp(join(tmpdir(), 'tally-rpm-'));
});
after(() => rm(root, { recursive: true, force: true }));
beforeEach(async () => {
  tempDir = await mkdtemp(join(root, 'scan-'));
  issues = [];
});

function ctx(keep: ((path: string) => boolean) | null = isLanguageArtifact): ExtractContext {
  return { tempDir, signal: new AbortController().signal, isLanguageArtifact: keep, issue: (m) => issues.push(m) };
}

function extract(path: string, content: FileContent, keep?: ((path: string) => boolean) | null): Promise<ExtractOutput> {
  const size = content.kind === 'buffer' ? content.data.length : 0;
  return rpmExtractor.extract({ path, size, mode: 0o100644, content }, ctx(keep));
}

function normalised(out: ExtractOutput): { packages: ExtractedPackage[]; ownership: { packageName: string; files: string[] }[] } {
  return {
    packages: [...out.packages].sort(byName),
    ownership: (out.ownership ?? []).map((o) => ({ packageName: o.packageName, files: [...o.files].sort() })).sort((a, b) => byName({ name: a.packageName }, { name: b.packageName })),
  };
}

describe('rpm extractor', () => {
  describe('required()', () => {
    it('accepts the three database files under the three rpm directories', () => {
      for (const dir of ['/var/lib/rpm/', '/usr/lib/sysimage/rpm/', '/usr/share/rpm/']) {
        for (const file of ['Packages', 'Packages.db', 'rpmdb.sqlite']) assert.ok(rpmExtractor.required(dir + file, 0o100644), dir + file);
      }
    });
    it('rejects everything else', () => {
      for (const path of ['/var/lib/rpm/Name', '/var/lib/rpm/Index.db', '/var/lib/rpm/rpmdb.sqlite-wal', '/var/lib/rpmPackages', 'var/lib/rpm/Packages', '/var/lib/rpm/Packages/x', '/root/.rpmdb/rpmdb.sqlite']) {
        assert.ok(!rpmExtractor.required(path, 0o100644), path);
      }
    });
  });

  for (const [file, path] of [
    ['Packages', '/var/lib/rpm/Packages'],
    ['Packages.be', '/var/lib/rpm/Packages'],
    ['rpmdb.sqlite', '/usr/lib/sysimage/rpm/rpmdb.sqlite'],
  ] as const) {
    it(`reports what rpm -qa reports, without gpg-pubkey, from ${file}`, async () => {
      const out = normalised(await extract(path, { kind: 'buffer', data: fixture(file) }));
      assert.deepEqual(issues, []);
      assert.deepEqual(out.packages, expectedPackages());
      assert.deepEqual(out.ownership, expectedOwnership());
    });
  }

  it('keeps epoch 0 and no epoch apart', async () => {
    const out = await extract('/var/lib/rpm/rpmdb.sqlite', { kind: 'buffer', data: fixture('rpmdb.sqlite') });
    const zero = out.packages.find((p) => p.name === 'tally-zero');
    const plain = out.packages.find((p) => p.name === 'tally-plain');
    assert.equal(zero?.version, '0:2.3-1');
    assert.deepEqual(zero?.qualifiers, { epoch: '0' });
    assert.equal(plain?.version, '0.9.1-7.el9');
    assert.equal(plain?.qualifiers, undefined);
  });

  it('reports no ownership when no language extractor runs', async () => {
    const out = await extract('/var/lib/rpm/Packages', { kind: 'buffer', data: fixture('Packages') }, null);
    assert.equal(out.ownership, undefined);
  });

  it('reads a spilled rpmdb.sqlite through a hard link and leaves the spill file alone', async () => {
    const spill = join(tempDir, 'spill-1');
    await writeFile(spill, fixture('rpmdb.sqlite'));
    const out = await extract('/var/lib/rpm/rpmdb.sqlite', { kind: 'file', path: spill });
    assert.equal(out.packages.length, 4);
    assert.deepEqual(await readdir(tempDir), ['spill-1']);
    assert.ok(readFileSync(spill).equals(fixture('rpmdb.sqlite')));
  });

  it('leaves nothing behind in the temp dir (WAL mode makes SQLite create -wal and -shm files)', async () => {
    await extract('/var/lib/rpm/rpmdb.sqlite', { kind: 'buffer', data: fixture('rpmdb.sqlite') });
    assert.deepEqual(await readdir(tempDir), []);
  });

  it('fails with a clear error on a file that is not SQLite, and cleans up', async () => {
    await assert.rejects(extract('/var/lib/rpm/rpmdb.sqlite', { kind: 'buffer', data: Buffer.alloc(4096, 0x41) }), /^Error: SQLite rpmdb: .*not a database/);
    await assert.rejects(extract('/var/lib/rpm/rpmdb.sqlite', { kind: 'buffer', data: fixture('rpmdb.sqlite').subarray(0, 3000) }), /^Error: SQLite rpmdb: /);
    assert.deepEqual(await readdir(tempDir), []);
  });

  it('turns non-blob rows into issues and keeps the rest', async () => {
    const dir = join(root, 'made');
    await mkdir(dir, { recursive: true });
    const made = join(dir, 'rpmdb.sqlite');
    const db = new Database(made);
    db.exec('CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB)');
    const good = new Database(join(await copyFixture('rpmdb.sqlite'), 'rpmdb.sqlite'), { readonly: true });
    const blob = good.prepare('SELECT blob FROM Packages WHERE hnum = 2').pluck().get();
    good.close();
    db.prepare('INSERT INTO Packages (blob) VALUES (?), (?), (NULL)').run(blob, 'text, not a header');
    db.close();
    const out = await extract('/var/lib/rpm/rpmdb.sqlite', { kind: 'buffer', data: readFileSync(made) });
    assert.equal(out.packages.length, 1);
    assert.deepEqual(issues, ['row hnum=2: blob is string, not a BLOB', 'row hnum=3: blob is NULL, not a BLOB']);
  });

  it('fails with a clear error on a BerkeleyDB file that is not one', async () => {
    await assert.rejects(extract('/var/lib/rpm/Packages', { kind: 'buffer', data: Buffer.alloc(8192) }), /BerkeleyDB Packages: no hash magic/);
  });
});

async function copyFixture(name: string): Promise<string> {
  const dir = await mkdtemp(join(root, 'copy-'));
  await writeFile(join(dir, name), fixture(name));
  return dir;
}

describe('rpm version strings', () => {
  it('puts the epoch in front only when the header has one', () => {
    assert.equal(rpmVersionString({ epoch: 2, version: '1.0', release: '3' }), '2:1.0-3');
    assert.equal(rpmVersionString({ epoch: 0, version: '1.0', release: '3' }), '0:1.0-3');
    assert.equal(rpmVersionString({ epoch: null, version: '1.0', release: '3' }), '1.0-3');
  });

  it('splits source rpm file names on their last two dashes', () => {
    assert.deepEqual(parseSourceRpm('openssl-3.0.7-27.el9.src.rpm'), { name: 'openssl', version: '3.0.7-27.el9' });
    assert.deepEqual(parseSourceRpm('java-17-openjdk-17.0.9.0.9-2.el9.src.rpm'), { name: 'java-17-openjdk', version: '17.0.9.0.9-2.el9' });
    assert.deepEqual(parseSourceRpm('nvidia-x-1-2.nosrc.rpm'), { name: 'nvidia-x', version: '1-2' });
    for (const bad of ['openssl.src.rpm', 'a-1.src.rpm', '-1-2.src.rpm', 'a-1-.src.rpm', 'a--2.src.rpm', 'a-1-2.x86_64.rpm', '']) assert.equal(parseSourceRpm(bad), null, bad);
  });
});

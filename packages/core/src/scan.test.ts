import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DirectoryLayerCache } from './cache/layer-cache.js';
import { sourceForTarget } from './image/sources/target.js';
import { DEFAULT_PLATFORM } from './image/sources/oci-manifest.js';
import { isTallyError } from './model/errors.js';
import type { ScanReport } from './model/report.js';
import { scanImage, type ScanOptions } from './scan.js';
import { makeTar, writeDockerArchive, writeOciLayout, type EntrySpec, type ImageSpec } from './testing/image-builder.js';
import { validateReport } from './testing/report-schema.js';

function statusOf(...pkgs: [name: string, version: string][]): string {
  return pkgs.map(([n, v]) => `Package: ${n}\nStatus: install ok installed\nVersion: ${v}\nArchitecture: amd64\n`).join('\n');
}

const OS_RELEASE: EntrySpec[] = [
  { name: 'usr/lib/os-release', content: 'ID=debian\nVERSION_ID="12"\nNAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n' },
  { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
];

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-scan-test-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function scan(target: string, options: ScanOptions = {}): Promise<ScanReport> {
  const source = await sourceForTarget(target, { platform: DEFAULT_PLATFORM, platformExplicit: false });
  const report = await scanImage(source, { tempRoot: dir, ...options });
  validateReport(report);
  return report;
}

function layerOf(report: ScanReport, name: string): number | undefined {
  return report.packages.find((p) => p.name === name)?.layer.index;
}

describe('layer attribution and removal', () => {
  const spec: ImageSpec = {
    emptyHistoryBetween: true,
    layers: [
      { entries: [...OS_RELEASE, { name: 'var/lib/dpkg/status', content: statusOf(['base', '1'], ['tool', '2.0-1'], ['gone', '1']) }], createdBy: 'debootstrap' },
      { entries: [{ name: 'var/lib/dpkg/status', content: statusOf(['base', '1'], ['gone', '1']) }], createdBy: 'apt-get purge tool' },
      { entries: [{ name: 'var/lib/dpkg/status', content: statusOf(['base', '1'], ['gone', '1'], ['tool', '2.0-1']) }], createdBy: 'apt-get install tool' },
      { entries: [{ name: 'var/lib/dpkg/status', content: statusOf(['base', '1'], ['tool', '2.0-1']) }], createdBy: 'apt-get purge gone' },
    ],
  };

  it('attributes a removed-then-reinstalled package to the reinstalling layer, drops purged ones', async () => {
    await writeOciLayout(join(dir, 'attr'), spec);
    const report = await scan(`oci:${join(dir, 'attr')}`);
    assert.deepEqual(
      report.packages.map((p) => [p.name, p.layer.index]),
      [
        ['base', 0],
        ['tool', 2],
      ],
    );
    assert.equal(report.image.os?.family, 'debian');
    assert.equal(report.image.os?.version, '12');
    assert.equal(report.packages[0]!.purl, 'pkg:deb/debian/base@1?arch=amd64&distro=debian-12');
    // history aligned past empty_layer entries
    assert.deepEqual(
      report.image.layers.map((l) => l.createdBy),
      ['debootstrap', 'apt-get purge tool', 'apt-get install tool', 'apt-get purge gone'],
    );
    assert.equal(report.image.layers.reduce((n, l) => n + l.packages.os, 0), report.packages.length);
    assert.equal(report.image.history.length, 8);
  });

  it('gives the same packages from OCI dir, OCI archive, docker-archive and zstd layers', async () => {
    await writeDockerArchive(join(dir, 'attr.tar'), spec);
    await writeOciLayout(join(dir, 'attr-zstd'), { ...spec, layers: spec.layers.map((l) => ({ ...l, compression: 'zstd' as const })) });
    const entries: EntrySpec[] = [];
    for (const name of await readdir(join(dir, 'attr'), { recursive: true })) {
      const full = join(dir, 'attr', name);
      const { readFile, stat } = await import('node:fs/promises');
      if ((await stat(full)).isFile()) entries.push({ name, content: await readFile(full) });
    }
    await writeFile(join(dir, 'attr-oci.tar'), await makeTar(entries));
    const names = async (t: string): Promise<string[]> => (await scan(t)).packages.map((p) => `${p.name}@${p.version}#${p.layer.index}`);
    const expected = await names(`oci:${join(dir, 'attr')}`);
    assert.deepEqual(await names(`docker-archive:${join(dir, 'attr.tar')}`), expected);
    assert.deepEqual(await names(join(dir, 'attr.tar')), expected);
    assert.deepEqual(await names(`oci-archive:${join(dir, 'attr-oci.tar')}:latest`), expected);
    assert.deepEqual(await names(join(dir, 'attr-oci.tar')), expected);
    assert.deepEqual(await names(`oci:${join(dir, 'attr-zstd')}`), expected);
  });

  it('applies whiteouts and opaque directories to distroless status.d entries', async () => {
    const para = (n: string): string => statusOf([n, '1']);
    await writeOciLayout(join(dir, 'wh'), {
      layers: [
        {
          entries: [
            { name: 'var/lib/dpkg/status.d/a', content: para('a') },
            { name: 'var/lib/dpkg/status.d/b', content: para('b') },
            { name: 'var/lib/dpkg/status.d/b.md5sums', content: 'x  /usr/bin/b\n' },
            { name: 'opt/lib/status.d/c', content: para('c') },
          ],
        },
        { entries: [{ name: 'var/lib/dpkg/status.d/.wh.b', content: '' }, { name: 'usr/share/doc/.wh.which', content: '' }] },
        { entries: [{ name: 'var/lib/dpkg/status.d/d', content: para('d') }] },
        { entries: [{ name: 'var/lib/dpkg/status.d/.wh..wh..opq', content: '' }, { name: 'var/lib/dpkg/status.d/e', content: para('e') }] },
      ],
    });
    const report = await scan(join(dir, 'wh'));
    assert.deepEqual(
      report.packages.map((p) => [p.name, p.layer.index, p.locations[0]]),
      [['e', 3, '/var/lib/dpkg/status.d/e']],
    );
    assert.equal(report.image.os?.family, 'debian'); // distroless: detected from status.d
  });

  it('drops a package whose whole directory is whited out, and keeps names that merely contain ".wh."', async () => {
    await writeOciLayout(join(dir, 'wh2'), {
      layers: [
        { entries: [{ name: 'var/lib/dpkg/status.d/x.wh.y', content: statusOf(['keep', '1']) }, { name: 'var/lib/dpkg/status', content: statusOf(['s', '1']) }] },
        { entries: [{ name: 'var/lib/.wh.dpkg', content: '' }] },
        { entries: [{ name: 'var/lib/dpkg/status.d/x.wh.y', content: statusOf(['keep', '2']) }] },
      ],
    });
    const report = await scan(join(dir, 'wh2'));
    assert.deepEqual(
      report.packages.map((p) => [p.name, p.version, p.layer.index]),
      [['keep', '2', 2]],
    );
  });
});

describe('one rpm database', () => {
  // The same packages in a BerkeleyDB Packages and an rpmdb.sqlite (real files made by rpm 4.18:
  // extract/os/rpm/testdata/make-fixtures.sh), as an EL8 → EL9 upgrade can leave them.
  const rpmFixture = (name: string): Buffer => readFileSync(new URL(`./extract/os/rpm/testdata/${name}`, import.meta.url));
  const EL: EntrySpec = { name: 'etc/os-release', content: 'ID="rhel"\nVERSION_ID="9.4"\nNAME="Red Hat Enterprise Linux"\n' };

  for (const [n, [what, layers]] of ([
    ['one layer', [{ entries: [EL, { name: 'var/lib/rpm/Packages', content: rpmFixture('Packages') }, { name: 'var/lib/rpm/rpmdb.sqlite', content: rpmFixture('rpmdb.sqlite') }] }]],
    ['the old database in an upper layer, the new one in /usr/lib/sysimage', [{ entries: [EL, { name: 'usr/lib/sysimage/rpm/rpmdb.sqlite', content: rpmFixture('rpmdb.sqlite') }] }, { entries: [{ name: 'var/lib/rpm/Packages', content: rpmFixture('Packages') }] }]],
  ] as const).entries()) {
    it(`reads the newest of two databases, not both (${what}), and says which it ignored`, async () => {
      const layout = join(dir, `rpm-two-${n}`);
      await writeOciLayout(layout, { layers: layers.map((l) => ({ entries: [...l.entries] })) });
      const report = await scan(`oci:${layout}`);
      const names = report.packages.map((p) => p.name);
      assert.deepEqual(names, ['tally-demo', 'tally-plain', 'tally-plain-libs', 'tally-zero']);
      const kept = what === 'one layer' ? '/var/lib/rpm/rpmdb.sqlite' : '/usr/lib/sysimage/rpm/rpmdb.sqlite';
      assert.ok(report.packages.every((p) => p.locations.length === 1 && p.locations[0] === kept), JSON.stringify(report.packages.map((p) => p.locations)));
      const ignored = report.issues.filter((i) => i.extractor === 'os/rpm');
      assert.deepEqual(ignored.map((i) => i.path), ['/var/lib/rpm/Packages']);
      assert.match(ignored[0]!.message, new RegExp(`not counted: rpm reads one database and ${kept} is the newer one`));
    });
  }
});

describe('links inside layers', () => {
  it('resolves a hardlink to a captured file and reports one to a missing file', async () => {
    await writeOciLayout(join(dir, 'links'), {
      layers: [
        {
          entries: [
            { name: 'var/lib/dpkg/status.d/a', content: statusOf(['a', '1']) },
            { name: 'var/lib/dpkg/status.d/a2', type: 'link', linkname: 'var/lib/dpkg/status.d/a' },
            { name: 'var/lib/dpkg/status.d/ghost', type: 'link', linkname: 'nowhere/at/all' },
          ],
        },
      ],
    });
    const report = await scan(join(dir, 'links'));
    assert.deepEqual(report.packages.map((p) => p.locations[0]).sort(), ['/var/lib/dpkg/status.d/a', '/var/lib/dpkg/status.d/a2']);
    assert.ok(report.issues.some((i) => i.path === '/var/lib/dpkg/status.d/ghost' && i.layer === 0 && /hardlink/.test(i.message)));
  });

  it('survives a symlink loop at os-release and names it', async () => {
    await writeOciLayout(join(dir, 'loop'), {
      layers: [
        {
          entries: [
            { name: 'etc/os-release', type: 'symlink', linkname: '/usr/lib/os-release' },
            { name: 'usr/lib/os-release', type: 'symlink', linkname: '../../etc/os-release' },
            { name: 'var/lib/dpkg/status', content: statusOf(['a', '1']) },
          ],
        },
      ],
    });
    const report = await scan(join(dir, 'loop'));
    assert.equal(report.packages.length, 1);
    assert.ok(report.issues.some((i) => i.path === '/etc/os-release' && /loop/.test(i.message)));
  });
});

describe('hostile layers', () => {
  it('keeps traversal and absolute names inside the image root and writes nothing outside the temp dir', async () => {
    const tempRoot = await mkdtemp(join(dir, 'tmp-'));
    await writeOciLayout(join(dir, 'trav'), {
      layers: [
        {
          entries: [
            { name: '../../../../var/lib/dpkg/status', content: statusOf(['escaped', '1']) },
            { name: '/etc/os-release', content: 'ID=alpine\nVERSION_ID=3.19.0\n' },
            { name: 'a/../../b/../x', content: 'x' },
          ],
        },
      ],
    });
    const report = await scan(join(dir, 'trav'), { tempRoot });
    assert.deepEqual(report.packages.map((p) => p.locations[0]), ['/var/lib/dpkg/status']);
    assert.equal(report.image.os?.family, 'alpine');
    assert.deepEqual(await readdir(tempRoot), []); // the scan's temp dir is gone and nothing else was made
  });

  it('reports a truncated gzip layer whose digest matches (a damaged image) as an issue and keeps what came before', async () => {
    const { gzipSync } = await import('node:zlib');
    const tarBytes = await makeTar([{ name: 'var/lib/dpkg/status.d/early', content: statusOf(['early', '1']) }, { name: 'big', content: Buffer.alloc(200_000, 'x') }]);
    const gz = gzipSync(tarBytes);
    await writeOciLayout(join(dir, 'trunc'), {
      layers: [{ entries: [{ name: 'var/lib/dpkg/status', content: statusOf(['ok', '1']) }] }, { blob: gz.subarray(0, gz.length - 100) }],
    });
    const report = await scan(join(dir, 'trunc'));
    assert.ok(report.issues.some((i) => i.layer === 1 && /could not be read to its end.*unexpected end of file/.test(i.message)), JSON.stringify(report.issues));
    assert.deepEqual(report.packages.map((p) => p.name).sort(), ['early', 'ok']);
  });

  it('fails with DIGEST_MISMATCH when a cut blob is not the one the manifest names', async () => {
    await writeOciLayout(join(dir, 'cut'), {
      layers: [{ entries: [{ name: 'var/lib/dpkg/status', content: statusOf(['ok', '1']) }, { name: 'big', content: Buffer.alloc(200_000, 'x') }], tamper: (b) => b.subarray(0, b.length - 100) }],
    });
    await assert.rejects(scan(join(dir, 'cut')), (err: unknown) => isTallyError(err) && err.code === 'DIGEST_MISMATCH' && /layer 0/.test(err.message));
  });

  it('fails with DIGEST_MISMATCH naming the layer when a complete blob does not match', async () => {
    await writeOciLayout(join(dir, 'tamper'), {
      layers: [{ entries: [{ name: 'var/lib/dpkg/status', content: statusOf(['ok', '1']) }], compression: 'none', tamper: (b) => Buffer.from(b.toString('latin1').replace('ok', 'ko'), 'latin1') }],
    });
    await assert.rejects(scan(join(dir, 'tamper')), (err: unknown) => isTallyError(err) && err.code === 'DIGEST_MISMATCH' && /layer 0/.test(err.message));
  });

  it('stops a decompression bomb with an issue, memory bounded, and scans the other layers', async () => {
    const { gzipSync } = await import('node:zlib');
    const zeros = gzipSync(Buffer.alloc(64 * 1024 * 1024), { level: 9 }); // 64 MiB of zeros in ~64 KiB
    await writeOciLayout(join(dir, 'bomb'), {
      layers: [{ entries: [{ name: 'var/lib/dpkg/status', content: statusOf(['ok', '1']) }] }, { blob: zeros }],
    });
    const before = process.memoryUsage().rss;
    const report = await scan(join(dir, 'bomb'), { limits: { ratioCheckAfterBytes: 8 * 1024 * 1024, maxCompressionRatio: 100 } });
    assert.ok(process.memoryUsage().rss - before < 64 * 1024 * 1024, 'the bomb was not inflated into memory');
    assert.ok(report.issues.some((i) => i.layer === 1 && /bomb/.test(i.message)), JSON.stringify(report.issues));
    assert.deepEqual(report.packages.map((p) => p.name), ['ok']);
  });

  it('rejects an unsupported layer media type, naming the layer', async () => {
    const layout = join(dir, 'media');
    await writeOciLayout(layout, { layers: [{ entries: [{ name: 'a', content: 'a' }] }] });
    const { readFile } = await import('node:fs/promises');
    // rewrite the manifest with a bzip2 media type (and fix up the digests that point at it)
    const { createHash } = await import('node:crypto');
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { digest: string; size: number }[] };
    const mDigest = index.manifests[0]!.digest;
    const manifest = JSON.parse(await readFile(join(layout, 'blobs/sha256', mDigest.slice(7)), 'utf8')) as { layers: { mediaType: string }[] };
    manifest.layers[0]!.mediaType = 'application/vnd.oci.image.layer.v1.tar+bzip2';
    const bytes = Buffer.from(JSON.stringify(manifest));
    const digest = 'sha256:' + createHash('sha256').update(bytes).digest('hex');
    await writeFile(join(layout, 'blobs/sha256', digest.slice(7)), bytes);
    index.manifests[0]!.digest = digest;
    index.manifests[0]!.size = bytes.length;
    await writeFile(join(layout, 'index.json'), JSON.stringify(index));
    await assert.rejects(scan(layout), (err: unknown) => isTallyError(err) && err.code === 'UNSUPPORTED_MEDIA_TYPE' && /layer 0/.test(err.message));
  });
});

describe('layer cache', () => {
  it('serves a second scan from the cache with the same result', async () => {
    await writeOciLayout(join(dir, 'cached'), { layers: [{ entries: [...OS_RELEASE, { name: 'var/lib/dpkg/status', content: statusOf(['a', '1']) }] }] });
    const cache = new DirectoryLayerCache(join(dir, 'cache'));
    const events: boolean[] = [];
    const first = await scan(join(dir, 'cached'), { cache, onProgress: (e) => e.kind === 'layer-done' && events.push(e.cached) });
    const second = await scan(join(dir, 'cached'), { cache, onProgress: (e) => e.kind === 'layer-done' && events.push(e.cached) });
    assert.deepEqual(events, [false, true]);
    assert.deepEqual(second.packages, first.packages);
    assert.deepEqual(second.image.layers, first.image.layers);
  });
});

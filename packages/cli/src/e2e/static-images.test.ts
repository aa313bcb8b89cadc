import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { lines, readJson, scanJson, tally, testImages, type ScanJson } from './support.js';

let images: string;
let work: string;
before(() => {
  images = testImages();
  work = mkdtempSync(join(tmpdir(), 'tally-e2e-'));
});
after(() => rmSync(work, { recursive: true, force: true }));

const nva = (r: ScanJson): string[] => r.packages.map((p) => `${p.name} ${p.version} ${p.arch ?? ''}`).sort();

describe('a debootstrapped Debian 12 image', () => {
  it('reports exactly what dpkg-query lists, from every image form', () => {
    const expected = lines(join(images, 'debian12/expected-dpkg.txt'));
    assert.ok(expected.length > 50, `expected-dpkg.txt lists ${expected.length} packages`);
    for (const form of ['rootfs', 'oci', 'oci.tar', 'docker-archive.tar', 'docker25.tar', 'oci-zstd']) {
      const report = scanJson(join(images, 'debian12', form));
      assert.deepEqual(nva(report), expected, `${form}: same (name, version, arch) set as dpkg-query`);
      assert.equal(report.image.os?.family, 'debian', form);
      assert.equal(report.image.os?.version, '12', form);
      assert.ok(report.packages.every((p) => p.purl.startsWith('pkg:deb/debian/') && p.purl.includes('distro=debian-12')), form);
    }
  });

  it('records layer and image metadata (digests, sizes, createdBy, manifest digest)', () => {
    const facts = readJson<{ image: { manifestDigest: string; imageId: string; layers: { digest: string; diffId: string; size: number; createdBy: string }[] } }>(
      join(images, 'debian12/expected.json'),
    );
    const oci = scanJson(join(images, 'debian12/oci'));
    assert.equal(oci.image.manifestDigest, facts.image.manifestDigest);
    assert.equal(oci.image.imageId, facts.image.imageId);
    assert.deepEqual(
      oci.image.layers.map((l) => [l.digest, l.diffId, l.size, l.createdBy]),
      facts.image.layers.map((l) => [l.digest, l.diffId, l.size, l.createdBy]),
    );
    const docker25 = scanJson(join(images, 'debian12/docker25.tar'));
    assert.ok(docker25.image.manifestDigest?.startsWith('sha256:'), 'Docker 25+ archives carry their OCI manifest digest');
    assert.deepEqual(docker25.image.repoTags, ['tally-test/debian12:latest']);
    const legacy = scanJson(join(images, 'debian12/docker-archive.tar'));
    assert.equal(legacy.image.manifestDigest, null);
    for (const r of [oci, docker25, legacy]) {
      for (const l of r.image.layers) {
        assert.match(l.digest ?? '', /^sha256:[0-9a-f]{64}$/);
        assert.match(l.diffId ?? '', /^sha256:[0-9a-f]{64}$/);
        assert.ok((l.size ?? 0) > 0);
        assert.ok(l.createdBy);
      }
      assert.equal(r.image.layers.reduce((n, l) => n + l.packages.os + l.packages.lang, 0), r.packages.length);
    }
  });
});

describe('packages removed and reinstalled across layers', () => {
  it('drops purged packages and attributes each to the layer it stays present from', () => {
    const expected = readJson<{ expectedLayerOfPackage: Record<string, number | null> }>(join(images, 'debian12-layers/expected.json'));
    for (const form of ['oci', 'docker-archive.tar']) {
      const report = scanJson(join(images, 'debian12-layers', form));
      assert.deepEqual(nva(report), lines(join(images, 'debian12-layers/expected-dpkg.txt')), form);
      for (const [name, layer] of Object.entries(expected.expectedLayerOfPackage)) {
        assert.equal(report.packages.find((p) => p.name === name)?.layer.index ?? null, layer, `${form}: ${name}`);
      }
      assert.equal(report.image.layers.reduce((n, l) => n + l.packages.os, 0), report.packages.length);
    }
  });

  it('applies whiteouts to a distroless status.d database', () => {
    const expected = readJson<{ packages: string[] | { name: string }[] }>(join(images, 'distroless/expected.json'));
    const names = (expected.packages as (string | { name: string })[]).map((p) => (typeof p === 'string' ? p.split(' ')[0]! : p.name)).sort();
    for (const form of ['oci', 'docker-archive.tar']) {
      const report = scanJson(join(images, 'distroless', form));
      assert.deepEqual(report.packages.map((p) => p.name).sort(), names, form);
      assert.ok(!report.packages.some((p) => p.name === 'netbase'), `${form}: netbase was removed in layer 1`);
      assert.ok(report.packages.every((p) => p.locations[0]!.startsWith('/var/lib/dpkg/status.d/')));
    }
  });
});

describe('RPM databases', () => {
  for (const kind of ['rpm-sqlite', 'rpm-bdb']) {
    it(`${kind}: the set equals rpm -qa`, () => {
      const expected = lines(join(images, kind, 'expected-rpm.txt')).map((l) => l.replace(/ 0:/, ' '));
      for (const form of ['rootfs', 'oci', 'docker-archive.tar']) {
        const report = scanJson(join(images, kind, form));
        assert.deepEqual(nva(report), expected, `${kind} ${form}`);
        assert.equal(report.image.os?.family, 'almalinux');
        assert.ok(report.packages.every((p) => p.type === 'rpm' && p.source?.name), 'SOURCERPM read');
      }
    });
  }
});

describe('multi-platform indexes', () => {
  it('takes linux/amd64 by default and the other platform on request, from a directory and a tar', () => {
    const expected = readJson<{ platforms: Record<string, { manifestDigest: string }> } & Record<string, unknown>>(join(images, 'multiarch/expected.json'));
    for (const form of ['oci', 'multiarch.tar']) {
      const target = join(images, 'multiarch', form);
      const amd = scanJson(target);
      const arm = scanJson(target, ['--platform', 'linux/arm64']);
      assert.equal(amd.image.platform?.architecture, 'amd64', form);
      assert.equal(arm.image.platform?.architecture, 'arm64', form);
      assert.notEqual(amd.image.manifestDigest, arm.image.manifestDigest);
      assert.ok(JSON.stringify(expected).includes(arm.image.manifestDigest!), `${form}: the arm64 manifest is the expected one`);
      assert.equal(arm.image.layers.length, amd.image.layers.length + 1);
      const none = tally(['scan', target, '--platform', 'linux/s390x', '--quiet']);
      assert.equal(none.code, 2);
      assert.match(none.stderr, /no image for platform linux\/s390x.*IMAGE_NOT_FOUND/);
    }
  });
});

describe('errors: one line naming the thing, exit status 2', () => {
  it('unknown or unreadable target', () => {
    const r = tally(['scan', join(work, 'nope.tar'), '--quiet']);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^tally: .*nope\.tar: no such file or directory \[TARGET_NOT_FOUND\]\n$/);
    writeFileSync(join(work, 'junk.bin'), 'not an image at all');
    const junk = tally(['scan', join(work, 'junk.bin'), '--quiet']);
    assert.equal(junk.code, 2);
    assert.match(junk.stderr, /junk\.bin.*\[UNKNOWN_FORMAT\]\n$/);
  });

  it('missing blob and digest mismatch name the layer', () => {
    const layout = join(work, 'broken');
    cpSync(join(images, 'debian12-layers/oci'), layout, { recursive: true });
    const facts = readJson<{ image: { layers: { digest: string }[] } }>(join(images, 'debian12-layers/expected.json'));
    const blob = (i: number): string => join(layout, 'blobs/sha256', facts.image.layers[i]!.digest.slice(7));
    // flip one byte inside layer 2's gzip stream: it still inflates? either way the digest check must catch it
    const bytes = readFileSync(blob(2));
    bytes[bytes.length - 5] = bytes[bytes.length - 5]! ^ 0xff;
    writeFileSync(blob(2), bytes);
    const mismatch = tally(['scan', layout, '--quiet', '--no-cache']);
    assert.equal(mismatch.code, 2, mismatch.stderr);
    assert.match(mismatch.stderr, /layer 2 \(sha256:[0-9a-f]{64}\).*\[DIGEST_MISMATCH\]\n$/);
    writeFileSync(blob(2), readFileSync(join(images, 'debian12-layers/oci/blobs/sha256', facts.image.layers[2]!.digest.slice(7))));
    rmSync(blob(3));
    const missing = tally(['scan', layout, '--quiet', '--no-cache']);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /^tally: layer 3 \(sha256:[0-9a-f]{64}\): .*blob sha256:[0-9a-f]{64} is missing \[MISSING_BLOB\]\n$/);
    assert.equal(readdirSync(layout).length > 0, true);
  });
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_PLATFORM } from '../../../image/sources/oci-manifest.js';
import { sourceForTarget } from '../../../image/sources/target.js';
import { scanImage } from '../../../scan.js';
import { writeOciLayout } from '../../../testing/image-builder.js';
import { validateReport } from '../../../testing/report-schema.js';
import { dpkgExtractor } from '../../os/dpkg/index.js';
import { goBinaryExtractor } from './index.js';

const fixture = (name: string): Buffer => readFileSync(new URL(`./testdata/synthetic/${name}`, import.meta.url));

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tally-go-image-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('Go binaries in an image', () => {
  it('reports modules per binary with purl, location and layer, and keeps reading the layer after each binary', async () => {
    await writeOciLayout(join(dir, 'img'), {
      layers: [
        {
          entries: [
            { name: 'usr/lib/os-release', content: 'ID=debian\nVERSION_ID="12"\n' },
            { name: 'usr/bin/old', content: fixture('pointer-le64.elf'), mode: 0o755 },
          ],
        },
        {
          createdBy: 'COPY app /app',
          entries: [
            { name: 'app/server', content: fixture('inline-le64.elf'), mode: 0o755 },
            { name: 'app/packed', content: fixture('upx.elf'), mode: 0o755 },
            { name: 'app/data.elf', content: fixture('inline-le64.elf'), mode: 0o644 }, // not executable: not read
            { name: 'app/run.sh', content: '#!/bin/sh\nexec /app/server\n', mode: 0o755 },
            { name: 'var/lib/dpkg/status', content: 'Package: base\nStatus: install ok installed\nVersion: 1\nArchitecture: amd64\n' },
          ],
        },
      ],
    });
    const source = await sourceForTarget(`oci:${join(dir, 'img')}`, { platform: DEFAULT_PLATFORM, platformExplicit: false });
    const report = await scanImage(source, { tempRoot: dir, performScaScan: true, extractors: [dpkgExtractor, goBinaryExtractor] });
    validateReport(report);
    const rows = report.packages.map((p) => `${p.purl} ${p.locations.join(',')} L${p.layer.index} ${p.class} ${p.scanType}`);
    assert.deepEqual(rows.sort(), [
      'pkg:deb/debian/base@1?arch=amd64&distro=debian-12 /var/lib/dpkg/status L1 os Static',
      'pkg:golang/example.com/app/internal/legacy@(devel) /app/server L1 lang SCA',
      'pkg:golang/example.com/app@v1.4.2 /app/server L1 lang SCA',
      'pkg:golang/example.com/old@v2.3.4+incompatible /usr/bin/old L0 lang SCA',
      'pkg:golang/github.com/a/b@v1.2.3 /app/server L1 lang SCA',
      'pkg:golang/github.com/new/fork@v1.0.5 /app/server L1 lang SCA',
      'pkg:golang/golang.org/x/sys@v0.0.0-20200501145240-bc7a7d42d5c3 /usr/bin/old L0 lang SCA',
      'pkg:golang/stdlib@v1.16.15 /usr/bin/old L0 lang SCA',
      'pkg:golang/stdlib@v1.21.3 /app/server L1 lang SCA',
    ]);
    const main = report.packages.find((p) => p.name === 'example.com/app');
    assert.equal(main?.identifiedBy, 'ldflags');
    assert.equal(main?.evidence, 'binary');
    assert.equal(main?.metadata?.['goVersion'], 'go1.21.3');
    assert.deepEqual(
      report.issues.map((i) => `${i.path} ${i.extractor} ${i.message}`),
      ['/app/packed lang/go-binary UPX-packed executable: any Go build info inside is compressed and was not read'],
    );
  });
});

/**
 * Reports the UI is tested with besides the real test images: an image built by strangers (markup in a package
 * name, in createdBy and in a path), and an image with 5,000 packages.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';

/** What this file uses of packages/core/src/testing/image-builder.ts. */
interface ImageBuilder {
  writeDockerArchive(
    file: string,
    spec: { layers: readonly { entries: readonly { name: string; content: string }[]; createdBy: string }[] },
    repoTag: string,
  ): Promise<unknown>;
}

/**
 * The core test image builder, loaded at run time: core's tsconfig leaves src/testing out of its type check and
 * that file does not pass one (tar-stream's 'data' handler typed as Buffer), so a static import would pull it
 * into this project's `tsc` run. The interface above is the part relied on.
 */
async function imageBuilder(): Promise<ImageBuilder> {
  const url: string = new URL('../../core/src/testing/image-builder.ts', import.meta.url).href;
  return (await import(url)) as ImageBuilder;
}

export const HOSTILE_NAME = '<img src=x onerror=alert(1)>';
export const HOSTILE_CREATED_BY = `/bin/sh -c #(nop) ADD file:<script>alert("layer")</script> in /`;

/**
 * A real image whose dpkg database lists a package named like an HTML element (dpkg accepts it, so the real
 * scanner reports it), with markup in the layers' createdBy. The CLI scans it.
 */
export async function writeHostileImage(dir: string): Promise<string> {
  const file = join(dir, 'hostile.tar');
  const { writeDockerArchive } = await imageBuilder();
  await writeDockerArchive(
    file,
    {
      layers: [
        {
          entries: [
            { name: 'etc/os-release', content: 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nNAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n' },
            { name: 'var/lib/dpkg/status', content: `Package: ${HOSTILE_NAME}\nStatus: install ok installed\nVersion: 1.0\nArchitecture: amd64\n\n` },
          ],
          createdBy: HOSTILE_CREATED_BY,
        },
        {
          entries: [{ name: 'app/package.json', content: JSON.stringify({ name: 'hostile-app', version: '1.0.0', license: 'MIT' }) }],
          createdBy: `RUN npm install '${HOSTILE_NAME}' # <svg onload=alert(3)>`,
        },
      ],
    },
    'tally-test/hostile:latest',
  );
  return file;
}

interface ReportPackage {
  id: string;
  name: string;
  version: string;
  purl: string;
  class: string;
  scanType: string;
  locations: string[];
  evidenceSources?: { evidence: string; location: string }[];
  [k: string]: unknown;
}

interface Report {
  image: { imageId: string; repoTags: string[]; repoDigests: string[]; manifestDigest: string | null; ref: string; [k: string]: unknown };
  packages: ReportPackage[];
  [k: string]: unknown;
}

function sha256hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/**
 * The npm scanner refuses a package.json whose name is not a valid npm name, so an npm package with the hostile
 * name can only arrive in a report a sensor crafted: add one to a real SCA report, as a hostile sensor would.
 */
export function withHostileNpmPackage(reportJson: string): Report {
  const report = JSON.parse(reportJson) as Report;
  const template = report.packages.find((p) => p.class === 'lang');
  if (template === undefined) throw new Error('the hostile report has no language package to copy');
  const location = `/app/node_modules/${HOSTILE_NAME}/package.json`;
  report.packages.push({
    ...template,
    id: sha256hex(`hostile-npm|${HOSTILE_NAME}`),
    name: HOSTILE_NAME,
    version: '1.0.0',
    purl: `pkg:npm/${encodeURIComponent(HOSTILE_NAME)}@1.0.0`,
    locations: [location],
    evidenceSources: [{ evidence: 'installed', location }],
  });
  return report;
}

export const LARGE_PACKAGES = 5000;

/**
 * A copy of a real SCA report as another image (its own imageId and tag) with 5,000 extra npm packages
 * (`synthetic-pkg-00000` … `synthetic-pkg-04999`) in the application layer: the size of a large monorepo image.
 */
export function largeReport(reportJson: string): Report {
  const report = JSON.parse(reportJson) as Report;
  const template = report.packages.find((p) => p.class === 'lang');
  if (template === undefined) throw new Error('the SCA report has no language package to copy');
  report.image.imageId = `sha256:${sha256hex('tally-web-e2e-large-image')}`;
  report.image.repoTags = ['tally-test/large:latest'];
  report.image.repoDigests = [];
  report.image.manifestDigest = `sha256:${sha256hex('tally-web-e2e-large-manifest')}`;
  report.image.ref = 'tally-test/large:latest';
  for (let i = 0; i < LARGE_PACKAGES; i++) {
    const name = `synthetic-pkg-${String(i).padStart(5, '0')}`;
    const location = `/srv/monorepo/node_modules/${name}/package.json`;
    report.packages.push({
      ...template,
      id: sha256hex(`large|${name}`),
      name,
      version: `1.${i % 50}.0`,
      purl: `pkg:npm/${name}@1.${i % 50}.0`,
      locations: [location],
      evidenceSources: [{ evidence: 'installed', location }],
    });
  }
  return report;
}

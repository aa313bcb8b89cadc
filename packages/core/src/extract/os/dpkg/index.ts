import { fileText, MiB, type ExtractedPackage, type Extractor } from '../../extractor.js';
import { packageNameOfListFile, parseDpkgStatus, parseListFile } from './parse.js';

const STATUS = '/var/lib/dpkg/status';
const STATUS_D = '/var/lib/dpkg/status.d/';
const INFO = '/var/lib/dpkg/info/';

function isStatusDEntry(path: string): boolean {
  // distroless: one control paragraph per file; `<pkg>.md5sums` sit beside them
  return path.startsWith(STATUS_D) && path.indexOf('/', STATUS_D.length) < 0 && !path.endsWith('.md5sums');
}

export const dpkgExtractor: Extractor = {
  name: 'os/dpkg',
  version: 1,
  scanType: 'Static',
  input: 'file',
  maxFileSize: 64 * MiB,
  required: (path) => path === STATUS || isStatusDEntry(path),
  ownershipRequired: (path) => path.startsWith(INFO) && path.endsWith('.list') && path.indexOf('/', INFO.length) < 0,
  async extract(file, ctx) {
    const text = await fileText(file);
    if (file.path.endsWith('.list')) {
      const keep = ctx.isLanguageArtifact;
      if (!keep) return { packages: [] };
      const files = parseListFile(text, keep);
      return { packages: [], ownership: files.length > 0 ? [{ packageName: packageNameOfListFile(file.path), files }] : [] };
    }
    const { packages, problems } = parseDpkgStatus(text, { presenceMeansInstalled: file.path !== STATUS });
    for (const p of problems) ctx.issue(p);
    return {
      packages: packages.map(
        (p): ExtractedPackage => ({
          type: 'deb',
          name: p.name,
          version: p.version,
          evidence: 'installed',
          ...(p.architecture ? { arch: p.architecture } : {}),
          source: p.source,
          ...(p.maintainer ? { metadata: { maintainer: p.maintainer } } : {}),
        }),
      ),
    };
  },
};

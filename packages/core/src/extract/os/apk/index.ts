import { fileText, MiB, type ExtractedPackage, type FileExtractor, type FileOwnership } from '../../extractor.js';
import { licensesOf, parseApkInstalled, type ApkPackage } from './parse.js';

const INSTALLED = '/lib/apk/db/installed';
/** Where /usr-merged Alpine (apk-tools 3) keeps it. */
const USR_INSTALLED = '/usr/lib/apk/db/installed';

export const apkExtractor: FileExtractor = {
  name: 'os/apk',
  version: 1,
  scanType: 'Static',
  input: 'file',
  maxFileSize: 64 * MiB,
  required: (path) => path === INSTALLED || path === USR_INSTALLED,
  async extract(file, ctx) {
    const { packages, problems } = parseApkInstalled(await fileText(file), ctx.isLanguageArtifact);
    for (const p of problems) ctx.issue(p);
    const extracted = packages.map(toExtracted);
    if (!ctx.isLanguageArtifact) return { packages: extracted };
    const ownership: FileOwnership[] = packages.filter((p) => p.files.length > 0).map((p) => ({ packageName: p.name, files: p.files }));
    return { packages: extracted, ownership };
  },
};

function toExtracted(p: ApkPackage): ExtractedPackage {
  const licenses = p.license ? licensesOf(p.license) : [];
  return {
    type: 'apk',
    name: p.name,
    version: p.version,
    evidence: 'installed',
    ...(p.arch ? { arch: p.arch } : {}),
    // The origin is the aport the package was built from; secdb and OSV key their advisories on it.
    source: { name: p.origin ?? p.name, version: p.version },
    ...(licenses.length > 0 ? { licenses } : {}),
    ...(p.maintainer ? { metadata: { maintainer: p.maintainer } } : {}),
  };
}

import { fileText, GiB, KiB, type ExtractedPackage, type FileExtractor } from '../../extractor.js';
import { ArchiveWalker, bufferSource, DEFAULT_LIMITS, fileSource, sha1Of, sha1OfFile, type ArchiveLimits, type ByteSource } from './archive.js';
import { baseName, jdkDistribution, parseJavaRelease } from './parse.js';

/** Codes of the archive extensions (three lower-case letters packed in an int) for an allocation-free test. */
const EXTENSIONS: ReadonlySet<number> = new Set(
  ['jar', 'war', 'ear', 'par', 'sar', 'jpi', 'hpi', 'nar', 'kar'].map((e) => (e.charCodeAt(0) << 16) | (e.charCodeAt(1) << 8) | e.charCodeAt(2)),
);

export function isJavaArchivePath(path: string): boolean {
  const len = path.length;
  if (len < 5 || path.charCodeAt(len - 4) !== 46 /* . */ || path.charCodeAt(len - 5) === 47 /* / */) return false;
  const key = ((path.charCodeAt(len - 3) | 0x20) << 16) | ((path.charCodeAt(len - 2) | 0x20) << 8) | (path.charCodeAt(len - 1) | 0x20);
  return EXTENSIONS.has(key);
}

/**
 * A JDK/JRE home's `release` file: `/usr/lib/jvm/java-17-openjdk-amd64/release`, `/opt/java/openjdk/release`,
 * `/usr/local/openjdk-11/release`. Its directory must live under `/jvm/` or be named like a Java home.
 */
export function isJavaReleasePath(path: string): boolean {
  if (!path.endsWith('/release')) return false;
  if (path.indexOf('/jvm/') >= 0) return true;
  const end = path.length - 8;
  const start = path.lastIndexOf('/', end - 1) + 1;
  for (const word of JAVA_HOME_WORDS) {
    const at = path.indexOf(word, start);
    if (at >= 0 && at < end) return true;
  }
  return false;
}

const JAVA_HOME_WORDS = ['java', 'jdk', 'jre', 'JDK', 'JRE', 'Java', 'corretto', 'zulu', 'temurin', 'graalvm'];

/** The `release` file is a few KiB; archives are bounded by the walker's own limits. */
const MAX_RELEASE_SIZE = 64 * KiB;

export function createJavaArchiveExtractor(limits: ArchiveLimits = DEFAULT_LIMITS): FileExtractor {
  return {
    name: 'lang/java-archive',
    version: 1,
    scanType: 'SCA',
    input: 'file',
    maxFileSize: 2 * GiB,
    required: (path) => isJavaArchivePath(path) || isJavaReleasePath(path),
    async extract(file, ctx) {
      if (!isJavaArchivePath(file.path)) {
        // required() let it through, so it is a JDK home's release file
        if (file.size > MAX_RELEASE_SIZE) return { packages: [] };
        return { packages: releasePackages(await fileText(file)) };
      }
      let source: ByteSource;
      let sha1: string;
      if (file.content.kind === 'buffer') {
        source = bufferSource(file.content.data);
        sha1 = sha1Of(file.content.data);
      } else {
        // spilled: random access by offset, never the whole file in memory
        source = await fileSource(file.content.path, file.size);
        sha1 = await sha1OfFile(file.content.path);
      }
      const walker = new ArchiveWalker(ctx, limits);
      try {
        await walker.walkTop(source, baseName(file.path), sha1);
      } finally {
        await source.close();
      }
      return { packages: walker.packages };
    },
  };
}

/**
 * The JDK as a runtime package. Every vendor build (Debian, Temurin, Corretto, Zulu, ...) is OpenJDK, so the name
 * is always `openjdk`; the vendor and the distribution it points at go to `vendor` and metadata.
 */
export function releasePackages(text: string): ExtractedPackage[] {
  const r = parseJavaRelease(text);
  if (!r) return [];
  const metadata: Record<string, string> = { role: 'runtime' };
  if (r.implementor) metadata['implementor'] = r.implementor;
  const distribution = jdkDistribution(r.implementor, r.implementorVersion);
  if (distribution) metadata['distribution'] = distribution;
  if (r.runtimeVersion) metadata['runtimeVersion'] = r.runtimeVersion;
  if (r.implementorVersion) metadata['implementorVersion'] = r.implementorVersion;
  if (r.imageType) metadata['imageType'] = r.imageType;
  if (r.jvmVariant) metadata['jvmVariant'] = r.jvmVariant;
  return [
    {
      type: 'generic',
      name: 'openjdk',
      version: r.javaVersion,
      evidence: 'installed',
      identifiedBy: 'release',
      ...(r.implementor ? { vendor: r.implementor } : {}),
      metadata,
    },
  ];
}

export const javaArchiveExtractor: FileExtractor = createJavaArchiveExtractor();

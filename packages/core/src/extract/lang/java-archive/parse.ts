import { knownGroupOf } from './known-groups.js';

/**
 * Pure parsers for Java artifacts: META-INF/MANIFEST.MF, META-INF/maven/<g>/<a>/pom.properties, archive file
 * names, Bundle-License, and the JDK `release` file; plus `identify()`, which turns what one archive holds into
 * Maven identities without letting shaded content rename the archive.
 */

/** The main section of a manifest, header names lower-cased. */
export type Manifest = ReadonlyMap<string, string>;

/**
 * Main section only (up to the first blank line). Lines are at most 72 bytes: a line starting with one space
 * continues the previous value. CRLF, LF and CR line ends are all legal.
 */
export function parseManifest(text: string): Map<string, string> {
  const out = new Map<string, string>();
  let key: string | null = null;
  let value = '';
  const flush = (): void => {
    if (key !== null && !out.has(key)) out.set(key, value.trim());
    key = null;
  };
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === '') break; // end of the main section
    if (line.charCodeAt(0) === 32) {
      if (key !== null) value += line.slice(1);
      continue;
    }
    flush();
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    key = line.slice(0, colon).trim().toLowerCase();
    value = line.slice(colon + 1);
  }
  flush();
  return out;
}

/** java.util.Properties format: `key=value`, `key: value` or `key value`; `#`/`!` comments; `\` continuations and escapes. */
export function parseProperties(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const lines = text.split(/\r\n|\r|\n/);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i]!.replace(/^[ \t\f]+/, '');
    if (line === '' || line[0] === '#' || line[0] === '!') continue;
    while (endsWithOddBackslashes(line) && i + 1 < lines.length) {
      line = line.slice(0, -1) + lines[++i]!.replace(/^[ \t\f]+/, '');
    }
    const m = /^((?:\\.|[^=:\s\\])*)[ \t\f]*[=:]?[ \t\f]*(.*)$/.exec(line);
    if (!m) continue;
    const key = unescapeProperty(m[1]!);
    if (!out.has(key)) out.set(key, unescapeProperty(m[2]!).trim());
  }
  return out;
}

function endsWithOddBackslashes(s: string): boolean {
  let n = 0;
  for (let i = s.length - 1; i >= 0 && s[i] === '\\'; i--) n++;
  return n % 2 === 1;
}

function unescapeProperty(s: string): string {
  if (s.indexOf('\\') < 0) return s;
  return s.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, e: string) => {
    if (e.length === 5) return String.fromCharCode(parseInt(e.slice(1), 16));
    return e === 't' ? '\t' : e === 'n' ? '\n' : e === 'r' ? '\r' : e === 'f' ? '\f' : e;
  });
}

/** Maven coordinates allow letters, digits, `.`, `-`, `_` (and the odd `+` in old group ids). */
const COORD = /^[A-Za-z0-9_][A-Za-z0-9_.+-]{0,199}$/;
/** A version: no whitespace, no unresolved `${...}`, starts with a letter or digit. */
const VERSION = /^[A-Za-z0-9][\x21-\x7e]{0,127}$/;

export function validCoordinate(s: string): boolean {
  return COORD.test(s);
}

export function validVersion(s: string): boolean {
  return VERSION.test(s) && s.indexOf('${') < 0;
}

export interface PomProperties {
  readonly groupId: string;
  readonly artifactId: string;
  readonly version: string;
}

/** Is this entry name `META-INF/maven/<group>/<artifact>/pom.properties`? Returns [group, artifact] or null. */
export function pomPropertiesPath(name: string): [string, string] | null {
  const prefix = 'META-INF/maven/';
  const suffix = '/pom.properties';
  if (!name.startsWith(prefix) || !name.endsWith(suffix) || name.length <= prefix.length + suffix.length) return null;
  const middle = name.slice(prefix.length, name.length - suffix.length);
  const slash = middle.indexOf('/');
  if (slash <= 0 || slash === middle.length - 1 || middle.indexOf('/', slash + 1) >= 0) return null;
  return [middle.slice(0, slash), middle.slice(slash + 1)];
}

/**
 * One pom.properties. The file's own groupId/artifactId win over the path (they are what Maven wrote); the path
 * fills in when they are missing. Returns an error message when no usable identity is there.
 */
export function parsePomProperties(text: string, pathGroup: string, pathArtifact: string): PomProperties | string {
  const p = parseProperties(text);
  const groupId = p.get('groupId') || pathGroup;
  const artifactId = p.get('artifactId') || pathArtifact;
  const version = p.get('version') ?? '';
  if (!validCoordinate(groupId) || !validCoordinate(artifactId)) return `invalid coordinates "${clip(groupId)}:${clip(artifactId)}"`;
  if (!validVersion(version)) return version === '' ? `no version for ${groupId}:${artifactId}` : `invalid version "${clip(version)}" for ${groupId}:${artifactId}`;
  return { groupId, artifactId, version };
}

function clip(s: string): string {
  return s.length > 60 ? `${s.slice(0, 60)}…` : s;
}

export interface FileNameIdentity {
  readonly artifact: string;
  readonly version: string | null;
}

const ARCHIVE_EXTENSIONS = ['jar', 'war', 'ear', 'par', 'sar', 'jpi', 'hpi', 'nar', 'kar'] as const;

/** The archive extension of a name (lower case), or null. */
export function archiveExtension(name: string): string | null {
  const dot = name.lastIndexOf('.');
  if (dot < 0 || name.length - dot !== 4) return null;
  const ext = name.slice(dot + 1).toLowerCase();
  return (ARCHIVE_EXTENSIONS as readonly string[]).includes(ext) ? ext : null;
}

export function baseName(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash >= 0 ? path.slice(slash + 1) : path;
}

/** Maven's timestamped snapshot suffix: `-20230101.123456-1`. */
const SNAPSHOT_STAMP = /-(\d{8}\.\d{6}-\d+)$/;

/**
 * `commons-lang3-3.12.0.jar` → commons-lang3 / 3.12.0; `log4j-1.2-api-2.19.0.jar` → log4j-1.2-api / 2.19.0;
 * `guava-31.1-jre.jar` → guava / 31.1-jre; `app.jar` → app / null. The version starts at the last `-<digit>`
 * (so artifact names that contain `-1.2-` survive), except that a timestamped snapshot suffix is kept whole.
 */
export function parseArchiveFileName(fileName: string): FileNameIdentity | null {
  const ext = archiveExtension(fileName);
  let stem = ext ? fileName.slice(0, -4) : fileName;
  let stamp = '';
  const snap = SNAPSHOT_STAMP.exec(stem);
  if (snap) {
    stamp = snap[0];
    stem = stem.slice(0, snap.index);
  }
  let cut = -1;
  for (let i = stem.length - 2; i > 0; i--) {
    const c = stem.charCodeAt(i + 1);
    if (stem.charCodeAt(i) === 45 /* - */ && c >= 48 && c <= 57) {
      cut = i;
      break;
    }
  }
  const artifact = cut > 0 ? stem.slice(0, cut) : stem;
  const version = cut > 0 ? stem.slice(cut + 1) + stamp : stamp ? stamp.slice(1) : null;
  if (!validCoordinate(artifact)) return null;
  if (version !== null && !validVersion(version)) return { artifact, version: null };
  return { artifact, version };
}

/**
 * Bundle-License: a comma-separated list of licence names or URLs, each optionally followed by `;attr=value`
 * (OSGi Core §3.2.1.10). People also write one name containing commas ("The Apache License, Version 2.0"), so the
 * list is split only when every part looks like a URL or an id. Well-known URLs and names become SPDX ids;
 * anything else is kept as written.
 */
export function parseBundleLicense(value: string): string[] {
  const clauses = splitOutsideQuotes(value, ',').map(stripAttributes).filter((c) => c !== '');
  const parts = clauses.every((c) => c.indexOf(' ') < 0) ? clauses : [stripAttributes(value)];
  const out: string[] = [];
  for (const name of parts) {
    if (name === '' || name === '<<EXTERNAL>>') continue;
    const id = licenseId(name);
    if (!out.includes(id)) out.push(id);
  }
  return out;
}

function stripAttributes(clause: string): string {
  return (splitOutsideQuotes(clause, ';')[0] ?? '').trim().replace(/^"(.*)"$/, '$1').trim();
}

function licenseId(name: string): string {
  const url = normaliseUrl(name);
  const known = LICENSE_URLS.get(url) ?? LICENSE_NAMES.get(name.toLowerCase().replace(/[\s,-]+/g, ' ').trim());
  if (known) return known;
  // opensource.org/licenses/BSD-2-Clause, spdx.org/licenses/MIT.html: the last segment is the SPDX id
  const m = /^https?:\/\/(?:www\.)?(?:opensource|spdx)\.org\/licenses\/([A-Za-z0-9.+-]+?)(?:\.html|\.php)?\/?$/.exec(name);
  if (m) return m[1]!;
  return name;
}

function splitOutsideQuotes(s: string, sep: string): string[] {
  const parts: string[] = [];
  let quoted = false;
  let start = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === '"') quoted = !quoted;
    else if (c === sep && !quoted) {
      parts.push(s.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(s.slice(start));
  return parts;
}

function normaliseUrl(s: string): string {
  return s
    .toLowerCase()
    .replace(/^https?:\/\//, '')
    .replace(/^www\./, '')
    .replace(/\.(txt|html|php)$/, '')
    .replace(/\/+$/, '');
}

const LICENSE_NAMES: ReadonlyMap<string, string> = new Map([
  ['the apache license version 2.0', 'Apache-2.0'],
  ['apache license version 2.0', 'Apache-2.0'],
  ['the apache software license version 2.0', 'Apache-2.0'],
  ['apache software license version 2.0', 'Apache-2.0'],
  ['apache license 2.0', 'Apache-2.0'],
  ['apache 2.0', 'Apache-2.0'],
  ['apache 2', 'Apache-2.0'],
  ['mit license', 'MIT'],
  ['the mit license', 'MIT'],
  ['eclipse public license v 2.0', 'EPL-2.0'],
  ['eclipse public license v 1.0', 'EPL-1.0'],
  ['eclipse public license 2.0', 'EPL-2.0'],
  ['eclipse public license 1.0', 'EPL-1.0'],
]);

const LICENSE_URLS: ReadonlyMap<string, string> = new Map([
  ['apache.org/licenses/license-2.0', 'Apache-2.0'],
  ['opensource.org/licenses/apache-2.0', 'Apache-2.0'],
  ['apache-2.0', 'Apache-2.0'],
  ['opensource.org/licenses/mit', 'MIT'],
  ['opensource.org/licenses/mit-license', 'MIT'],
  ['eclipse.org/legal/epl-v10', 'EPL-1.0'],
  ['eclipse.org/legal/epl-2.0', 'EPL-2.0'],
  ['eclipse.org/legal/epl-v20', 'EPL-2.0'],
  ['opensource.org/licenses/bsd-3-clause', 'BSD-3-Clause'],
  ['gnu.org/licenses/lgpl-2.1', 'LGPL-2.1-only'],
  ['gnu.org/licenses/old-licenses/lgpl-2.1', 'LGPL-2.1-only'],
]);

// ---------------------------------------------------------------------------------------------------------------
// Identity

export type IdentifiedBy = 'pom.properties' | 'manifest' | 'filename';

export interface ArchiveIdentity {
  /**
   * `maven` with a known group; `generic` (name = the bare artifact id, metadata.confidence 'low') when no group
   * is known: a Maven purl needs its namespace, and an invented group would match the wrong advisories.
   */
  readonly type: 'maven' | 'generic';
  /** `group:artifact` for maven, the artifact id for generic. */
  readonly name: string;
  readonly version: string;
  readonly identifiedBy: IdentifiedBy;
  /** True for the archive's own identity (it gets the sha1 and the licences); false for embedded/shaded ones. */
  readonly own: boolean;
  readonly licenses: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
}

export interface ArchiveFacts {
  /** The archive's file name (basename of its path or of its entry name). */
  readonly fileName: string;
  readonly manifest: Manifest | null;
  readonly poms: readonly PomProperties[];
}

/** Reverse-DNS looking: at least two dot-separated lower-case segments. */
const GROUP_LIKE = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)+$/;
/** An artifact id as people write them: lower case, no spaces, no dots-only OSGi names. */
const ARTIFACT_LIKE = /^[a-z0-9][a-z0-9_.-]*[a-z0-9]$|^[a-z0-9]$/;

/** A Java package name (org.apache.commons.beanutils), which titles sometimes carry: not an artifact id. */
const PACKAGE_LIKE = /^[a-z]+\.[a-z0-9]+\.[a-z0-9.]+$/;

function artifactLike(s: string | undefined): string | null {
  return s !== undefined && ARTIFACT_LIKE.test(s) && !PACKAGE_LIKE.test(s) && s.length <= 100 ? s : null;
}

interface GroupGuess {
  readonly group: string;
  readonly source: string;
  readonly low: boolean;
}

/**
 * The group of an archive identified without pom.properties. Never derived from class, package or OSGi bundle
 * names (shaded code carries other projects' packages, and `org.objectweb.asm` is not asm's group): only from the
 * curated table, or from Implementation-Vendor-Id, where Maven's archiver once wrote the groupId (a guess: some
 * parents put a vendor prefix there, which is why bare `org.apache` is refused).
 */
export function inferGroup(artifact: string, version: string | null, manifest: Manifest | null): GroupGuess | null {
  const known = knownGroupOf(artifact, version);
  if (known) return { group: known, source: 'known-artifact', low: false };
  const vendorId = manifest?.get('implementation-vendor-id');
  if (vendorId && GROUP_LIKE.test(vendorId) && !VENDOR_PREFIXES.has(vendorId)) return { group: vendorId, source: 'Implementation-Vendor-Id', low: true };
  return null;
}

/** Implementation-Vendor-Id values that name a vendor, not a Maven group. */
const VENDOR_PREFIXES: ReadonlySet<string> = new Set(['org.apache', 'com.sun', 'org.eclipse', 'com.google', 'org.jboss']);

/** The manifest's version of the archive's own project. */
function manifestVersion(m: Manifest): string | null {
  for (const field of ['implementation-version', 'bundle-version'] as const) {
    const v = m.get(field);
    if (v !== undefined && validVersion(v)) return v;
  }
  return null;
}

/** The JDK's own jars (jrt-fs.jar) describe the platform, which the `release` file already reports. */
function isPlatformManifest(m: Manifest): boolean {
  return m.get('implementation-title') === 'Java Runtime Environment' || m.get('specification-title') === 'Java Platform API Specification';
}

function pomMatchesManifest(p: PomProperties, m: Manifest): boolean {
  const version = manifestVersion(m);
  if (version !== null && version !== p.version && m.get('implementation-version') !== undefined) return false;
  const ga = `${p.groupId}.${p.artifactId}`;
  const ids = [m.get('bundle-symbolicname')?.split(';')[0]?.trim(), m.get('automatic-module-name')];
  return m.get('implementation-title') === p.artifactId || ids.some((id) => id === p.artifactId || id === ga);
}

/**
 * Which pom.properties (if any) is the archive's own. Shaded/fat jars carry their dependencies' pom.properties;
 * the archive's own one agrees with its file name or its manifest, and only a lone pom.properties in an archive
 * whose name carries no version is taken without such agreement.
 */
export function ownPom(facts: ArchiveFacts): PomProperties | null {
  const { poms, manifest } = facts;
  if (poms.length === 0) return null;
  const stem = fileStem(facts.fileName);
  // the whole name, with or without the version (and maybe a classifier): log4j-1.2-api.jar, guava-31.1-jre.jar
  const exact =
    poms.find((p) => stem === p.artifactId) ??
    poms.find((p) => stem === `${p.artifactId}-${p.version}` || stem.startsWith(`${p.artifactId}-${p.version}-`));
  if (exact) return exact;
  const file = parseArchiveFileName(facts.fileName);
  if (file) {
    const same = poms.filter((p) => p.artifactId === file.artifact);
    if (same.length > 0) return same.find((p) => p.version === file.version) ?? same[0]!;
    // renamed or classified: wagon-http-shaded-3.5.3.jar holds wagon-http 3.5.3
    const prefixed = poms.find((p) => file.version !== null && p.version === file.version && file.artifact.startsWith(`${p.artifactId}-`));
    if (prefixed) return prefixed;
  }
  if (manifest) {
    const byManifest = poms.filter((p) => pomMatchesManifest(p, manifest));
    if (byManifest.length === 1) return byManifest[0]!;
  }
  if (poms.length === 1 && (file === null || file.version === null)) {
    const only = poms[0]!;
    const mv = manifest ? manifestVersion(manifest) : null;
    if (mv === null || mv === only.version) return only;
  }
  return null;
}

/** Letters and digits continue a version ("1.2" is not a prefix of "1.20"); separators end it. */
function isVersionChar(c: number): boolean {
  return (c >= 48 && c <= 57) || ((c | 0x20) >= 97 && (c | 0x20) <= 122);
}

function fileStem(fileName: string): string {
  return archiveExtension(fileName) ? fileName.slice(0, -4) : fileName;
}

/**
 * Everything one archive says about what it is: one identity per pom.properties, plus the archive's own identity
 * from its manifest or file name when none of the pom.properties is its own.
 */
export function identify(facts: ArchiveFacts): ArchiveIdentity[] {
  const { manifest } = facts;
  const licenses = manifest?.get('bundle-license') ? parseBundleLicense(manifest.get('bundle-license')!) : [];
  let own = ownPom(facts);
  let self = own ? null : selfIdentity(facts);
  if (self) {
    // the manifest or file name may name one of the pom.properties after all
    const s = self;
    own = facts.poms.find((p) => `${p.groupId}:${p.artifactId}` === s.name && p.version === s.version) ?? null;
    if (own) self = null;
  }
  const hasOwn = own !== null || self !== null;
  const out: ArchiveIdentity[] = [];
  const seen = new Set<string>();
  for (const p of facts.poms) {
    const key = `${p.groupId}:${p.artifactId}@${p.version}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const isOwn = p === own;
    out.push({
      type: 'maven',
      name: `${p.groupId}:${p.artifactId}`,
      version: p.version,
      identifiedBy: 'pom.properties',
      own: isOwn,
      licenses: isOwn ? licenses : [],
      // embedded in an archive that is something else: a shaded copy
      metadata: isOwn || !hasOwn ? {} : { shaded: 'true' },
    });
  }
  if (self) out.push({ ...self, licenses });
  return out;
}

function selfIdentity(facts: ArchiveFacts): Omit<ArchiveIdentity, 'licenses'> | null {
  const { manifest } = facts;
  if (manifest && isPlatformManifest(manifest)) return null;
  const file = parseArchiveFileName(facts.fileName);
  const mv = manifest ? manifestVersion(manifest) : null;
  if (manifest && mv !== null) {
    const stem = fileStem(facts.fileName);
    if (file && file.version !== null) {
      if (mv.startsWith(file.version) && !isVersionChar(mv.charCodeAt(file.version.length))) {
        // kotlin-stdlib-1.8.21.jar says "1.8.21-release-380(1.8.21)", org.eclipse.osgi-3.19.0.jar "3.19.0.v2024…":
        // the file name carries the version Maven knows
        return withGroup(file.artifact, file.version, 'manifest', manifest);
      }
      // a classifier after the version: sisu-guice-3.1.0-no_aop.jar
      if (file.version.startsWith(`${mv}-`)) return withGroup(file.artifact, mv, 'manifest', manifest);
    }
    if (stem.endsWith(`-${mv}`) && validCoordinate(stem.slice(0, -mv.length - 1))) {
      return withGroup(stem.slice(0, -mv.length - 1), mv, 'manifest', manifest);
    }
    // The name disagrees with the manifest (spring3-core-3.x.jar holding spring-core 4.3.30): an id-like
    // Implementation-Title names it; without one, a versioned file name is trusted over a bare manifest version.
    const title = artifactLike(manifest.get('implementation-title'));
    if (title) return withGroup(title, mv, 'manifest', manifest);
    if (!file?.version && validCoordinate(stem)) return withGroup(stem, mv, 'manifest', manifest);
  }
  if (file?.version) return withGroup(file.artifact, file.version, 'filename', manifest);
  return null;
}

function withGroup(artifact: string, version: string, identifiedBy: IdentifiedBy, manifest: Manifest | null): Omit<ArchiveIdentity, 'licenses'> {
  const g = inferGroup(artifact, version, manifest);
  if (!g) return { type: 'generic', name: artifact, version, identifiedBy, own: true, metadata: { confidence: 'low', groupSource: 'none', ecosystem: 'maven' } };
  return {
    type: 'maven',
    name: `${g.group}:${artifact}`,
    version,
    identifiedBy,
    own: true,
    metadata: g.low ? { confidence: 'low', groupSource: g.source } : { groupSource: g.source },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// JDK `release`

export interface JavaRelease {
  readonly implementor: string | null;
  readonly javaVersion: string;
  readonly runtimeVersion: string | null;
  readonly implementorVersion: string | null;
  readonly imageType: string | null;
  readonly jvmVariant: string | null;
}

/** `KEY="value"` lines (shell syntax, as the JDK build writes them). Null when JAVA_VERSION is missing. */
export function parseJavaRelease(text: string): JavaRelease | null {
  const vars = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const m = /^\s*([A-Z][A-Z0-9_]*)=(.*)$/.exec(raw);
    if (!m) continue;
    let v = m[2]!.trim();
    if (v.length >= 2 && (v[0] === '"' || v[0] === "'") && v.endsWith(v[0])) v = v.slice(1, -1);
    vars.set(m[1]!, v);
  }
  const get = (k: string): string | null => {
    const v = vars.get(k);
    return v !== undefined && v !== '' ? v : null;
  };
  const version = get('JAVA_VERSION') ?? get('JAVA_RUNTIME_VERSION');
  if (version === null || !validVersion(version)) return null;
  return {
    implementor: get('IMPLEMENTOR'),
    javaVersion: version,
    runtimeVersion: get('JAVA_RUNTIME_VERSION'),
    implementorVersion: get('IMPLEMENTOR_VERSION'),
    imageType: get('IMAGE_TYPE'),
    jvmVariant: get('JVM_VARIANT'),
  };
}

/** Which OpenJDK build a vendor string names (metadata only: every one of them is reported as `openjdk`). */
export function jdkDistribution(implementor: string | null, implementorVersion: string | null): string | null {
  const s = `${implementor ?? ''} ${implementorVersion ?? ''}`.toLowerCase();
  const table: ReadonlyArray<readonly [string, string]> = [
    ['temurin', 'temurin'],
    ['adoptium', 'temurin'],
    ['adoptopenjdk', 'adoptopenjdk'],
    ['corretto', 'corretto'],
    ['amazon', 'corretto'],
    ['zulu', 'zulu'],
    ['azul', 'zulu'],
    ['liberica', 'liberica'],
    ['bellsoft', 'liberica'],
    ['semeru', 'semeru'],
    ['ibm', 'semeru'],
    ['microsoft', 'microsoft'],
    ['sapmachine', 'sapmachine'],
    ['sap se', 'sapmachine'],
    ['graalvm', 'graalvm'],
    ['red hat', 'redhat'],
    ['debian', 'debian'],
    ['ubuntu', 'ubuntu'],
    ['alpine', 'alpine'],
    ['oracle', 'oracle'],
  ];
  for (const [needle, name] of table) if (s.includes(needle)) return name;
  return null;
}

/**
 * SBOM input for `sbom:FILE` targets: CycloneDX 1.4–1.6 JSON and SPDX 2.3 (and 2.2) JSON → Tally packages, the
 * distro and what the document says about the image, so the matcher can treat an SBOM like a scanned image.
 *
 * What a package becomes:
 * - name, version and type come from the purl (name canonical per ecosystem: Maven `group:artifact`, npm
 *   `@scope/name`, Go module path); the document's own name is kept when it is the same name in another case
 *   or spelling (PyPI normalisation); rpm's `epoch` qualifier goes back into the version, as Tally reports it.
 * - Tally's own `tally:*` properties (sbom/properties.ts), when present, give back layer, scan type, class,
 *   locations, evidence, source package, owner and metadata, so the package id (a hash of type, name, version,
 *   arch and first location) is the one the image scan produced.
 * - Otherwise: OS types are class os / scan type Static, others lang / SCA; layer 0 (createdBy null); location
 *   `sbom`; evidence `declared` (the SBOM says so; nobody looked at the files). A source package is taken from
 *   Trivy's `aquasecurity:trivy:Src*` properties or the purl's `upstream` qualifier (Syft), as OS matching by
 *   source package needs it.
 * - Entries without a purl, with an unparseable purl, or with a purl type Tally does not match are skipped, and
 *   the reason is reported.
 *
 * The input is untrusted: its size is capped before it is read, its structure is checked as it is walked (wrong
 * types are skipped, not trusted), nesting and entry counts are bounded, and layer indexes are range-checked.
 */
import { open } from 'node:fs/promises';
import { PackageURL } from 'packageurl-js';
import { packageId } from '../inventory.js';
import type { Distro } from '../distro/detect.js';
import { TallyError } from '../model/errors.js';
import { OS_PACKAGE_TYPES, packageClassOf, type LayerRef, type Package, type PackageType, type ScanType } from '../model/package.js';
import type { ReportOs } from '../model/report.js';
import type { Platform } from '../model/image.js';
import { hintsFromProperties, IMAGE_PROP, isPackageType, SPDX_ANNOTATION_PREFIX, type PackageHints, type Property } from './properties.js';

export interface SbomReadLimits {
  /** Bigger documents are refused before they are read (JSON.parse needs several times the text in memory). */
  readonly maxBytes: number;
  /** Components/packages looked at, nested ones included. */
  readonly maxEntries: number;
  /** CycloneDX components nest; deeper levels are not walked. */
  readonly maxDepth: number;
  /** Properties read per entry (a hostile entry could carry millions). */
  readonly maxPropertiesPerEntry: number;
}

export const DEFAULT_SBOM_LIMITS: SbomReadLimits = { maxBytes: 128 * 1024 * 1024, maxEntries: 500_000, maxDepth: 32, maxPropertiesPerEntry: 4096 };

export interface SkippedEntry {
  readonly name: string;
  readonly purl: string | null;
  readonly reason: string;
}

/** What the document says about the image it describes; null where it does not say. */
export interface SbomImageFacts {
  readonly name: string | null;
  readonly ref: string | null;
  readonly imageId: string | null;
  readonly manifestDigest: string | null;
  readonly repoTags: readonly string[];
  readonly repoDigests: readonly string[];
  readonly platform: Platform | null;
  readonly created: string | null;
  readonly purl: string | null;
}

export interface SbomDocument {
  readonly format: 'cyclonedx' | 'spdx';
  /** "1.6" for CycloneDX, "SPDX-2.3" for SPDX. */
  readonly specVersion: string;
  readonly packages: readonly Package[];
  /** The report's `image.os`. */
  readonly os: ReportOs | null;
  /** The same, as the matcher takes it (`detectedBy: "sbom"`, no codename). */
  readonly distro: Distro | null;
  readonly image: SbomImageFacts;
  /** Layers 0..highest index any package names; facts the document did not give are null. */
  readonly layers: readonly LayerRef[];
  readonly scanTypes: readonly ScanType[];
  /** The first 1000 skipped entries; `skippedCount` has them all. */
  readonly skipped: readonly SkippedEntry[];
  readonly skippedCount: number;
  /** Problems with the document that did not stop the read (limits hit, malformed parts). */
  readonly warnings: readonly string[];
}

const MAX_SKIPPED_LISTED = 1000;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type JsonObject = { [key: string]: Json };

function isObject(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
function str(v: Json | undefined): string | null {
  return typeof v === 'string' ? v : null;
}
function arr(v: Json | undefined): Json[] {
  return Array.isArray(v) ? v : [];
}

function fail(message: string, cause?: unknown): never {
  throw new TallyError('UNKNOWN_FORMAT', `sbom: ${message}`, cause === undefined ? undefined : { cause });
}

/** Read a file with the size cap enforced on the bytes actually read (the file may grow after a stat). */
export async function readSbomFile(path: string, limits: Partial<SbomReadLimits> = {}): Promise<SbomDocument> {
  const lim = { ...DEFAULT_SBOM_LIMITS, ...limits };
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new TallyError('TARGET_NOT_FOUND', `sbom: ${path}: no such file`, { cause: err });
    throw new TallyError('TARGET_UNREADABLE', `sbom: ${path}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new TallyError('TARGET_UNREADABLE', `sbom: ${path}: not a regular file`);
    if (st.size > lim.maxBytes) throw new TallyError('TARGET_UNREADABLE', `sbom: ${path}: ${st.size} bytes is over the ${lim.maxBytes}-byte limit`);
    const buf = Buffer.alloc(Math.min(st.size, lim.maxBytes) + 1);
    let total = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buf, total, buf.length - total, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      if (total > lim.maxBytes) throw new TallyError('TARGET_UNREADABLE', `sbom: ${path}: over the ${lim.maxBytes}-byte limit`);
      if (total === buf.length) break;
    }
    return parseSbom(buf.subarray(0, total), lim);
  } finally {
    await handle.close();
  }
}

/** Parse an SBOM held in memory (CycloneDX or SPDX JSON, detected from its content). */
export function parseSbom(input: string | Uint8Array, limits: Partial<SbomReadLimits> = {}): SbomDocument {
  const lim = { ...DEFAULT_SBOM_LIMITS, ...limits };
  const size = typeof input === 'string' ? Buffer.byteLength(input) : input.byteLength;
  if (size > lim.maxBytes) throw new TallyError('TARGET_UNREADABLE', `sbom: ${size} bytes is over the ${lim.maxBytes}-byte limit`);
  const text = (typeof input === 'string' ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength).toString('utf8')).replace(/^\uFEFF/, '');
  let doc: Json;
  try {
    doc = JSON.parse(text) as Json;
  } catch (err) {
    fail(`not JSON (${(err as Error).message})`, err);
  }
  if (!isObject(doc)) fail('the document is not a JSON object');
  if (doc['bomFormat'] === 'CycloneDX') return readCycloneDx(doc, lim);
  if (typeof doc['spdxVersion'] === 'string') return readSpdx(doc, lim);
  fail('neither CycloneDX (bomFormat) nor SPDX (spdxVersion) JSON');
}

// ---------------------------------------------------------------------------------------------------------------

/** Collects packages, skipped entries and layers for one document. */
class Collector {
  readonly packages = new Map<string, Package>();
  readonly skipped: SkippedEntry[] = [];
  skippedCount = 0;
  readonly warnings: string[] = [];
  readonly distros: { family: string; version: string }[] = [];
  readonly layers = new Map<number, LayerRef>();

  skip(name: string, purl: string | null, reason: string): void {
    this.skippedCount++;
    if (this.skipped.length < MAX_SKIPPED_LISTED) this.skipped.push({ name: name.slice(0, 500), purl: purl?.slice(0, 2000) ?? null, reason });
  }

  warn(message: string): void {
    if (!this.warnings.includes(message)) this.warnings.push(message);
  }

  /** One SBOM entry → a package, or a skip with the reason. */
  add(entry: { name: string; version: string | null; purl: string | null; licenses: string[]; props: Property[]; vendor: string | null }): void {
    if (entry.purl === null || entry.purl.trim() === '') return this.skip(entry.name, null, 'no purl');
    const parsed = parsePurl(entry.purl);
    if (typeof parsed === 'string') return this.skip(entry.name, entry.purl, parsed);
    if (!isPackageType(parsed.type)) return this.skip(entry.name, entry.purl, `purl type "${parsed.type}" is not one Tally matches`);
    const type: PackageType = parsed.type;
    const canonical = canonicalName(type, parsed);
    if (canonical === '') return this.skip(entry.name, entry.purl, 'purl without a name');
    const name = sameName(type, entry.name, canonical) ? entry.name : canonical;
    const version = purlVersion(type, parsed) ?? entry.version ?? '';

    const hints: PackageHints = hintsFromProperties(entry.props);
    const foreignSource = hints.source ?? trivySource(entry.props) ?? upstreamSource(type, parsed, version);
    const distro = parsed.qualifiers?.['distro'];
    if (distro !== undefined && OS_PACKAGE_TYPES.has(type)) {
      const d = parseDistroQualifier(distro, parsed.namespace);
      if (d) this.distros.push(d);
    }
    const cls = packageClassOf(type);
    const layer = hints.layer ?? { index: 0, diffId: null, createdBy: null };
    const locations = hints.locations ?? ['sbom'];
    const arch = hints.arch ?? (OS_PACKAGE_TYPES.has(type) ? parsed.qualifiers?.['arch'] : undefined);
    const licenses = hints.licenses ?? entry.licenses;
    const vendor = hints.vendor ?? entry.vendor ?? undefined;
    const pkg: Package = {
      id: packageId(type, name, version, arch ?? '', locations[0]!),
      name,
      version,
      type,
      purl: parsed.canonical,
      // the class follows from the type everywhere else in Tally; a property cannot contradict it
      class: cls,
      scanType: hints.scanType && (hints.scanType === 'SCA') === (cls === 'lang') ? hints.scanType : cls === 'os' ? 'Static' : 'SCA',
      ...(foreignSource && cls === 'os' ? { source: foreignSource } : {}),
      ...(arch !== undefined ? { arch } : {}),
      layer,
      locations,
      evidence: hints.evidence ?? 'declared',
      ...(hints.evidenceSources ? { evidenceSources: hints.evidenceSources } : {}),
      ...(hints.identifiedBy !== undefined ? { identifiedBy: hints.identifiedBy } : {}),
      ...(licenses.length > 0 ? { licenses } : {}),
      ...(vendor !== undefined ? { vendor } : {}),
      ...(hints.ownedBy && cls === 'lang' ? { ownedBy: hints.ownedBy } : {}),
      ...(hints.metadata ? { metadata: hints.metadata } : {}),
    };
    if (this.packages.has(pkg.id)) return;
    this.packages.set(pkg.id, pkg);
    if (!this.layers.has(layer.index)) this.layers.set(layer.index, layer);
  }

  layerList(): LayerRef[] {
    const max = Math.max(-1, ...this.layers.keys());
    return Array.from({ length: max + 1 }, (_, i) => this.layers.get(i) ?? { index: i, diffId: null, createdBy: null });
  }
}

interface ParsedPurl {
  readonly type: string;
  readonly namespace: string | undefined;
  readonly name: string;
  readonly version: string | undefined;
  readonly qualifiers: Readonly<Record<string, string>> | undefined;
  /** The purl as packageurl-js writes it (normalised), or the input when only the lenient parse worked. */
  readonly canonical: string;
}

function parsePurl(purl: string): ParsedPurl | string {
  if (purl.length > 4096) return 'purl longer than 4096 characters';
  try {
    const p = PackageURL.fromString(purl);
    return { type: p.type, namespace: p.namespace, name: p.name, version: p.version, qualifiers: p.qualifiers, canonical: p.toString() };
  } catch {
    // packageurl-js 2.0.1's golang validator throws a ReferenceError for "v"-versions that are not semver
    // ("v1"): its plain parser still splits the purl, which is all Tally needs
  }
  try {
    const [type, namespace, name, version, qualifiers] = PackageURL.parseString(purl);
    if (type === undefined || name === undefined) return 'unparseable purl';
    return { type: type.toLowerCase(), namespace, name, version, qualifiers, canonical: purl };
  } catch (err) {
    return `unparseable purl: ${(err as Error).message}`.slice(0, 300);
  }
}

/** The ecosystem's canonical name (report-schema.md): Maven "group:artifact", npm "@scope/name", Go module path. */
function canonicalName(type: PackageType, p: ParsedPurl): string {
  const ns = p.namespace;
  switch (type) {
    case 'maven':
      return ns ? `${ns}:${p.name}` : p.name;
    case 'npm':
    case 'golang':
      return ns ? `${ns}/${p.name}` : p.name;
    default:
      return p.name;
  }
}

/** Whether the document's name is the purl's name as the ecosystem compares names (case; PyPI's -_. runs). */
function sameName(type: PackageType, declared: string, canonical: string): boolean {
  if (declared === '') return false;
  if (type === 'pypi') return declared.toLowerCase().replace(/[-_.]+/g, '-') === canonical.toLowerCase().replace(/[-_.]+/g, '-');
  return declared.toLowerCase() === canonical.toLowerCase();
}

function purlVersion(type: PackageType, p: ParsedPurl): string | null {
  if (p.version === undefined || p.version === '') return null;
  // purl keeps the rpm epoch in a qualifier; Tally's rpm versions carry it ("1:2.3-4")
  const epoch = p.qualifiers?.['epoch'];
  if (type === 'rpm' && epoch !== undefined && epoch !== '' && !p.version.startsWith(`${epoch}:`)) return `${epoch}:${p.version}`;
  return p.version;
}

/** Trivy's CycloneDX properties for the source package (its deb/rpm "SrcName", "SrcVersion", "SrcRelease", "SrcEpoch"). */
function trivySource(props: readonly Property[]): { name: string; version: string } | null {
  const get = (k: string): string | undefined => props.find(([n]) => n === `aquasecurity:trivy:${k}`)?.[1];
  const name = get('SrcName');
  const version = get('SrcVersion');
  if (!name || !version) return null;
  const release = get('SrcRelease');
  const epoch = get('SrcEpoch');
  return { name, version: `${epoch && epoch !== '0' ? `${epoch}:` : ''}${version}${release ? `-${release}` : ''}` };
}

/** Syft's `upstream` qualifier: "openssl", "glibc@2.36-9" (deb), "openssl-3.0.7-27.el9.src.rpm" (rpm). */
function upstreamSource(type: PackageType, p: ParsedPurl, version: string): { name: string; version: string } | null {
  const up = p.qualifiers?.['upstream'];
  if (!up || !OS_PACKAGE_TYPES.has(type)) return null;
  const rpm = /^(.+)-([^-]+-[^-]+)\.src\.rpm$/.exec(up);
  if (rpm) return { name: rpm[1]!, version: rpm[2]! };
  const at = up.indexOf('@');
  return at > 0 ? { name: up.slice(0, at), version: up.slice(at + 1) } : { name: up, version };
}

const FAMILY_ALIASES: Readonly<Record<string, string>> = { rhel: 'redhat', ol: 'oracle', amzn: 'amazon' };

/** `distro=debian-12`, `alpine-3.19.1`, `redhat-8.9`: family, then a version starting with a digit. */
function parseDistroQualifier(value: string, namespace: string | undefined): { family: string; version: string } | null {
  const m = /^([A-Za-z][A-Za-z0-9_.-]*?)-(\d[\w.+~-]*)$/.exec(value);
  if (m) return { family: normaliseFamily(m[1]!), version: m[2]! };
  return namespace ? { family: normaliseFamily(namespace), version: value } : null;
}

function normaliseFamily(family: string): string {
  const f = family.toLowerCase();
  return FAMILY_ALIASES[f] ?? f;
}

function mostCommonDistro(c: Collector): ReportOs | null {
  const counts = new Map<string, number>();
  for (const d of c.distros) counts.set(`${d.family}\0${d.version}`, (counts.get(`${d.family}\0${d.version}`) ?? 0) + 1);
  const best = [...counts.entries()].sort((a, b) => b[1] - a[1])[0];
  if (!best) return null;
  const [family, version] = best[0].split('\0') as [string, string];
  return { family, name: family, version, prettyName: null };
}

function propertiesOf(list: Json | undefined, max: number, c: Collector): Property[] {
  const out: Property[] = [];
  const items = arr(list);
  if (items.length > max) c.warn(`an entry has ${items.length} properties; only the first ${max} were read`);
  for (const p of items.slice(0, max)) {
    if (!isObject(p)) continue;
    const name = str(p['name']);
    const value = str(p['value']);
    if (name !== null && value !== null) out.push([name, value]);
  }
  return out;
}

function parsePlatform(value: string | undefined): Platform | null {
  if (!value) return null;
  const [os, architecture, variant] = value.split('/');
  return os && architecture ? { os, architecture, variant: variant ?? null } : null;
}

function imageFacts(props: readonly Property[], fallback: { name: string | null; version: string | null; purl: string | null }): SbomImageFacts {
  const get = (k: string): string | undefined => props.find(([n]) => n === k)?.[1];
  const all = (k: string): string[] => props.filter(([n]) => n === k).map(([, v]) => v);
  const digestOrNull = (v: string | undefined | null): string | null => (v && DIGEST.test(v) ? v : null);
  let purlDigest: string | null = null;
  if (fallback.purl) {
    const p = parsePurl(fallback.purl);
    if (typeof p !== 'string' && p.type === 'oci') purlDigest = digestOrNull(p.version);
  }
  // Trivy names the image with its own properties
  const trivy = (k: string): string => `aquasecurity:trivy:${k}`;
  return {
    name: fallback.name,
    ref: get(IMAGE_PROP.ref) ?? null,
    imageId: digestOrNull(get(IMAGE_PROP.imageId)) ?? digestOrNull(get(trivy('ImageID'))) ?? digestOrNull(fallback.version),
    manifestDigest: digestOrNull(get(IMAGE_PROP.manifestDigest)) ?? (digestOrNull(fallback.version) === null ? purlDigest : null),
    repoTags: [...all(IMAGE_PROP.repoTag), ...all(trivy('RepoTag'))],
    repoDigests: [...all(IMAGE_PROP.repoDigest), ...all(trivy('RepoDigest'))],
    platform: parsePlatform(get(IMAGE_PROP.platform)),
    created: get(IMAGE_PROP.created) ?? null,
    purl: fallback.purl,
  };
}

function osFromProps(props: readonly Property[], fallback: { family: string; version: string; prettyName: string | null }): ReportOs {
  const get = (k: string): string | undefined => props.find(([n]) => n === k)?.[1];
  const family = normaliseFamily(get(IMAGE_PROP.osFamily) ?? fallback.family);
  return {
    family,
    name: get(IMAGE_PROP.osName) ?? family,
    version: get(IMAGE_PROP.osVersion) ?? fallback.version,
    prettyName: get(IMAGE_PROP.osPrettyName) ?? fallback.prettyName,
  };
}

function finish(format: 'cyclonedx' | 'spdx', specVersion: string, c: Collector, os: ReportOs | null, image: SbomImageFacts): SbomDocument {
  const packages = [...c.packages.values()];
  const scanTypes = [...new Set(packages.map((p) => p.scanType))];
  const reportOs = os ?? mostCommonDistro(c);
  return {
    format,
    specVersion,
    packages,
    os: reportOs,
    distro: reportOs ? { ...reportOs, codename: null, detectedBy: 'sbom' } : null,
    image,
    layers: c.layerList(),
    scanTypes,
    skipped: c.skipped,
    skippedCount: c.skippedCount,
    warnings: c.warnings,
  };
}

// --- CycloneDX -------------------------------------------------------------------------------------------------

function cdxLicenses(list: Json | undefined): string[] {
  const out: string[] = [];
  for (const l of arr(list).slice(0, 100)) {
    if (!isObject(l)) continue;
    const expression = str(l['expression']);
    if (expression !== null) {
      out.push(expression);
      continue;
    }
    const lic = l['license'];
    if (!isObject(lic)) continue;
    const v = str(lic['id']) ?? str(lic['name']);
    if (v !== null) out.push(v);
  }
  return out;
}

/** CycloneDX `group` + `name` back to one name as the ecosystem writes it. */
function cdxName(c: JsonObject, purl: string | null): string {
  const name = str(c['name']) ?? '';
  const group = str(c['group']);
  if (!group) return name;
  const type = purl?.slice(4, purl.indexOf('/')).toLowerCase();
  if (type === 'maven') return `${group}:${name}`;
  if (type === 'npm' || type === 'golang') return `${group}/${name}`;
  return name;
}

function readCycloneDx(doc: JsonObject, lim: SbomReadLimits): SbomDocument {
  const specVersion = str(doc['specVersion']) ?? '';
  if (!/^1\.[2-7]$/.test(specVersion)) fail(`CycloneDX specVersion ${JSON.stringify(specVersion).slice(0, 40)} is not one Tally reads (1.4–1.6)`);
  const c = new Collector();
  let os: ReportOs | null = null;
  let seen = 0;
  // components nest (a jar inside a war); walked iteratively with the depth checked, never recursively
  const stack: { list: Json[]; depth: number }[] = [{ list: arr(doc['components']), depth: 0 }];
  while (stack.length > 0) {
    const { list, depth } = stack.pop()!;
    for (const comp of list) {
      if (!isObject(comp)) continue;
      if (++seen > lim.maxEntries) {
        c.warn(`more than ${lim.maxEntries} components; the rest were not read`);
        stack.length = 0;
        break;
      }
      const nested = arr(comp['components']);
      if (nested.length > 0) {
        if (depth + 1 < lim.maxDepth) stack.push({ list: nested, depth: depth + 1 });
        else c.warn(`components nested deeper than ${lim.maxDepth} levels were not read`);
      }
      const type = str(comp['type']);
      const props = propertiesOf(comp['properties'], lim.maxPropertiesPerEntry, c);
      if (type === 'operating-system') {
        os ??= osFromProps(props, { family: str(comp['name']) ?? 'unknown', version: str(comp['version']) ?? '', prettyName: str(comp['description']) });
        continue;
      }
      const purl = str(comp['purl']);
      const name = cdxName(comp, purl);
      if (type === 'file' && purl === null) continue; // Syft lists files; they are not packages
      const publisher = str(comp['publisher']);
      c.add({ name, version: str(comp['version']), purl, licenses: cdxLicenses(comp['licenses']), props, vendor: publisher });
    }
  }
  const metadata = doc['metadata'];
  const component = isObject(metadata) ? metadata['component'] : undefined;
  const image = isObject(component)
    ? imageFacts(propertiesOf(component['properties'], lim.maxPropertiesPerEntry, c), { name: str(component['name']), version: str(component['version']), purl: str(component['purl']) })
    : imageFacts([], { name: null, version: null, purl: null });
  return finish('cyclonedx', specVersion, c, os, image);
}

// --- SPDX ------------------------------------------------------------------------------------------------------

function spdxPurl(pkg: JsonObject): string | null {
  for (const ref of arr(pkg['externalRefs'])) {
    if (!isObject(ref)) continue;
    const category = str(ref['referenceCategory']);
    // SPDX 2.2 wrote PACKAGE_MANAGER; 2.3 PACKAGE-MANAGER
    if (str(ref['referenceType']) === 'purl' && (category === 'PACKAGE-MANAGER' || category === 'PACKAGE_MANAGER')) return str(ref['referenceLocator']);
  }
  return null;
}

function spdxProperties(pkg: JsonObject, max: number, c: Collector): Property[] {
  for (const a of arr(pkg['annotations'])) {
    if (!isObject(a)) continue;
    const comment = str(a['comment']);
    if (comment === null || !comment.startsWith(SPDX_ANNOTATION_PREFIX)) continue;
    let list: Json;
    try {
      list = JSON.parse(comment.slice(SPDX_ANNOTATION_PREFIX.length)) as Json;
    } catch {
      c.warn('an annotation with Tally properties is not valid JSON; ignored');
      continue;
    }
    const out: Property[] = [];
    for (const item of arr(list).slice(0, max)) {
      if (Array.isArray(item) && item.length === 2 && typeof item[0] === 'string' && typeof item[1] === 'string') out.push([item[0], item[1]]);
    }
    return out;
  }
  return [];
}

function spdxLicenses(pkg: JsonObject, extracted: ReadonlyMap<string, string>): string[] {
  for (const field of ['licenseDeclared', 'licenseConcluded']) {
    const v = str(pkg[field]);
    if (v === null || v === 'NOASSERTION' || v === 'NONE' || v.trim() === '') continue;
    // a lone LicenseRef stands for the text the document extracted
    return [extracted.get(v) ?? v];
  }
  return [];
}

function readSpdx(doc: JsonObject, lim: SbomReadLimits): SbomDocument {
  const specVersion = str(doc['spdxVersion']) ?? '';
  if (!/^SPDX-2\.[23]$/.test(specVersion)) fail(`${JSON.stringify(specVersion).slice(0, 40)} is not an SPDX version Tally reads (SPDX-2.3, SPDX-2.2)`);
  const c = new Collector();
  const extracted = new Map<string, string>();
  for (const e of arr(doc['hasExtractedLicensingInfos'])) {
    if (!isObject(e)) continue;
    const id = str(e['licenseId']);
    const name = str(e['name']) ?? str(e['extractedText']);
    if (id !== null && name !== null && name !== 'NOASSERTION') extracted.set(id, name);
  }
  let os: ReportOs | null = null;
  let image: SbomImageFacts | null = null;
  const packages = arr(doc['packages']);
  if (packages.length > lim.maxEntries) c.warn(`more than ${lim.maxEntries} packages; the rest were not read`);
  for (const pkg of packages.slice(0, lim.maxEntries)) {
    if (!isObject(pkg)) continue;
    const props = spdxProperties(pkg, lim.maxPropertiesPerEntry, c);
    const purpose = str(pkg['primaryPackagePurpose']);
    const purl = spdxPurl(pkg);
    // the JSON schema spells it OPERATING_SYSTEM, tag-value OPERATING-SYSTEM; converters pass either through
    if (purpose === 'OPERATING_SYSTEM' || purpose === 'OPERATING-SYSTEM') {
      os ??= osFromProps(props, { family: str(pkg['name']) ?? 'unknown', version: str(pkg['versionInfo']) ?? '', prettyName: str(pkg['description']) });
      continue;
    }
    if (purpose === 'CONTAINER' || purl?.startsWith('pkg:oci/')) {
      image ??= imageFacts(props, { name: str(pkg['name']), version: str(pkg['versionInfo']), purl });
      continue;
    }
    const supplier = str(pkg['supplier']);
    const vendor = supplier?.startsWith('Organization: ') ? supplier.slice('Organization: '.length) : null;
    c.add({ name: str(pkg['name']) ?? '', version: str(pkg['versionInfo']), purl, licenses: spdxLicenses(pkg, extracted), props, vendor });
  }
  return finish('spdx', specVersion, c, os, image ?? imageFacts([], { name: str(doc['name']), version: null, purl: null }));
}

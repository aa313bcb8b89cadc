/**
 * The XML manifests: `packages.config` (the pre-PackageReference manifest) and `.nuspec` (a package's own
 * metadata, in the global packages folder `~/.nuget/packages/<id>/<version>/<id>.nuspec` or inside a .nupkg).
 *
 * Hostile input: entity processing is off, so a DOCTYPE's custom entities (billion laughs) are never expanded;
 * the five predefined entities and character references are decoded here, in the few values we keep. The parser
 * itself refuses `__proto__`-like names and nesting past its limit by throwing, which becomes an issue.
 */
import { XMLParser } from 'fast-xml-parser';
import { isObject, type JsonObject } from '../../../util/json.js';
import type { ExtractedPackage } from '../../extractor.js';
import { packageKey, quote, type ParseResult } from './result.js';

/** nuspec and packages.config files are a few KiB; anything this big is not one. */
export const XML_MAX_BYTES = 4 * 1024 * 1024;

function parser(arrayPath: string | null): XMLParser {
  return new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: '',
    parseTagValue: false,
    parseAttributeValue: false,
    processEntities: false,
    htmlEntities: false,
    removeNSPrefix: true,
    ignoreDeclaration: true,
    ignorePiTags: true,
    ...(arrayPath === null ? {} : { isArray: (_name: string, jpath: unknown) => jpath === arrayPath }),
  });
}

const PREDEFINED: Readonly<Record<string, string>> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

/** Decode the predefined entities and character references; leave anything else (custom entities) as written. */
export function decodeXmlText(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&(#x[0-9a-fA-F]{1,6}|#[0-9]{1,7}|lt|gt|amp|quot|apos);/g, (whole, ref: string) => {
    if (ref.startsWith('#')) {
      const cp = ref[1] === 'x' ? Number.parseInt(ref.slice(2), 16) : Number.parseInt(ref.slice(1), 10);
      return cp > 0 && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff) ? String.fromCodePoint(cp) : whole;
    }
    return PREDEFINED[ref] ?? whole;
  });
}

/** The text of an element or attribute value: a string, or an element's `#text` when it has attributes. */
function textOf(v: unknown): string | null {
  if (typeof v === 'string') {
    const t = decodeXmlText(v).trim();
    return t.length > 0 ? t : null;
  }
  if (isObject(v)) return textOf(v['#text']);
  return null;
}

function attr(el: JsonObject, name: string): string | null {
  return textOf(el[name]);
}

function parseXml(text: string, what: string, arrayPath: string | null): unknown {
  try {
    return parser(arrayPath).parse(text);
  } catch (err) {
    throw new Error(`${what}: invalid XML: ${(err as Error).message}`);
  }
}

/**
 * `<packages><package id="…" version="…" targetFramework="…" developmentDependency="true"/></packages>`.
 * Development dependencies (analyzers, build tools) are left out: NuGet never deploys them with the app.
 */
export function parsePackagesConfig(text: string): ParseResult {
  const doc = parseXml(text, 'packages.config', 'packages.package');
  const root = isObject(doc) ? doc['packages'] : undefined;
  if (root === undefined) throw new Error('not a packages.config: no <packages> element');
  const problems: string[] = [];
  const list = isObject(root) && Array.isArray(root['package']) ? root['package'] : [];
  const packages = new Map<string, ExtractedPackage>();
  for (const el of list) {
    if (!isObject(el)) continue;
    const id = attr(el, 'id');
    const version = attr(el, 'version');
    if (id === null || version === null) {
      problems.push(`<package> without id or version${id === null ? '' : `: ${quote(id)}`}`);
      continue;
    }
    if (attr(el, 'developmentDependency')?.toLowerCase() === 'true') continue;
    const k = packageKey(id, version);
    if (packages.has(k)) continue;
    const tfm = attr(el, 'targetFramework');
    packages.set(k, {
      type: 'nuget',
      name: id,
      version,
      evidence: 'declared',
      identifiedBy: 'packages.config',
      ...(tfm === null ? {} : { metadata: { targetFramework: tfm } }),
    });
  }
  return { packages: [...packages.values()], problems };
}

const NUGET_LICENSE_URL = 'https://licenses.nuget.org/';

/** How the package was found: `nuspec` for a loose file, `nupkg` when read out of a package archive (whose
 * location is then the archive itself: the nuspec is its metadata, not a package nested in it). */
export type NuspecSource = 'nuspec' | 'nupkg';

/**
 * `<package><metadata><id/><version/><license type="expression">MIT</license>…</metadata></package>`.
 * Licences: the SPDX expression of `<license type="expression">`, or the one a `https://licenses.nuget.org/<expr>`
 * licence URL names (what nuget.org writes into `licenseUrl` for expression-licensed packages); other licence
 * URLs and `type="file"` licences go to metadata, since they are no SPDX identifiers.
 */
export function parseNuspec(text: string, source: NuspecSource = 'nuspec'): ParseResult {
  const doc = parseXml(text, 'nuspec', null);
  const pkg = isObject(doc) ? doc['package'] : undefined;
  const md = isObject(pkg) ? pkg['metadata'] : undefined;
  if (!isObject(md)) throw new Error('not a nuspec: no <package><metadata> element');
  const id = textOf(md['id']);
  const version = textOf(md['version']);
  if (id === null || version === null) throw new Error('nuspec: <metadata> has no <id> or <version>');

  const metadata: Record<string, string> = {};
  let license: string | null = null;
  const lic = md['license'];
  const licText = textOf(lic);
  const licType = isObject(lic) ? (attr(lic, 'type') ?? 'expression') : 'expression';
  if (licText !== null) {
    if (licType.toLowerCase() === 'expression') license = licText;
    else metadata['licenseFile'] = licText;
  }
  const licenseUrl = textOf(md['licenseUrl']);
  if (license === null && licenseUrl !== null && licenseUrl.startsWith(NUGET_LICENSE_URL)) {
    try {
      const expr = decodeURIComponent(licenseUrl.slice(NUGET_LICENSE_URL.length)).replace(/\/+$/, '').trim();
      if (expr.length > 0) license = expr;
    } catch {
      // a malformed %-escape: keep the URL below
    }
  }
  if (license === null && licenseUrl !== null) metadata['licenseUrl'] = licenseUrl;

  const out: ExtractedPackage = {
    type: 'nuget',
    name: id,
    version,
    evidence: 'installed',
    identifiedBy: source,
    ...(license === null ? {} : { licenses: [license] }),
    ...(Object.keys(metadata).length > 0 ? { metadata } : {}),
  };
  return { packages: [out], problems: [] };
}

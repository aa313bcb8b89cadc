import { PackageURL } from 'packageurl-js';

/** The parts of a purl that matching compares, normalised by packageurl-js (type case, npm/PyPI name rules). */
export interface PurlParts {
  readonly type: string;
  readonly namespace: string;
  readonly name: string;
  readonly version: string;
  readonly qualifiers: Readonly<Record<string, string>>;
  readonly subpath: string;
}

/** Parse a purl; null when it is not one (callers decide whether that is an error or simply no match). */
export function parsePurl(text: string): PurlParts | null {
  let p: PackageURL;
  try {
    p = PackageURL.fromString(text);
  } catch {
    // packageurl-js throws more than its own errors on some inputs (a ReferenceError for golang subpaths)
    return null;
  }
  const qualifiers: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.qualifiers ?? {})) if (typeof v === 'string') qualifiers[k] = v;
  return { type: p.type, namespace: p.namespace ?? '', name: p.name, version: p.version ?? '', qualifiers, subpath: p.subpath ?? '' };
}

/**
 * Whether a general purl (from a rule) names a specific one (a package's): type, namespace and name equal; the
 * rule's version, qualifiers and subpath, where it has them, equal the package's. So `pkg:npm/lodash` names every
 * lodash, `pkg:deb/debian/openssl@3.0.11-1` every arch and distro of that version, and a full purl only itself.
 * This is OpenVEX's rule (go-vex PurlMatches: qualifiers of the statement must all be on the package, the package
 * may have more), used for ignore files too so one purl means the same thing in both places.
 */
export function purlCovers(rule: PurlParts, pkg: PurlParts): boolean {
  if (rule.type !== pkg.type || rule.namespace !== pkg.namespace || rule.name !== pkg.name) return false;
  if (rule.version !== '' && rule.version !== pkg.version) return false;
  if (rule.subpath !== '' && rule.subpath !== pkg.subpath) return false;
  for (const [k, v] of Object.entries(rule.qualifiers)) if (pkg.qualifiers[k] !== v) return false;
  return true;
}

/**
 * Core metadata (`METADATA`, `PKG-INFO`, the `.egg-info` file): RFC 822-style headers, then a blank line, then the
 * description as the body (ignored; older writers fold it into a `Description:` header instead). Pure: text in,
 * one record out.
 *
 * Parsing follows what Python's `email.parser.HeaderParser` does with these files: the header section ends at the
 * first empty line (a line of spaces is a continuation, as in pycairo's PKG-INFO), continuation lines start with a
 * space or tab, field names are case-insensitive and the first `Name`/`Version` wins.
 */

export interface DistRecord {
  /** PEP 503 canonical name: lowercase, runs of `-_.` → `-` (the PyPI purl name). */
  readonly name: string;
  /** The `Name` header as written, when it differs from `name`. */
  readonly originalName: string | null;
  /** As written: PEP 440 versions and legacy ones alike; the matcher decides what it can compare. */
  readonly version: string;
  readonly licenses: readonly string[];
}

export interface ParseResult {
  readonly record: DistRecord;
  /** Things the caller should report as issues; the record is still usable. */
  readonly problems: readonly string[];
}

/** Header fields longer than this are cut (a whole license text in `License:`); it is only a bound on memory. */
const MAX_FIELD_CHARS = 64 * 1024;
/** Longer `Name`/`Version` values are junk, not metadata. */
const MAX_NAME_CHARS = 256;
const MAX_VERSION_CHARS = 128;
/** A `License:` value longer than this, or spanning lines, is a license text rather than a license name. */
const MAX_LICENSE_NAME_CHARS = 100;

interface Headers {
  name: string | null;
  version: string | null;
  license: string | null;
  licenseExpression: string | null;
  readonly classifiers: string[];
  /** Lines that looked like `Field: value`. */
  fields: number;
  /** Lines that were neither a field nor a continuation. */
  junk: number;
}

type Kept = 'name' | 'version' | 'license' | 'license-expression' | 'classifier';

function kept(key: string): Kept | null {
  switch (key) {
    case 'name':
    case 'version':
    case 'license':
    case 'license-expression':
    case 'classifier':
      return key;
    default:
      return null;
  }
}

/** Read the header section of a metadata file (stops at the first empty line). */
export function parseHeaders(text: string): Headers {
  const h: Headers = { name: null, version: null, license: null, licenseExpression: null, classifiers: [], fields: 0, junk: 0 };
  // the field being continued, and its text so far; null = continuation lines are dropped
  let current: Kept | null = null;
  let value = '';
  const flush = (): void => {
    if (current === null) return;
    switch (current) {
      case 'name':
        h.name ??= value;
        break;
      case 'version':
        h.version ??= value;
        break;
      case 'license':
        h.license ??= value;
        break;
      case 'license-expression':
        h.licenseExpression ??= value;
        break;
      case 'classifier':
        h.classifiers.push(value);
        break;
    }
    current = null;
  };

  let start = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    let line = text.slice(start, end);
    start = end + 1;
    if (line.endsWith('\r')) line = line.slice(0, -1);
    if (line === '') break; // the blank line before the body (or the end of the text)
    const first = line.charCodeAt(0);
    if (first === 32 || first === 9) {
      // folded line: part of the previous field
      if (current !== null && value.length < MAX_FIELD_CHARS) value = (value + '\n' + line.trim()).slice(0, MAX_FIELD_CHARS);
      continue;
    }
    flush();
    const colon = line.indexOf(':');
    const key = colon > 0 ? line.slice(0, colon).trim().toLowerCase() : '';
    if (key === '' || key.includes(' ')) {
      h.junk++;
      continue;
    }
    h.fields++;
    current = kept(key);
    if (current !== null) value = line.slice(colon + 1, colon + 1 + MAX_FIELD_CHARS).trim();
  }
  flush();
  return h;
}

/** PEP 503 normalisation: lowercase, runs of `-`, `_`, `.` become one `-`. */
export function canonicalName(name: string): string {
  return name.toLowerCase().replace(/[-_.]+/g, '-');
}

// PEP 508 names: ASCII letters and digits, with `.`, `_`, `-` inside
const VALID_NAME = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;

/**
 * The canonical name of a `Name` value. Names outside PEP 508 (distutils allowed `Foo Bar`) are first made safe as
 * setuptools' `safe_name` does (runs of other characters → `-`), which is the name pip shows for them.
 */
function nameOf(raw: string): string | null {
  const name = raw.trim();
  if (name === '' || name.length > MAX_NAME_CHARS) return null;
  if (VALID_NAME.test(name)) return canonicalName(name);
  const safe = canonicalName(name.replace(/[^A-Za-z0-9.]+/g, '-')).replace(/^-+|-+$/g, '');
  return safe === '' ? null : safe;
}

function hasControlChars(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 32 || c === 127) return true;
  }
  return false;
}

function versionOf(raw: string): string | null {
  const v = raw.trim();
  if (v === '' || v.length > MAX_VERSION_CHARS || hasControlChars(v)) return null;
  return v;
}

/**
 * SPDX ids of the trove classifiers that name exactly one license. Others ("BSD License", "Apache Software
 * License": no version) are reported as the classifier's last part, as written.
 */
const CLASSIFIER_SPDX: ReadonlyMap<string, string> = new Map([
  ['MIT License', 'MIT'],
  ['MIT No Attribution License (MIT-0)', 'MIT-0'],
  ['ISC License (ISCL)', 'ISC'],
  ['Python Software Foundation License', 'PSF-2.0'],
  ['Mozilla Public License 1.1 (MPL 1.1)', 'MPL-1.1'],
  ['Mozilla Public License 2.0 (MPL 2.0)', 'MPL-2.0'],
  ['GNU General Public License v2 (GPLv2)', 'GPL-2.0-only'],
  ['GNU General Public License v2 or later (GPLv2+)', 'GPL-2.0-or-later'],
  ['GNU General Public License v3 (GPLv3)', 'GPL-3.0-only'],
  ['GNU General Public License v3 or later (GPLv3+)', 'GPL-3.0-or-later'],
  ['GNU Lesser General Public License v2 (LGPLv2)', 'LGPL-2.0-only'],
  ['GNU Lesser General Public License v2 or later (LGPLv2+)', 'LGPL-2.0-or-later'],
  ['GNU Lesser General Public License v3 (LGPLv3)', 'LGPL-3.0-only'],
  ['GNU Lesser General Public License v3 or later (LGPLv3+)', 'LGPL-3.0-or-later'],
  ['GNU Affero General Public License v3', 'AGPL-3.0-only'],
  ['GNU Affero General Public License v3 or later (AGPLv3+)', 'AGPL-3.0-or-later'],
  ['Eclipse Public License 1.0 (EPL-1.0)', 'EPL-1.0'],
  ['Eclipse Public License 2.0 (EPL-2.0)', 'EPL-2.0'],
  ['European Union Public Licence 1.2 (EUPL 1.2)', 'EUPL-1.2'],
  ['Boost Software License 1.0 (BSL-1.0)', 'BSL-1.0'],
  ['The Unlicense (Unlicense)', 'Unlicense'],
  ['CC0 1.0 Universal (CC0 1.0) Public Domain Dedication', 'CC0-1.0'],
  ['zlib/libpng License', 'Zlib'],
  ['Universal Permissive License (UPL)', 'UPL-1.0'],
  ['Apache Software License 2.0 (Apache-2.0)', 'Apache-2.0'],
]);

/** Classifier parts that are categories, not licenses (`License :: OSI Approved` alone). */
const NOT_A_LICENSE = new Set(['OSI Approved', 'DFSG approved']);

function licenseOfClassifier(classifier: string): string | null {
  const parts = classifier.split('::').map((p) => p.trim());
  if (parts[0] !== 'License' || parts.length < 2) return null;
  const last = parts[parts.length - 1]!;
  if (last === '' || NOT_A_LICENSE.has(last)) return null;
  return CLASSIFIER_SPDX.get(last) ?? last;
}

function isLicenseName(license: string): boolean {
  const v = license.trim();
  if (v === '' || v.includes('\n') || v.length > MAX_LICENSE_NAME_CHARS) return false;
  const upper = v.toUpperCase();
  return upper !== 'UNKNOWN' && upper !== 'NONE' && upper !== 'N/A';
}

/** License-Expression (metadata 2.4), else a short License value, else the License :: classifiers. */
export function licensesOf(h: Pick<Headers, 'license' | 'licenseExpression' | 'classifiers'>): string[] {
  const expr = h.licenseExpression?.trim();
  if (expr && !expr.includes('\n')) return [expr];
  if (h.license !== null && isLicenseName(h.license)) return [h.license.trim()];
  const out: string[] = [];
  for (const c of h.classifiers) {
    const l = licenseOfClassifier(c);
    if (l !== null && !out.includes(l)) out.push(l);
  }
  return out;
}

/** Bytes of a metadata file → text: UTF-8 (with or without BOM), UTF-16 with a BOM; NULs otherwise mean binary. */
export function decodeMetadata(bytes: Uint8Array): string {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length >= 2 && buf[0] === 0xff && buf[1] === 0xfe) return buf.subarray(2).toString('utf16le');
  if (buf.length >= 2 && buf[0] === 0xfe && buf[1] === 0xff) {
    const swapped = Buffer.from(buf.subarray(2, buf.length - (buf.length % 2)));
    return swapped.swap16().toString('utf16le');
  }
  if (buf.indexOf(0) >= 0) throw new Error('not a metadata file: binary data (NUL bytes) in the header section');
  const start = buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf ? 3 : 0;
  return buf.subarray(start).toString('utf8');
}

/**
 * One distribution from a metadata file's header section. `fallback` is the name and version in the artifact's
 * own name (`six-1.16.0.egg-info`), used only when a header is missing (a truncated file) and then reported.
 * Throws when the text holds no metadata at all.
 */
export function parseDistMetadata(text: string, fallback: { name: string; version: string } | null): ParseResult {
  const h = parseHeaders(text);
  if (h.fields === 0) {
    throw new Error(h.junk > 0 ? `not a metadata file: no "Field: value" headers (${h.junk} other lines)` : 'empty metadata file');
  }
  const problems: string[] = [];
  let name = h.name !== null ? nameOf(h.name) : null;
  let originalName = h.name?.trim() ?? null;
  if (name === null) {
    const fb = fallback ? nameOf(fallback.name) : null;
    if (fb === null) throw new Error(h.name === null ? 'metadata has no Name header' : `metadata has an unusable Name header: ${JSON.stringify(h.name.slice(0, 80))}`);
    problems.push(`metadata has ${h.name === null ? 'no' : 'an unusable'} Name header; name taken from the file name: ${fallback!.name}`);
    name = fb;
    originalName = fallback!.name;
  }
  let version = h.version !== null ? versionOf(h.version) : null;
  if (version === null) {
    const fb = fallback ? versionOf(fallback.version) : null;
    if (fb === null) throw new Error(h.version === null ? `metadata of ${name} has no Version header` : `metadata of ${name} has an unusable Version header: ${JSON.stringify(h.version.slice(0, 80))}`);
    problems.push(`metadata of ${name} has ${h.version === null ? 'no' : 'an unusable'} Version header; version taken from the file name: ${fb}`);
    version = fb;
  }
  if (h.junk > 0) problems.push(`metadata of ${name} ${version}: ${h.junk} malformed header line(s) ignored`);
  return {
    record: { name, originalName: originalName !== null && originalName !== name ? originalName : null, version, licenses: licensesOf(h) },
    problems,
  };
}

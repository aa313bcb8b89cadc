/**
 * A layer-cache entry on the wire and on disk: the gzip of `serializeLayerResult` as JSON.
 *
 * Entries shared through a backend are untrusted input (any sensor token can write one), so reading one rebuilds
 * the LayerResult field by field from what the types allow and refuses anything else: a hostile or damaged entry
 * becomes a clear error (a cache miss for the caller), never a malformed object deep inside the merge.
 */
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import type { ExtractedPackage, FileOwnership } from '../extract/extractor.js';
import { serializeLayerResult, type FileRecord, type LayerResult } from '../extract/layer-result.js';
import { normalizePath } from '../image/path.js';
import type { LayerIssue } from '../model/issue.js';
import { PACKAGE_TYPES, type Evidence, type PackageType } from '../model/package.js';
import { isObject, type JsonObject } from '../util/json.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** Largest entry shared through a backend, compressed. Real layers give kilobytes; a bigger one stays local. */
export const MAX_ENTRY_BYTES = 16 * 1024 * 1024;
/** Largest entry inflated: a gzip bomb stops here. */
export const MAX_ENTRY_INFLATED_BYTES = 64 * 1024 * 1024;

export class LayerCacheEntryError extends Error {
  override readonly name = 'LayerCacheEntryError';
}

export async function encodeLayerEntry(result: LayerResult): Promise<Buffer> {
  return gzipAsync(JSON.stringify(serializeLayerResult(result)), { level: 1 });
}

/** Inflate (capped), parse and check an entry; throws LayerCacheEntryError saying what is wrong. */
export async function decodeLayerEntry(gz: Buffer): Promise<LayerResult> {
  if (gz.length > MAX_ENTRY_BYTES) throw new LayerCacheEntryError(`entry is ${gz.length} bytes, over the ${MAX_ENTRY_BYTES}-byte limit`);
  let text: string;
  try {
    text = (await gunzipAsync(gz, { maxOutputLength: MAX_ENTRY_INFLATED_BYTES })).toString('utf8');
  } catch (err) {
    const over = (err as NodeJS.ErrnoException).code === 'ERR_BUFFER_TOO_LARGE';
    throw new LayerCacheEntryError(over ? `entry inflates past ${MAX_ENTRY_INFLATED_BYTES} bytes` : `entry is not gzip: ${(err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new LayerCacheEntryError(`entry is not JSON: ${(err as Error).message}`);
  }
  return layerResultFromJson(json);
}

const EVIDENCE: ReadonlySet<string> = new Set<Evidence>(['installed', 'declared', 'binary']);
const TYPES: ReadonlySet<string> = new Set<string>(PACKAGE_TYPES);
const DIGEST = /^sha256:[0-9a-f]{64}$/;

function fail(where: string, what: string): never {
  throw new LayerCacheEntryError(`${where}: ${what}`);
}

function object(v: unknown, where: string): JsonObject {
  if (!isObject(v)) fail(where, 'expected an object');
  return v;
}

function array(v: unknown, where: string): readonly unknown[] {
  if (!Array.isArray(v)) fail(where, 'expected an array');
  return v;
}

function string(v: unknown, where: string): string {
  if (typeof v !== 'string') fail(where, 'expected a string');
  return v;
}

function nullableString(v: unknown, where: string): string | null {
  return v === null ? null : string(v, where);
}

function count(v: unknown, where: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) fail(where, 'expected a non-negative integer');
  return v;
}

function digest(v: unknown, where: string): string | null {
  if (v === null) return null;
  if (typeof v !== 'string' || !DIGEST.test(v)) fail(where, 'expected a sha256 digest or null');
  return v;
}

/** Paths are what the merge keys on: absolute and normalised, as every path Tally keeps. */
function path(v: unknown, where: string): string {
  const p = string(v, where);
  if (p.includes('\u0000') || normalizePath(p) !== p) fail(where, `${JSON.stringify(p.slice(0, 200))} is not an absolute normalised path`);
  return p;
}

function strings(v: unknown, where: string, item: (v: unknown, where: string) => string = string): string[] {
  return array(v, where).map((x, i) => item(x, `${where}[${i}]`));
}

/** A string → string record; `__proto__` is refused, so no later Object.assign can turn it into a prototype. */
function record(v: unknown, where: string): Record<string, string> {
  return Object.fromEntries(
    Object.entries(object(v, where)).map(([k, val]) => {
      if (k === '__proto__') fail(where, 'a __proto__ key');
      return [k, string(val, `${where}.${k}`)];
    }),
  );
}

function pairs(v: unknown, where: string, key: (v: unknown, where: string) => string): [string, string][] {
  return array(v, where).map((p, i) => {
    const pair = array(p, `${where}[${i}]`);
    if (pair.length !== 2) fail(`${where}[${i}]`, 'expected a [key, value] pair');
    return [key(pair[0], `${where}[${i}][0]`), string(pair[1], `${where}[${i}][1]`)];
  });
}

function extractedPackage(v: unknown, where: string): ExtractedPackage {
  const o = object(v, where);
  const type = string(o['type'], `${where}.type`);
  if (!TYPES.has(type)) fail(`${where}.type`, `unknown package type ${JSON.stringify(type.slice(0, 50))}`);
  const evidence = string(o['evidence'], `${where}.evidence`);
  if (!EVIDENCE.has(evidence)) fail(`${where}.evidence`, `unknown evidence ${JSON.stringify(evidence.slice(0, 50))}`);
  const opt = <T>(key: string, read: (v: unknown, where: string) => T): { [k: string]: T } => (o[key] === undefined ? {} : { [key]: read(o[key], `${where}.${key}`) });
  const source = (s: unknown, w: string) => {
    const so = object(s, w);
    return { name: string(so['name'], `${w}.name`), version: string(so['version'], `${w}.version`) };
  };
  return {
    type: type as PackageType,
    name: string(o['name'], `${where}.name`),
    version: string(o['version'], `${where}.version`),
    evidence: evidence as Evidence,
    ...opt('arch', string),
    ...opt('source', source),
    ...opt('licenses', strings),
    ...opt('vendor', string),
    ...opt('identifiedBy', string),
    ...opt('nested', strings),
    ...opt('qualifiers', record),
    ...opt('metadata', record),
  };
}

function fileRecord(v: unknown, where: string): FileRecord {
  const o = object(v, where);
  const packages = array(o['packages'], `${where}.packages`).map((p, i) => extractedPackage(p, `${where}.packages[${i}]`));
  const ownership =
    o['ownership'] === undefined
      ? undefined
      : array(o['ownership'], `${where}.ownership`).map((x, i): FileOwnership => {
          const w = `${where}.ownership[${i}]`;
          const xo = object(x, w);
          // paths as the package database lists them (dpkg's start with "/."): compared, never keyed on
          return { packageName: string(xo['packageName'], `${w}.packageName`), files: strings(xo['files'], `${w}.files`) };
        });
  return { extractor: string(o['extractor'], `${where}.extractor`), packages, ...(ownership ? { ownership } : {}) };
}

function issue(v: unknown, where: string): LayerIssue {
  const o = object(v, where);
  return { path: nullableString(o['path'], `${where}.path`), extractor: nullableString(o['extractor'], `${where}.extractor`), message: string(o['message'], `${where}.message`) };
}

/** The LayerResult an entry describes, rebuilt from checked fields only; throws LayerCacheEntryError. */
export function layerResultFromJson(json: unknown): LayerResult {
  const o = object(json, 'entry');
  if (o['v'] !== 1) fail('entry.v', 'unsupported entry version');
  const files = new Map<string, FileRecord[]>();
  for (const [i, f] of array(o['files'], 'files').entries()) {
    const pair = array(f, `files[${i}]`);
    if (pair.length !== 2) fail(`files[${i}]`, 'expected a [path, records] pair');
    const p = path(pair[0], `files[${i}][0]`);
    if (files.has(p)) fail(`files[${i}][0]`, `${p} appears twice`);
    files.set(p, array(pair[1], `files[${i}][1]`).map((r, j) => fileRecord(r, `files[${i}][1][${j}]`)));
  }
  return {
    files,
    osFiles: new Map(pairs(o['osFiles'], 'osFiles', path)),
    symlinks: new Map(pairs(o['symlinks'], 'symlinks', path)),
    whiteouts: strings(o['whiteouts'], 'whiteouts', path),
    opaqueDirs: strings(o['opaqueDirs'], 'opaqueDirs', path),
    issues: array(o['issues'], 'issues').map((x, i) => issue(x, `issues[${i}]`)),
    complete: true,
    entries: count(o['entries'], 'entries'),
    digest: digest(o['digest'], 'digest'),
    diffId: digest(o['diffId'], 'diffId'),
    uncompressedBytes: count(o['uncompressedBytes'], 'uncompressedBytes'),
  };
}

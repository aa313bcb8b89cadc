/**
 * Pure entry point of the .NET extractor: bytes of one file in, NuGet packages out. The formats live in their own
 * files: deps-json.ts (app manifests, self-contained runtime packs), shared-framework.ts (the installed runtime),
 * lockfile.ts (packages.lock.json), xml.ts (packages.config, .nuspec); nupkg.ts reads a nuspec out of a .nupkg.
 */
import { parseJson } from '../../../util/json.js';
import { parseDepsJson } from './deps-json.js';
import { parsePackagesLock } from './lockfile.js';
import { sharedFrameworkOf, type DotnetFileKind } from './paths.js';
import type { ParseResult } from './result.js';
import { sharedFrameworkPackage } from './shared-framework.js';
import { parseNuspec, parsePackagesConfig, XML_MAX_BYTES } from './xml.js';

export type { ParseResult } from './result.js';

/** Text of a file as .NET tools write it: UTF-8 with or without a BOM, or UTF-16 with one (Visual Studio). */
export function decodeText(data: Buffer): string {
  if (data.length >= 2 && data[0] === 0xff && data[1] === 0xfe) return data.subarray(2).toString('utf16le');
  if (data.length >= 2 && data[0] === 0xfe && data[1] === 0xff) {
    const body = Buffer.from(data.subarray(2, 2 + ((data.length - 2) & ~1)));
    return body.swap16().toString('utf16le');
  }
  const text = data.toString('utf8');
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

function baseName(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Packages of one file of the given kind (`dotnetFileKind(path)`); throws when the file is not of that format. */
export function parseDotnetFile(kind: Exclude<DotnetFileKind, 'nupkg'>, path: string, data: Buffer): ParseResult {
  if ((kind === 'config' || kind === 'nuspec') && data.length > XML_MAX_BYTES) {
    throw new Error(`${data.length} bytes is too big for a ${kind === 'config' ? 'packages.config' : 'nuspec'} (limit ${XML_MAX_BYTES})`);
  }
  const text = decodeText(data);
  switch (kind) {
    case 'deps':
      return parseDepsJson(parseJson(text, 'deps.json'), baseName(path));
    case 'shared-framework': {
      const dir = sharedFrameworkOf(path);
      if (dir === null) throw new Error('not a shared framework deps.json path');
      let doc: unknown = null;
      const problems: string[] = [];
      try {
        doc = parseJson(text, `${dir.framework}.deps.json`);
      } catch (err) {
        problems.push((err as Error).message);
      }
      const result = sharedFrameworkPackage(dir, doc);
      // The framework's own deps.json lists what it is built from (the 2.x frameworks name a dozen runtime.*
      // packages): report those too, marked as parts of the framework, so the inventory hides nothing.
      const parts = doc === null ? [] : parseDepsJson(doc, baseName(path)).packages;
      const runtimeNames = new Set(result.packages.map((p) => p.name.toLowerCase()));
      const components = parts
        .filter((p) => !runtimeNames.has(p.name.toLowerCase()) && p.metadata?.['role'] !== 'runtime')
        .map((p) => ({ ...p, identifiedBy: 'shared-framework', metadata: { ...p.metadata, partOf: dir.framework } }));
      return { packages: [...result.packages, ...components], problems: [...problems, ...result.problems] };
    }
    case 'lock':
      return parsePackagesLock(parseJson(text, 'packages.lock.json'));
    case 'config':
      return parsePackagesConfig(text);
    case 'nuspec':
      return parseNuspec(text, 'nuspec');
  }
}

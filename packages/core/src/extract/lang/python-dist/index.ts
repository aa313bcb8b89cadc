import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { MiB, type ExtractContext, type ExtractedPackage, type ExtractOutput, type FileInfo, type StreamExtractor } from '../../extractor.js';
import { readEggPkgInfo } from './egg.js';
import { parseDistMetadata, decodeMetadata, type DistRecord } from './parse.js';
import { classify, nameVersionFromPath, runtimeSeries, type PythonFileKind } from './paths.js';
import { consume, HeaderReader, readAll, type HeaderBytes } from './read.js';
import { PythonVersionScanner } from './runtime.js';

/**
 * Only the header section of a metadata file is read (the description body is skipped); real ones are a few KB,
 * old PKG-INFO files with the README folded into a `Description:` header can reach hundreds of KB.
 */
export const HEADER_CAP = 1 * MiB;
/** Zipped eggs up to this size are read in memory; bigger ones go to a temp file for random access. */
const EGG_IN_MEMORY = 16 * MiB;

/** The kinds of file that hold distribution metadata (the others are interpreter binaries). */
type MetadataKind = Exclude<PythonFileKind, 'interpreter' | 'libpython'>;

const IDENTIFIED_BY: Record<MetadataKind, string> = {
  'dist-info': 'dist-info',
  'egg-info-dir': 'egg-info',
  'egg-info-file': 'egg-info',
  'egg-dir': 'egg',
  'egg-zip': 'egg',
};

let eggCounter = 0;

function distPackage(record: DistRecord, identifiedBy: string): ExtractedPackage {
  return {
    type: 'pypi',
    name: record.name,
    version: record.version,
    evidence: 'installed',
    identifiedBy,
    ...(record.licenses.length > 0 ? { licenses: record.licenses } : {}),
    ...(record.originalName !== null ? { metadata: { originalName: record.originalName } } : {}),
  };
}

/** Header bytes → one package; problems become issues on this file. */
function fromHeader(head: HeaderBytes, path: string, kind: MetadataKind, ctx: ExtractContext): ExtractOutput {
  const { record, problems } = parseDistMetadata(decodeMetadata(head.bytes), nameVersionFromPath(path, kind));
  for (const p of problems) ctx.issue(p);
  if (head.capped) ctx.issue(`metadata header section is longer than ${HEADER_CAP} bytes: only its first ${HEADER_CAP} bytes were read`);
  return { packages: [distPackage(record, IDENTIFIED_BY[kind])] };
}

async function metadataFile(stream: Readable, file: FileInfo, kind: Exclude<MetadataKind, 'egg-zip'>, ctx: ExtractContext): Promise<ExtractOutput> {
  const reader = new HeaderReader(HEADER_CAP, file.size);
  await consume(stream, (chunk) => reader.push(chunk), ctx.signal);
  return fromHeader(reader.result(), file.path, kind, ctx);
}

async function eggZip(stream: Readable, file: FileInfo, ctx: ExtractContext): Promise<ExtractOutput> {
  let head: HeaderBytes | null;
  if (file.size <= EGG_IN_MEMORY) {
    head = await readEggPkgInfo({ buffer: await readAll(stream, EGG_IN_MEMORY, ctx.signal) }, HEADER_CAP);
  } else {
    // the name never comes from the image
    const tmp = join(ctx.tempDir, `python-egg-${process.pid}-${++eggCounter}.zip`);
    try {
      await pipeline(stream, createWriteStream(tmp, { flags: 'wx', mode: 0o600 }), { signal: ctx.signal });
      head = await readEggPkgInfo({ path: tmp }, HEADER_CAP);
    } finally {
      await rm(tmp, { force: true });
    }
  }
  if (head === null) throw new Error('egg has no EGG-INFO/PKG-INFO');
  return fromHeader(head, file.path, 'egg-zip', ctx);
}

async function runtimeBinary(stream: Readable, file: FileInfo, kind: 'interpreter' | 'libpython', ctx: ExtractContext): Promise<ExtractOutput> {
  const series = runtimeSeries(file.path, kind);
  const scanner = new PythonVersionScanner(series);
  await consume(
    stream,
    (chunk) => {
      scanner.push(chunk);
      return !scanner.wanted; // not ELF (a pyenv shim script, say): stop reading
    },
    ctx.signal,
  );
  const versions = scanner.finish();
  const version = versions[0];
  // none: a thin launcher linked to libpython (which is reported itself), or not CPython at all
  if (version === undefined) return { packages: [] };
  if (versions.length > 1) ctx.issue(`several Python ${series} version strings in the binary (${versions.join(', ')}); reporting the first`);
  return {
    packages: [{ type: 'generic', name: 'python', version, evidence: 'binary', identifiedBy: 'binary', metadata: { role: 'runtime' } }],
  };
}

/**
 * Installed Python distributions (dist-info, egg-info directory and file forms, egg directories and zipped eggs)
 * and the CPython runtime itself (version read from the interpreter binary or libpython). A stream extractor, so
 * multi-megabyte binaries pass through without being buffered and metadata files are read only up to the end of
 * their headers.
 */
export const pythonDistExtractor: StreamExtractor = {
  name: 'lang/python-dist',
  version: 1,
  scanType: 'SCA',
  input: 'stream',
  // libpython of a debug build or a static conda interpreter can be tens of MB; they are streamed, not held
  maxFileSize: 256 * MiB,
  required: (path) => classify(path) !== null,
  async extractStream(stream, file, ctx) {
    const kind = classify(file.path);
    switch (kind) {
      case null:
        return { packages: [] };
      case 'interpreter':
      case 'libpython':
        return runtimeBinary(stream, file, kind, ctx);
      case 'egg-zip':
        return eggZip(stream, file, ctx);
      default:
        return metadataFile(stream, file, kind, ctx);
    }
  },
};

import { createReadStream, createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { DISTRO_FILE_MAX_SIZE, isDistroFile } from '../distro/files.js';
import type { LayerEntry } from '../image/layer-stream.js';
import { parseWhiteout } from '../image/whiteout.js';
import { isTallyError } from '../model/errors.js';
import { describeError, type LayerIssue } from '../model/issue.js';
import { S_IFREG, type ExtractContext, type ExtractOutput, type Extractor, type FileContent, type FileInfo, type FileInput } from './extractor.js';
import type { FileRecord, LayerResult } from './layer-result.js';

export interface ExtractionPlan {
  readonly extractors: readonly Extractor[];
  /** Files up to this size are handed over in memory; bigger ones are spilled to a temp file. */
  readonly inMemoryLimit: number;
}

export interface LayerRunContext {
  readonly tempDir: string;
  readonly signal: AbortSignal;
}

let spillCounter = 0;

/** Read an entry's bytes: into memory when small, else into a temp file (the name never comes from the image). */
async function readContent(stream: Readable, size: number, plan: ExtractionPlan, tempDir: string): Promise<FileContent> {
  if (size <= plan.inMemoryLimit) {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return { kind: 'buffer', data: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) };
  }
  const path = join(tempDir, `spill-${process.pid}-${++spillCounter}`);
  await pipeline(stream, createWriteStream(path, { flags: 'wx', mode: 0o600 }));
  return { kind: 'file', path };
}

/** The language-artifact predicate OS extractors use to keep only the owned files that matter. */
export function languageArtifactPredicate(extractors: readonly Extractor[]): ((path: string) => boolean) | null {
  const lang = extractors.filter((e) => e.scanType === 'SCA');
  if (lang.length === 0) return null;
  const mode = S_IFREG | 0o755;
  return (path) => lang.some((e) => e.required(path, mode));
}

/**
 * The one pass over a layer: each entry is offered to every extractor's `required()`; wanted files are read once
 * and handed to each extractor that asked; everything else is drained. A failing extractor or a broken stream
 * becomes an issue; only DIGEST_MISMATCH and other typed fatal errors propagate.
 */
export async function runLayer(entries: AsyncIterable<LayerEntry>, plan: ExtractionPlan, ctx: LayerRunContext): Promise<LayerResult> {
  const files = new Map<string, FileRecord[]>();
  const osFiles = new Map<string, string>();
  const symlinks = new Map<string, string>();
  const whiteouts: string[] = [];
  const opaqueDirs: string[] = [];
  const issues: LayerIssue[] = [];
  const isLanguageArtifact = languageArtifactPredicate(plan.extractors);
  let count = 0;
  let complete = true;

  const wanting = (path: string, mode: number): Extractor[] => {
    let out: Extractor[] | null = null;
    for (const e of plan.extractors) {
      if (e.required(path, mode) || (isLanguageArtifact !== null && e.ownershipRequired?.(path) === true)) (out ??= []).push(e);
    }
    return out ?? NONE;
  };

  try {
    for await (const entry of entries) {
      count++;
      if (ctx.signal.aborted) throw ctx.signal.reason;
      const { path } = entry;

      const whiteout = parseWhiteout(path);
      if (whiteout) {
        if (whiteout.kind === 'opaque') opaqueDirs.push(whiteout.dir);
        else whiteouts.push(whiteout.target);
        entry.skip();
        continue;
      }

      switch (entry.kind) {
        case 'file': {
          const distro = isDistroFile(path);
          const interested = wanting(path, entry.mode);
          if (!distro && interested.length === 0) {
            entry.skip();
            break;
          }
          const accepted = interested.filter((e) => {
            if (entry.size <= e.maxFileSize) return true;
            issues.push({ path, extractor: e.name, message: `file skipped: ${entry.size} bytes is over the ${e.maxFileSize}-byte limit` });
            return false;
          });
          if (accepted.length === 0 && !(distro && entry.size <= DISTRO_FILE_MAX_SIZE)) {
            entry.skip();
            break;
          }
          symlinks.delete(path); // a later entry at the same path in this layer replaces an earlier one
          const info: FileInfo = { path, size: entry.size, mode: entry.mode };
          const only = accepted.length === 1 ? accepted[0]! : null;
          if (!distro && only?.input === 'stream') {
            // the common case for big binaries: read once as it passes, nothing buffered
            const stream = entry.open();
            try {
              files.set(path, await runExtractors(accepted, info, () => stream, ctx, isLanguageArtifact, issues));
            } finally {
              await drain(stream);
            }
            break;
          }
          const content = await readContent(entry.open(), entry.size, plan, ctx.tempDir);
          try {
            if (distro && content.kind === 'buffer' && entry.size <= DISTRO_FILE_MAX_SIZE) osFiles.set(path, content.data.toString('utf8'));
            const reopen = (): Readable => (content.kind === 'buffer' ? Readable.from([content.data]) : createReadStream(content.path));
            // Recorded even when empty: the path still replaces whatever lower layers had there.
            files.set(path, await runExtractors(accepted, { ...info, content }, reopen, ctx, isLanguageArtifact, issues));
          } finally {
            if (content.kind === 'file') await rm(content.path, { force: true });
          }
          break;
        }
        case 'symlink': {
          if (isDistroFile(path) || wanting(path, entry.mode).length > 0) {
            symlinks.set(path, entry.linkTarget ?? '');
            files.delete(path);
            osFiles.delete(path);
          }
          entry.skip();
          break;
        }
        case 'hardlink': {
          entry.skip();
          const target = entry.linkTarget ?? '';
          const wanted = isDistroFile(path) || wanting(path, entry.mode).length > 0;
          if (!wanted) break;
          const targetRecords = files.get(target);
          const targetOs = osFiles.get(target);
          symlinks.delete(path);
          if (targetRecords) files.set(path, targetRecords);
          if (targetOs !== undefined && isDistroFile(path)) osFiles.set(path, targetOs);
          if (!targetRecords && targetOs === undefined) {
            issues.push({ path, extractor: null, message: `hardlink to ${target}, which is missing from this layer or was not read` });
          }
          break;
        }
        default:
          entry.skip();
      }
    }
  } catch (err) {
    if (isTallyError(err) || ctx.signal.aborted) throw err;
    complete = false;
    issues.push({ path: null, extractor: null, message: `layer could not be read to its end after ${count} entries: ${describeError(err)}` });
  }

  return {
    files,
    osFiles,
    symlinks,
    whiteouts,
    opaqueDirs,
    issues,
    complete,
    entries: count,
    digest: null,
    diffId: null,
    uncompressedBytes: 0,
  };
}

const NONE: Extractor[] = [];

/** Read whatever an extractor left unread, so the tar stream can move to the next entry. */
async function drain(stream: Readable): Promise<void> {
  if (stream.readableEnded || stream.destroyed) return;
  await new Promise<void>((resolve) => {
    stream.once('end', resolve);
    stream.once('close', resolve);
    stream.once('error', () => resolve());
    stream.resume();
  });
}

async function runExtractors(
  extractors: readonly Extractor[],
  file: FileInfo | FileInput,
  openStream: () => Readable,
  ctx: LayerRunContext,
  isLanguageArtifact: ((path: string) => boolean) | null,
  issues: LayerIssue[],
): Promise<FileRecord[]> {
  const records: FileRecord[] = [];
  for (const extractor of extractors) {
    const extractCtx: ExtractContext = {
      tempDir: ctx.tempDir,
      signal: ctx.signal,
      isLanguageArtifact,
      issue: (message, member) =>
        issues.push({ path: member ? `${file.path}!/${member}` : file.path, extractor: extractor.name, message }),
    };
    try {
      let out: ExtractOutput;
      if (extractor.input === 'stream') {
        const stream = openStream();
        try {
          out = await extractor.extractStream(stream, { path: file.path, size: file.size, mode: file.mode }, extractCtx);
        } finally {
          if (!('content' in file)) await drain(stream);
          else stream.destroy();
        }
      } else {
        if (!('content' in file)) throw new Error('internal: file extractor without buffered content');
        out = await extractor.extract(file, extractCtx);
      }
      if (out.packages.length > 0 || (out.ownership && out.ownership.length > 0)) {
        records.push(out.ownership ? { extractor: extractor.name, packages: out.packages, ownership: out.ownership } : { extractor: extractor.name, packages: out.packages });
      }
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      issues.push({ path: file.path, extractor: extractor.name, message: describeError(err) });
    }
  }
  return records;
}

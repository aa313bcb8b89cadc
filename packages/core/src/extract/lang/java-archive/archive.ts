/**
 * Walks one top-level archive and every archive nested in it (BOOT-INF/lib, WEB-INF/lib, EAR modules, ...),
 * reading only MANIFEST.MF, pom.properties and nested archives. Bounded by depth, inflated bytes, entries,
 * archives opened and memory held; whatever trips a bound becomes an issue and the rest is still reported.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { open, rm, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import zlib from 'node:zlib';
import { GiB, KiB, MiB, type ExtractedPackage } from '../../extractor.js';
import { baseName, identify, parseManifest, parsePomProperties, pomPropertiesPath, type PomProperties } from './parse.js';
import {
  dataOffsetOf,
  FLAG_ENCRYPTED,
  METHOD_DEFLATED,
  METHOD_STORED,
  readCentralDirectory,
  recoverEntries,
  ZipFormatError,
  type CentralDirectory,
  type ZipEntry,
} from './zip.js';

export interface ArchiveLimits {
  /** Nesting levels below the top-level archive. */
  readonly maxDepth: number;
  /** Bytes inflated (nested archives and metadata) per top-level archive. */
  readonly maxInflatedBytes: number;
  /** Central-directory entries read per top-level archive, all levels together. */
  readonly maxEntries: number;
  /** Archives opened per top-level archive (itself included). */
  readonly maxArchives: number;
  /** Nested archives up to this size are held in memory; bigger ones go to a temp file. */
  readonly inMemoryNestedBytes: number;
  /** Memory held by the chain of open nested archives, beyond which they go to temp files. */
  readonly maxHeldBytes: number;
  /** MANIFEST.MF / pom.properties bigger than this are not read. */
  readonly maxMetadataBytes: number;
  /** A nested archive with a declared ratio above this (and bigger than `ratioFloorBytes`) is a zip bomb. */
  readonly maxRatio: number;
  readonly ratioFloorBytes: number;
  /** Issues recorded per top-level archive; the rest are summed up in one. */
  readonly maxIssues: number;
}

export const DEFAULT_LIMITS: ArchiveLimits = {
  maxDepth: 16,
  maxInflatedBytes: 1 * GiB,
  maxEntries: 1_000_000,
  maxArchives: 20_000,
  inMemoryNestedBytes: 32 * MiB,
  maxHeldBytes: 256 * MiB,
  maxMetadataBytes: 4 * MiB,
  maxRatio: 200,
  ratioFloorBytes: 1 * MiB,
  maxIssues: 25,
};

/** Bytes of an archive: in memory, or a file read at offsets. */
export interface ByteSource {
  readonly size: number;
  /** The bytes themselves when in memory (zero-copy reads). */
  readonly buffer: Buffer | null;
  read(offset: number, length: number): Promise<Buffer>;
  /** A stream of `length` bytes from `offset`. */
  stream(offset: number, length: number): Readable;
  close(): Promise<void>;
}

export function bufferSource(buffer: Buffer): ByteSource {
  return {
    size: buffer.length,
    buffer,
    read: (offset, length) => Promise.resolve(buffer.subarray(offset, Math.min(buffer.length, offset + length))),
    stream: (offset, length) => Readable.from([buffer.subarray(offset, Math.min(buffer.length, offset + length))]),
    close: () => Promise.resolve(),
  };
}

export async function fileSource(path: string, size: number): Promise<ByteSource> {
  const fh: FileHandle = await open(path, 'r');
  return {
    size,
    buffer: null,
    async read(offset, length) {
      const n = Math.max(0, Math.min(length, size - offset));
      const buf = Buffer.allocUnsafe(n);
      let done = 0;
      while (done < n) {
        const { bytesRead } = await fh.read(buf, done, n - done, offset + done);
        if (bytesRead === 0) break;
        done += bytesRead;
      }
      return done === n ? buf : buf.subarray(0, done);
    },
    stream: (offset, length) => (length > 0 ? createReadStream(path, { start: offset, end: offset + length - 1 }) : Readable.from([])),
    close: () => fh.close(),
  };
}

export async function sha1OfFile(path: string): Promise<string> {
  const hash = createHash('sha1');
  for await (const chunk of createReadStream(path, { highWaterMark: 1 * MiB })) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export function sha1Of(buf: Buffer): string {
  return createHash('sha1').update(buf).digest('hex');
}

const inflateRawAsync = promisify(zlib.inflateRaw);

/** Inflate in the thread pool above this size, so big nested jars do not stall the event loop. */
const ASYNC_INFLATE_BYTES = 256 * KiB;

/**
 * Never more than the declared size (a bigger output is a bomb: zlib throws ERR_BUFFER_TOO_LARGE), in chunks
 * sized to the output: the default 16 KiB chunks make the thread-pool inflate 2-3x slower on jar-sized inputs.
 */
function inflateOptions(size: number): zlib.ZlibOptions {
  return { maxOutputLength: Math.max(1, size), chunkSize: Math.min(Math.max(size, 16 * KiB), 8 * MiB) };
}

const MANIFEST_NAME = 'META-INF/MANIFEST.MF';

/** Select entries by their raw name bytes, before decoding: `META-INF/` metadata and nested archives. */
function wantedName(raw: Buffer, start: number, end: number): boolean {
  const len = end - start;
  if (len >= 4 && raw[end - 4] === 0x2e /* . */) {
    const key = ((raw[end - 3]! | 0x20) << 16) | ((raw[end - 2]! | 0x20) << 8) | (raw[end - 1]! | 0x20);
    if (ARCHIVE_KEYS.has(key)) return true;
  }
  // META-INF/MANIFEST.MF and META-INF/maven/**/pom.properties
  return len >= 20 && raw[start] === 0x4d && raw[start + 4] === 0x2d && raw[start + 8] === 0x2f && raw.toString('latin1', start, start + 9) === 'META-INF/';
}

const ARCHIVE_KEYS: ReadonlySet<number> = new Set(
  ['jar', 'war', 'ear', 'par', 'sar', 'jpi', 'hpi', 'nar', 'kar'].map((e) => (e.charCodeAt(0) << 16) | (e.charCodeAt(1) << 8) | e.charCodeAt(2)),
);

function isArchiveEntry(name: string): boolean {
  if (name.endsWith('/')) return false;
  const len = name.length;
  if (len < 5 || name.charCodeAt(len - 4) !== 0x2e) return false;
  const key = ((name.charCodeAt(len - 3) | 0x20) << 16) | ((name.charCodeAt(len - 2) | 0x20) << 8) | (name.charCodeAt(len - 1) | 0x20);
  return ARCHIVE_KEYS.has(key);
}

class LimitError extends Error {}

let tempCounter = 0;

export interface WalkContext {
  readonly tempDir: string;
  readonly signal: AbortSignal;
  issue(message: string, member?: string): void;
}

/** What the walker found in one top-level archive. */
export class ArchiveWalker {
  readonly packages: ExtractedPackage[] = [];
  private inflated = 0;
  private entries = 0;
  private archives = 0;
  private issueCount = 0;
  private suppressed = 0;
  private readonly budgetNoted = new Set<string>();

  constructor(
    private readonly ctx: WalkContext,
    private readonly limits: ArchiveLimits = DEFAULT_LIMITS,
  ) {}

  /** Record an issue (capped; the surplus is counted for one closing summary). */
  private issue(message: string, chain: readonly string[]): void {
    if (this.issueCount >= this.limits.maxIssues) {
      this.suppressed++;
      return;
    }
    this.issueCount++;
    if (chain.length > 0) this.ctx.issue(message, chain.join('!/'));
    else this.ctx.issue(message);
  }

  /** Once per kind: a bound that trips for one entry usually trips for all that follow. */
  private budgetIssue(kind: string, message: string, chain: readonly string[]): void {
    if (this.budgetNoted.has(kind)) return;
    this.budgetNoted.add(kind);
    this.issue(message, chain);
  }

  finish(): void {
    if (this.suppressed > 0) this.ctx.issue(`${this.suppressed} more problems in this archive were not listed`);
  }

  /**
   * Identify one archive and recurse into its nested archives. `chain` is the entry path from the top-level
   * file ([] for the file itself), `held` the bytes of in-memory ancestors.
   */
  async walk(source: ByteSource, chain: readonly string[], sha1: string, held: number): Promise<void> {
    if (this.ctx.signal.aborted) throw this.ctx.signal.reason;
    this.archives++;
    const fileName = chain.length > 0 ? baseName(chain[chain.length - 1]!) : this.topName;
    let cd: CentralDirectory | null = null;
    try {
      cd = await readCentralDirectory((o, l) => source.read(o, l), source.size, Math.max(0, this.limits.maxEntries - this.entries), wantedName);
      for (const p of cd.problems) this.issue(p, chain);
      if (cd.problems.some((p) => p.startsWith('more than'))) this.budgetNoted.add('entries');
    } catch (err) {
      if (!(err instanceof ZipFormatError)) throw err;
      cd = this.recover(source, chain, err.message);
    }
    if (cd) this.entries += cd.parsedEntries;

    const entries = cd?.entries ?? [];
    let manifestEntry: ZipEntry | null = null;
    const pomEntries: Array<readonly [ZipEntry, string, string]> = [];
    const nested: ZipEntry[] = [];
    for (const e of entries) {
      if (e.name === MANIFEST_NAME || (e.name.length === MANIFEST_NAME.length && e.name.toUpperCase() === MANIFEST_NAME)) {
        manifestEntry ??= e;
        continue;
      }
      const ga = pomPropertiesPath(e.name);
      if (ga) pomEntries.push([e, ga[0], ga[1]]);
      else if (isArchiveEntry(e.name)) nested.push(e);
    }

    let manifest: Map<string, string> | null = null;
    if (manifestEntry) {
      const bytes = await this.readSmall(source, manifestEntry, chain);
      if (bytes) manifest = parseManifest(bytes.toString('utf8'));
    }
    const poms: PomProperties[] = [];
    for (const [e, g, a] of pomEntries) {
      const bytes = await this.readSmall(source, e, chain);
      if (!bytes) continue;
      const p = parsePomProperties(bytes.toString('utf8'), g, a);
      if (typeof p === 'string') this.issue(`${e.name}: ${p}`, chain);
      else poms.push(p);
    }

    for (const id of identify({ fileName, manifest, poms })) {
      const metadata: Record<string, string> = { ...id.metadata };
      if (id.own) metadata['sha1'] = sha1;
      if (id.own && cd && cd.prefix > 0 && chain.length === 0) metadata['executablePrefixBytes'] = String(cd.prefix);
      this.packages.push({
        type: id.type,
        name: id.name,
        version: id.version,
        evidence: 'installed',
        identifiedBy: id.identifiedBy,
        ...(chain.length > 0 ? { nested: chain } : {}),
        ...(id.licenses.length > 0 ? { licenses: id.licenses } : {}),
        metadata,
      });
    }

    for (const e of nested) {
      if (this.ctx.signal.aborted) throw this.ctx.signal.reason;
      const childChain = [...chain, e.name];
      if (childChain.length > this.limits.maxDepth) {
        this.budgetIssue('depth', `nested archives deeper than ${this.limits.maxDepth} levels were not opened (nesting bomb?)`, childChain);
        continue;
      }
      if (this.archives >= this.limits.maxArchives) {
        this.budgetIssue('archives', `more than ${this.limits.maxArchives} nested archives: the rest were not opened`, childChain);
        break;
      }
      if (this.entries >= this.limits.maxEntries) {
        this.budgetIssue('entries', `more than ${this.limits.maxEntries} zip entries in all: the rest were not read`, childChain);
        break;
      }
      await this.walkNested(source, e, childChain, held);
    }
  }

  /** Set by `walkTop`: the top-level archive's file name. */
  private topName = '';

  async walkTop(source: ByteSource, fileName: string, sha1: string): Promise<void> {
    this.topName = fileName;
    try {
      await this.walk(source, [], sha1, source.buffer ? source.size : 0);
    } finally {
      this.finish();
    }
  }

  private recover(source: ByteSource, chain: readonly string[], why: string): CentralDirectory | null {
    if (!source.buffer) {
      this.issue(`${why}; not a readable zip archive`, chain);
      return null;
    }
    // Entries with data descriptors have no size up front: inflating them is the only way to find their end,
    // and that output counts against the budget like any other.
    const deflateLength = (buf: Buffer, start: number): number | null => {
      const remaining = this.limits.maxInflatedBytes - this.inflated;
      if (remaining <= 0) return null;
      try {
        const r = zlib.inflateRawSync(buf.subarray(start), { info: true, maxOutputLength: Math.min(remaining, 64 * MiB) }) as unknown as {
          buffer: Buffer;
          engine: { bytesWritten: number };
        };
        this.inflated += r.buffer.length;
        return r.engine.bytesWritten;
      } catch {
        return null;
      }
    };
    const { entries, complete } = recoverEntries(source.buffer, Math.max(0, this.limits.maxEntries - this.entries), wantedName, deflateLength);
    if (complete === 0) {
      this.issue(`${why}; not a readable zip archive`, chain);
      return null;
    }
    this.issue(`${why}; recovered ${complete} entries from local headers`, chain);
    return { entries, prefix: 0, declaredEntries: complete, parsedEntries: complete, problems: [] };
  }

  private chargeInflate(bytes: number, chain: readonly string[], name: string): boolean {
    if (this.inflated + bytes > this.limits.maxInflatedBytes) {
      this.budgetIssue(
        'inflate',
        `${name}: ${bytes} more bytes would exceed the ${this.limits.maxInflatedBytes}-byte budget for this archive: not read (zip bomb?)`,
        chain,
      );
      return false;
    }
    this.inflated += bytes;
    return true;
  }

  /** Check what the central directory says before reading anything; null when the entry cannot be read. */
  private readable(source: ByteSource, e: ZipEntry): string | null {
    if ((e.flags & FLAG_ENCRYPTED) !== 0) return 'encrypted entry';
    if (e.method !== METHOD_STORED && e.method !== METHOD_DEFLATED) return `unsupported compression method ${e.method}`;
    if (e.method === METHOD_STORED && e.compressedSize !== e.uncompressedSize) {
      return `stored entry declares ${e.uncompressedSize} bytes but holds ${e.compressedSize}`;
    }
    if (e.localHeaderOffset + e.compressedSize > source.size) return 'entry data runs past the end of the archive (truncated?)';
    return null;
  }

  /** MANIFEST.MF or pom.properties: small, inflated in memory. */
  private async readSmall(source: ByteSource, e: ZipEntry, chain: readonly string[]): Promise<Buffer | null> {
    const problem = this.readable(source, e);
    if (problem) {
      this.issue(`${e.name}: ${problem}`, chain);
      return null;
    }
    if (e.uncompressedSize > this.limits.maxMetadataBytes) {
      this.issue(`${e.name}: ${e.uncompressedSize} bytes is over the ${this.limits.maxMetadataBytes}-byte limit: not read`, chain);
      return null;
    }
    if (!this.chargeInflate(e.uncompressedSize, chain, e.name)) return null;
    try {
      const start = await dataOffsetOf((o, l) => source.read(o, l), e);
      const raw = await source.read(start, e.compressedSize);
      if (raw.length < e.compressedSize) throw new Error('entry data runs past the end of the archive (truncated?)');
      if (e.method === METHOD_STORED) return raw;
      return zlib.inflateRawSync(raw, inflateOptions(e.uncompressedSize));
    } catch (err) {
      this.issue(`${e.name}: ${inflateProblem(err, e)}`, chain);
      return null;
    }
  }

  /** Open a nested archive (in memory, or via a temp file when big), then walk it. */
  private async walkNested(parent: ByteSource, e: ZipEntry, chain: readonly string[], held: number): Promise<void> {
    const problem = this.readable(parent, e);
    if (problem) {
      this.issue(problem, chain);
      return;
    }
    const size = e.uncompressedSize;
    if (e.method === METHOD_DEFLATED && size > this.limits.ratioFloorBytes && size > e.compressedSize * this.limits.maxRatio) {
      this.issue(`declares ${size} bytes from ${e.compressedSize} compressed (ratio over ${this.limits.maxRatio}): not opened (zip bomb?)`, chain);
      return;
    }
    // stored entries count too: every byte of a nested archive is hashed and walked
    if (!this.chargeInflate(size, chain, e.name)) return;

    let start: number;
    try {
      start = await dataOffsetOf((o, l) => parent.read(o, l), e);
    } catch (err) {
      this.issue(`cannot read: ${describe(err)}`, chain);
      return;
    }
    if (start + e.compressedSize > parent.size) {
      this.issue('entry data runs past the end of the archive (truncated?)', chain);
      return;
    }

    const inMemory = size <= this.limits.inMemoryNestedBytes && held + size <= this.limits.maxHeldBytes;
    if (inMemory) {
      let bytes: Buffer;
      try {
        const raw = await parent.read(start, e.compressedSize);
        if (e.method === METHOD_STORED) bytes = raw;
        else if (raw.length <= ASYNC_INFLATE_BYTES) bytes = zlib.inflateRawSync(raw, inflateOptions(size));
        else bytes = await inflateRawAsync(raw, inflateOptions(size));
      } catch (err) {
        if (this.ctx.signal.aborted) throw this.ctx.signal.reason;
        this.issue(inflateProblem(err, e), chain);
        return;
      }
      if (bytes.length !== size) this.issue(`inflated to ${bytes.length} bytes, ${size} declared`, chain);
      // a stored child of an in-memory parent is a view into it: nothing more is held
      const extra = parent.buffer && e.method === METHOD_STORED ? 0 : bytes.length;
      await this.walk(bufferSource(bytes), chain, sha1Of(bytes), held + extra);
      return;
    }

    const path = join(this.ctx.tempDir, `java-nested-${process.pid}-${++tempCounter}`);
    try {
      let sha1: string;
      try {
        sha1 = await this.spill(parent, start, e, path);
      } catch (err) {
        if (this.ctx.signal.aborted) throw this.ctx.signal.reason;
        this.issue(err instanceof LimitError ? err.message : `cannot extract: ${inflateProblem(err, e)}`, chain);
        return;
      }
      const child = await fileSource(path, size);
      try {
        await this.walk(child, chain, sha1, held);
      } finally {
        await child.close();
      }
    } finally {
      await rm(path, { force: true });
    }
  }

  /** Copy (stored) or inflate (deflated) an entry into a temp file, hashing on the way; never past the declared size. */
  private async spill(parent: ByteSource, start: number, e: ZipEntry, path: string): Promise<string> {
    const hash = createHash('sha1');
    let written = 0;
    const size = e.uncompressedSize;
    const guard = new Transform({
      transform(chunk: Buffer, _enc, done: TransformCallback) {
        written += chunk.length;
        if (written > size) {
          done(new LimitError(`inflates past its declared ${size} bytes: not opened (zip bomb?)`));
          return;
        }
        hash.update(chunk);
        done(null, chunk);
      },
    });
    const input = parent.stream(start, e.compressedSize);
    const out = createWriteStream(path, { flags: 'wx', mode: 0o600 });
    if (e.method === METHOD_STORED) await pipeline(input, guard, out, { signal: this.ctx.signal });
    else await pipeline(input, zlib.createInflateRaw({ chunkSize: 1 * MiB }), guard, out, { signal: this.ctx.signal });
    if (written !== size) throw new LimitError(`inflated to ${written} bytes, ${size} declared (truncated?)`);
    return hash.digest('hex');
  }
}

function inflateProblem(err: unknown, e: ZipEntry): string {
  const code = typeof err === 'object' && err !== null && 'code' in err ? (err as { code: unknown }).code : null;
  if (code === 'ERR_BUFFER_TOO_LARGE') return `inflates past its declared ${e.uncompressedSize} bytes (zip bomb?)`;
  return `cannot inflate: ${describe(err)}`;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

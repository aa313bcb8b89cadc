import { createHash, type Hash } from 'node:crypto';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import * as tar from 'tar-stream';
import { TallyError } from '../model/errors.js';
import { compressionOfMediaType, createDecompressor, sniffCompression, type Compression } from './decompress.js';
import { normalizePath } from './path.js';
import { S_IFDIR, S_IFLNK, S_IFREG } from '../extract/extractor.js';

export type EntryKind = 'file' | 'symlink' | 'hardlink' | 'directory' | 'other';

/** One entry of a layer, whatever the layer is made of (a tar blob or a directory on disk). */
export interface LayerEntry {
  /** Normalised absolute path. */
  readonly path: string;
  readonly kind: EntryKind;
  /** Type bits | permission bits. */
  readonly mode: number;
  readonly size: number;
  /** symlink: the target as written; hardlink: the normalised path of the file it links to. */
  readonly linkTarget: string | null;
  /** File content for kind 'file'. The consumer must read it to the end or call `skip()`. */
  open(): Readable;
  skip(): void;
}

export interface LayerStreamFacts {
  readonly digest: string;
  readonly diffId: string;
  readonly compressedBytes: number;
  readonly uncompressedBytes: number;
}

export interface LayerLimits {
  /** Stop reading a layer whose uncompressed size passes this. */
  readonly maxUncompressedBytes: number;
  /** Past `ratioCheckAfterBytes` of output, stop when output/input exceeds this (gzip/zstd bombs). */
  readonly maxCompressionRatio: number;
  readonly ratioCheckAfterBytes: number;
}

export const DEFAULT_LAYER_LIMITS: LayerLimits = {
  maxUncompressedBytes: 64 * 1024 ** 3,
  maxCompressionRatio: 200,
  ratioCheckAfterBytes: 512 * 1024 ** 2,
};

/** A layer stopped early because it is too big or compresses implausibly well: the scan reports it and goes on. */
export class LayerLimitError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LayerLimitError';
  }
}

export interface TarLayerOptions {
  readonly label: string; // "layer 3 (sha256:…)" for messages
  readonly mediaType: string;
  readonly expectedDigest: string | null;
  readonly expectedDiffId: string | null;
  readonly limits: LayerLimits;
  readonly onBytes?: (compressedBytes: number) => void;
}

/** Pass-through that hashes and counts; optionally enforces the bomb limits against a sibling counter. */
class Digester extends Transform {
  readonly hash: Hash = createHash('sha256');
  bytes = 0;
  constructor(private readonly check: ((bytes: number) => Error | null) | null, private readonly onBytes?: (n: number) => void) {
    super({ highWaterMark: 256 * 1024 });
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    this.onBytes?.(chunk.length);
    const err = this.check?.(this.bytes) ?? null;
    done(err, err ? undefined : chunk);
  }
  private result: string | null = null;
  digest(): string {
    this.result ??= 'sha256:' + this.hash.digest('hex');
    return this.result;
  }
}

/** Reads at least `bytes` (fewer at the end) and pushes them back, so the stream still starts at its first byte. */
export async function peek(stream: Readable, bytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let have = 0;
  for (;;) {
    const chunk = stream.read() as Buffer | null;
    if (chunk !== null) {
      chunks.push(chunk);
      have += chunk.length;
      if (have >= bytes) break;
      continue;
    }
    if (stream.readableEnded) break;
    const ended = await new Promise<boolean>((resolve, reject) => {
      const onReadable = (): void => cleanup(false);
      const onEnd = (): void => cleanup(true);
      const onError = (err: Error): void => {
        stream.off('readable', onReadable);
        stream.off('end', onEnd);
        reject(err);
      };
      const cleanup = (end: boolean): void => {
        stream.off('readable', onReadable);
        stream.off('end', onEnd);
        stream.off('error', onError);
        resolve(end);
      };
      stream.once('readable', onReadable);
      stream.once('end', onEnd);
      stream.once('error', onError);
    });
    if (ended) break;
  }
  const head = Buffer.concat(chunks);
  if (head.length > 0) stream.unshift(head);
  return head;
}

function kindOf(type: tar.Header['type']): EntryKind {
  switch (type) {
    case 'file':
    case 'contiguous-file':
      return 'file';
    case 'symlink':
      return 'symlink';
    case 'link':
      return 'hardlink';
    case 'directory':
      return 'directory';
    default:
      return 'other';
  }
}

const TYPE_BITS: Record<EntryKind, number> = { file: S_IFREG, hardlink: S_IFREG, symlink: S_IFLNK, directory: S_IFDIR, other: 0 };

/**
 * Stream one layer blob once: verify its digest, decompress (gzip, zstd or none, sniffed), verify the diffId,
 * and yield tar entries. Verification results are known only at the end: call `facts()` after iterating;
 * it throws DIGEST_MISMATCH when a digest does not match.
 */
export class TarLayerReader implements AsyncIterable<LayerEntry> {
  private compressed: Digester | null = null;
  private uncompressed: Digester | null = null;
  private flow: Promise<void> | null = null;
  /** The compression found in the blob's first bytes; null until iteration starts. */
  compression: Compression | null = null;

  constructor(private readonly blob: Readable, private readonly opts: TarLayerOptions) {}

  async *[Symbol.asyncIterator](): AsyncIterator<LayerEntry> {
    const { opts } = this;
    const declared = compressionOfMediaType(opts.mediaType);
    if (declared === null) {
      this.blob.destroy();
      throw new TallyError('UNSUPPORTED_MEDIA_TYPE', `${opts.label}: unsupported layer media type ${opts.mediaType}`);
    }
    const head = await peek(this.blob, 4);
    const sniffed = sniffCompression(head);
    this.compression = sniffed;
    const decompressor = createDecompressor(sniffed);

    const compressed = new Digester(null, opts.onBytes);
    const limits = opts.limits;
    const uncompressed = new Digester((out) => {
      if (out > limits.maxUncompressedBytes) {
        return new LayerLimitError(`uncompressed size passed the limit of ${limits.maxUncompressedBytes} bytes`);
      }
      if (out > limits.ratioCheckAfterBytes && out / Math.max(1, compressed.bytes) > limits.maxCompressionRatio) {
        return new LayerLimitError(
          `compression ratio ${Math.round(out / Math.max(1, compressed.bytes))}:1 after ${out} bytes looks like a decompression bomb`,
        );
      }
      return null;
    });
    this.compressed = compressed;
    // An uncompressed blob's digest is its diffId: hash those bytes once, not twice.
    this.uncompressed = decompressor ? uncompressed : compressed;

    const extract = tar.extract();
    this.flow = decompressor ? pipeline(this.blob, compressed, decompressor, uncompressed) : pipeline(this.blob, compressed);
    this.flow.catch((err: unknown) => extract.destroy(err instanceof Error ? err : new Error(String(err))));
    this.uncompressed.pipe(extract as unknown as NodeJS.WritableStream);

    try {
      for await (const entry of extract) {
        const h = entry.header;
        const kind = kindOf(h.type);
        const path = normalizePath(h.name);
        let consumed = false;
        yield {
          path,
          kind,
          mode: TYPE_BITS[kind] | (h.mode & 0o7777),
          size: kind === 'file' ? h.size : 0,
          linkTarget: kind === 'symlink' ? h.linkname : kind === 'hardlink' ? normalizePath(h.linkname) : null,
          open: () => {
            consumed = true;
            return entry as unknown as Readable;
          },
          skip: () => {
            consumed = true;
            entry.resume();
          },
        };
        if (!consumed) entry.resume();
      }
    } catch (err) {
      this.blob.destroy();
      throw err;
    }
    // Tar end-of-archive can come before the blob's end: let the pipeline finish so the digests cover every byte.
    await this.flow;
  }

  /** Digests and sizes; call after iterating to the end. Throws DIGEST_MISMATCH. */
  facts(): LayerStreamFacts {
    const { compressed, uncompressed, opts } = this;
    if (!compressed || !uncompressed) throw new Error('layer was not read');
    const digest = compressed.digest();
    const diffId = uncompressed.digest();
    if (opts.expectedDigest && opts.expectedDigest !== digest) {
      throw new TallyError('DIGEST_MISMATCH', `${opts.label}: blob digest is ${digest}, the manifest says ${opts.expectedDigest}`);
    }
    if (opts.expectedDiffId && opts.expectedDiffId !== diffId) {
      throw new TallyError('DIGEST_MISMATCH', `${opts.label}: uncompressed digest is ${diffId}, the config's diff_id is ${opts.expectedDiffId}`);
    }
    return { digest, diffId, compressedBytes: compressed.bytes, uncompressedBytes: uncompressed.bytes };
  }
}

import { Transform, type TransformCallback } from 'node:stream';
import { createGunzip } from 'node:zlib';
import * as zlib from 'node:zlib';
import { Decompress as ZstdDecompress } from 'fzstd';

export type Compression = 'gzip' | 'zstd' | 'none';

const GZIP_MAGIC = [0x1f, 0x8b];
const ZSTD_MAGIC = [0x28, 0xb5, 0x2f, 0xfd];

/** Identify a blob's compression from its first bytes (media types lie in docker-archives, and some registries). */
export function sniffCompression(head: Uint8Array): Compression {
  if (GZIP_MAGIC.every((b, i) => head[i] === b)) return 'gzip';
  if (ZSTD_MAGIC.every((b, i) => head[i] === b)) return 'zstd';
  return 'none';
}

/** The compression a layer media type declares, or null when the type is not a layer Tally reads. */
export function compressionOfMediaType(mediaType: string): Compression | 'unknown' | null {
  switch (mediaType) {
    case 'application/vnd.oci.image.layer.v1.tar':
    case 'application/vnd.oci.image.layer.nondistributable.v1.tar':
    case 'application/vnd.docker.image.rootfs.diff.tar':
      return 'none';
    case 'application/vnd.oci.image.layer.v1.tar+gzip':
    case 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip':
    case 'application/vnd.docker.image.rootfs.diff.tar.gzip':
    case 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip':
      return 'gzip';
    case 'application/vnd.oci.image.layer.v1.tar+zstd':
    case 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd':
    case 'application/vnd.docker.image.rootfs.diff.tar.zstd':
      return 'zstd';
    case '': // docker-archive manifests carry no media type: sniff
      return 'unknown';
    default:
      return null;
  }
}

/**
 * zstd for Node 20, which has no zlib zstd. fzstd is pure JS with a push API, so it streams; this wraps it in a
 * Transform. On Node >= 22.15 the built-in (native, faster) decompressor is used instead.
 */
class FzstdTransform extends Transform {
  private readonly decoder: ZstdDecompress;
  private pending: Uint8Array[] = [];

  constructor() {
    super();
    this.decoder = new ZstdDecompress((chunk) => {
      this.pending.push(chunk);
    });
  }

  private flushPending(): void {
    for (const chunk of this.pending) this.push(chunk);
    this.pending = [];
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    try {
      this.decoder.push(chunk);
      this.flushPending();
      done();
    } catch (err) {
      done(err as Error);
    }
  }

  override _flush(done: TransformCallback): void {
    try {
      this.decoder.push(new Uint8Array(0), true);
      this.flushPending();
      done();
    } catch (err) {
      done(err instanceof Error ? err : new Error('zstd: truncated stream'));
    }
  }
}

type ZlibWithZstd = { createZstdDecompress?: () => Transform };

export function createDecompressor(kind: Compression): Transform | null {
  switch (kind) {
    case 'none':
      return null;
    case 'gzip':
      // Layers are often several gzip members concatenated (pigz, some builders); zlib handles that by default.
      return createGunzip({ chunkSize: 256 * 1024 });
    case 'zstd': {
      const native = (zlib as unknown as ZlibWithZstd).createZstdDecompress;
      return native ? native() : new FzstdTransform();
    }
  }
}

import { spawn } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { Duplex, Readable, Transform, type TransformCallback } from 'node:stream';
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
 * zstd for Node 20, which has no zlib zstd, when no `zstd` program is installed. fzstd is pure JS with a push API,
 * so it streams; this wraps it in a Transform. On Node >= 22.15 the built-in (native) decompressor is used instead.
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

/** The `zstd` program on PATH. */
function findZstd(): string | null {
  for (const dir of (process.env['PATH'] ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, 'zstd');
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

let zstdProgram: string | null | undefined;

/**
 * zstd through the system's `zstd` program when it is installed: native code, measured 10-15x faster than fzstd on
 * the test layers, and off the event loop. The layer goes to its stdin and comes back on stdout; --memory caps the
 * window a crafted frame may demand; the size and ratio limits downstream still apply. A failure (corrupt or
 * truncated data) is an error carrying zstd's own message; a stream destroyed early kills the process.
 */
function zstdProcess(program: string): Duplex {
  const child = spawn(program, ['-d', '-c', '-q', '--memory=512MB'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (c: string) => {
    if (stderr.length < 2000) stderr += c;
  });
  const exited = new Promise<string | null>((resolve) => {
    child.once('error', (err) => resolve(err.message));
    child.once('close', (code, signal) => resolve(code === 0 ? null : stderr.trim().split('\n').pop() || `exited with ${code ?? signal}`));
  });
  // The output ends only once the exit status is known: a truncated or corrupt layer must fail, not end early.
  async function* output(): AsyncGenerator<Buffer> {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    const failure = await exited;
    if (failure !== null) throw new Error(`zstd: ${failure}`);
  }
  const duplex = Duplex.from({ readable: Readable.from(output(), { objectMode: false }), writable: child.stdin });
  duplex.once('close', () => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
  });
  return duplex;
}

export function createDecompressor(kind: Compression): Duplex | null {
  switch (kind) {
    case 'none':
      return null;
    case 'gzip':
      // Layers are often several gzip members concatenated (pigz, some builders); zlib handles that by default.
      return createGunzip({ chunkSize: 256 * 1024 });
    case 'zstd': {
      const native = (zlib as unknown as ZlibWithZstd).createZstdDecompress;
      if (native) return native();
      zstdProgram ??= findZstd();
      // TALLY_ZSTD=js: the pure-JS decoder even when the program is there (tests cover both).
      return zstdProgram !== null && process.env['TALLY_ZSTD'] !== 'js' ? zstdProcess(zstdProgram) : new FzstdTransform();
    }
  }
}

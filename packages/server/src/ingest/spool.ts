/**
 * Receiving an upload body: inflate (gzip), cap, hash and keep it, in memory while small and in a temp file beyond
 * that, so ingestion can read it twice (validate everything, then write in one transaction) without holding the
 * network connection open during the transaction or a large body in memory.
 *
 * A small upload (the usual sensor report) is kept as it came over the wire (receiveBody): it is inflated and hashed
 * where it is inspected, in a worker thread (inflateInMemory, ingest/inspect-pool.ts), not on the main thread, which
 * is the SQLite writer. One that inflates past the memory size is spooled from those bytes as a large one is.
 *
 * Caps are enforced as bytes arrive: a declared Content-Length over the cap is refused before anything is read
 * (api/scans.ts), and a chunked or gzip body stops being read the moment it crosses the cap (a gzip bomb inflates
 * only up to the cap).
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, rmSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import { createGunzip, createInflate, gunzipSync, inflateSync } from 'node:zlib';
import { Readable, Transform } from 'node:stream';

export interface SpoolLimits {
  /** Bytes on the wire. */
  readonly maxCompressedBytes: number;
  /** Bytes after inflating. */
  readonly maxInflatedBytes: number;
  /** Kept in memory up to this size, then in a temp file. */
  readonly memoryBytes: number;
}

export const DEFAULT_SPOOL_LIMITS: SpoolLimits = {
  maxCompressedBytes: 512 * 1024 * 1024,
  maxInflatedBytes: 512 * 1024 * 1024,
  memoryBytes: 8 * 1024 * 1024,
};

export class SpoolError extends Error {
  override readonly name = 'SpoolError';
  constructor(
    message: string,
    readonly statusCode: 400 | 413 | 415,
  ) {
    super(message);
  }

  /** The API's error code. */
  get code(): 'TOO_LARGE' | 'UNSUPPORTED_ENCODING' | 'BAD_BODY' {
    return this.statusCode === 413 ? 'TOO_LARGE' : this.statusCode === 415 ? 'UNSUPPORTED_ENCODING' : 'BAD_BODY';
  }
}

export interface Spool {
  /** sha256 (hex) of the inflated body. */
  readonly sha256: string;
  /** Bytes received on the wire. */
  readonly compressedBytes: number;
  /** True while the body is held in memory (small uploads): pass 1 may keep what it parsed. */
  readonly inMemory: boolean;
  /** Reads the body from the start (may be called more than once). */
  chunks(): AsyncIterable<Buffer>;
  dispose(): void;
}

export type Encoding = 'identity' | 'gzip' | 'deflate';

/** The Content-Encoding header's value, or null when it is not one the backend reads. */
export function encodingOf(header: string | undefined): Encoding | null {
  const e = (header ?? 'identity').trim().toLowerCase();
  if (e === '' || e === 'identity') return 'identity';
  if (e === 'gzip' || e === 'x-gzip') return 'gzip';
  if (e === 'deflate') return 'deflate';
  return null;
}

function decoderFor(encoding: string | undefined): (() => Transform | null) | null {
  const e = encodingOf(encoding);
  if (e === null) return null;
  return e === 'gzip' ? () => createGunzip() : e === 'deflate' ? () => createInflate() : () => null;
}

/** An upload body as received: small ones as they came over the wire, larger ones spooled. */
export interface Received {
  /** The bytes as sent, when the upload was small enough to keep so; else null (it was spooled on arrival). */
  readonly wire: WireBody | null;
  /** Bytes received on the wire. */
  readonly wireBytes: number;
  /** The body inflated and spooled: the one spooled on arrival, or spooled now from the wire bytes. */
  spool(): Promise<Spool>;
  dispose(): void;
}

export interface WireBody {
  readonly bytes: Buffer;
  readonly encoding: Encoding;
  readonly limits: SpoolLimits;
}

/**
 * Reads an upload: up to the memory size (and the wire cap) into memory, as sent; past that, the rest is spooled by
 * spoolBody (inflated into a temp file). Errors as spoolBody's.
 */
export async function receiveBody(body: Readable, encoding: string | undefined, tmpDir: string, limits: SpoolLimits = DEFAULT_SPOOL_LIMITS): Promise<Received> {
  const enc = encodingOf(encoding);
  if (enc === null) throw new SpoolError(`unsupported Content-Encoding ${JSON.stringify(encoding)}: send gzip, deflate or identity`, 415);
  const held: Buffer[] = [];
  let size = 0;
  // Read by hand rather than `for await … break`: breaking out would destroy the stream the spool must go on reading.
  const it = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const next = (): Promise<IteratorResult<Buffer>> =>
    it.next().catch(() => {
      throw new SpoolError('the client closed the connection during the upload', 400);
    });
  for (let n = await next(); n.done !== true; n = await next()) {
    held.push(n.value);
    size += n.value.length;
    if (size > Math.min(limits.memoryBytes, limits.maxCompressedBytes)) {
      async function* rest(): AsyncIterable<Buffer> {
        yield* held;
        for (let m = await next(); m.done !== true; m = await next()) yield m.value;
      }
      const spool = await spoolBody(Readable.from(rest(), { objectMode: false }), encoding, tmpDir, limits);
      return { wire: null, wireBytes: spool.compressedBytes, spool: async () => spool, dispose: () => spool.dispose() };
    }
  }
  const wire: WireBody = { bytes: held.length === 1 ? (held[0] as Buffer) : Buffer.concat(held, size), encoding: enc, limits };
  let spooled: Spool | null = null;
  return {
    wire,
    wireBytes: size,
    spool: async () => (spooled ??= await spoolBody(Readable.from([wire.bytes]), enc, tmpDir, limits)),
    dispose: () => spooled?.dispose(),
  };
}

/**
 * Inflate and hash a body held in memory (in the inspection worker, or on the main thread without one), within the
 * same caps as spoolBody: null when it inflates past the memory size (it must then be spooled), a 413 past the
 * inflated cap, a 400 when the bytes are not valid for their encoding. zlib's maxOutputLength stops a bomb at the cap.
 */
export function inflateInMemory(wire: WireBody): { readonly body: Buffer; readonly sha256: string } | null {
  const { limits } = wire;
  const cap = Math.min(limits.memoryBytes, limits.maxInflatedBytes);
  let body: Buffer;
  try {
    body = wire.encoding === 'gzip' ? gunzipSync(wire.bytes, { maxOutputLength: cap + 1 }) : wire.encoding === 'deflate' ? inflateSync(wire.bytes, { maxOutputLength: cap + 1 }) : wire.bytes;
  } catch (err) {
    if ((err as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') return inflatedPastCap(limits);
    throw new SpoolError(`the body is not valid ${wire.encoding} data`, 400);
  }
  if (body.length > cap) return inflatedPastCap(limits);
  return { body, sha256: createHash('sha256').update(body).digest('hex') };
}

function inflatedPastCap(limits: SpoolLimits): null {
  if (limits.maxInflatedBytes <= limits.memoryBytes) throw new SpoolError(`the report is larger than ${limits.maxInflatedBytes} bytes once inflated`, 413);
  return null;
}

/**
 * Reads `body` to the end, or up to the first cap it crosses and then throws a 413 SpoolError. On any error the
 * body is left unread but intact (not destroyed), so the caller can still answer on the same socket and close it.
 * `tmpDir` is created when needed; the temp file is removed by `dispose()` (and on error).
 */
export async function spoolBody(body: Readable, encoding: string | undefined, tmpDir: string, limits: SpoolLimits = DEFAULT_SPOOL_LIMITS): Promise<Spool> {
  const decoder = decoderFor(encoding);
  if (decoder === null) throw new SpoolError(`unsupported Content-Encoding ${JSON.stringify(encoding)}: send gzip, deflate or identity`, 415);
  let compressed = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      compressed += chunk.length;
      if (compressed > limits.maxCompressedBytes) done(new SpoolError(`the upload is larger than ${limits.maxCompressedBytes} bytes`, 413));
      else done(null, chunk);
    },
  });
  const inflate = decoder();
  const inflated: Transform = inflate === null ? counter : counter.pipe(inflate);
  if (inflate !== null) counter.on('error', (err) => inflate.destroy(err));
  const onAbort = (err?: Error): void => {
    inflated.destroy(err ?? new SpoolError('the client closed the connection during the upload', 400));
  };
  body.on('error', onAbort);
  body.on('aborted', onAbort);
  body.pipe(counter);

  const hash = createHash('sha256');
  const memory: Buffer[] = [];
  let bytes = 0;
  let file: { path: string; stream: WriteStream } | null = null;
  try {
    for await (const chunk of inflated) {
      const buf = chunk as Buffer;
      bytes += buf.length;
      if (bytes > limits.maxInflatedBytes) throw new SpoolError(`the report is larger than ${limits.maxInflatedBytes} bytes once inflated`, 413);
      hash.update(buf);
      if (file === null && bytes > limits.memoryBytes) {
        mkdirSync(tmpDir, { recursive: true });
        const path = join(tmpDir, `upload-${process.pid}-${randomBytes(6).toString('hex')}.json`);
        file = { path, stream: createWriteStream(path) };
        for (const m of memory) await write(file.stream, m);
        memory.length = 0;
      }
      if (file !== null) await write(file.stream, buf);
      else memory.push(buf);
    }
    if (file !== null) await closeStream(file.stream);
  } catch (err) {
    body.unpipe(counter);
    body.pause();
    inflated.destroy();
    if (file !== null) {
      file.stream.destroy();
      rmSync(file.path, { force: true });
    }
    if (err instanceof SpoolError) throw err;
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'string' && code.startsWith('Z_')) throw new SpoolError(`the body is not valid ${encoding ?? ''} data`, 400);
    throw err;
  } finally {
    body.off('error', onAbort);
    body.off('aborted', onAbort);
  }
  const sha256 = hash.digest('hex');
  const spooled = file;
  return {
    sha256,
    compressedBytes: compressed,
    inMemory: spooled === null,
    chunks: () => (spooled === null ? iterate(memory) : createReadStream(spooled.path, { highWaterMark: 256 * 1024 })),
    dispose: () => {
      memory.length = 0;
      if (spooled !== null) rmSync(spooled.path, { force: true });
    },
  };
}

async function* iterate(buffers: readonly Buffer[]): AsyncIterable<Buffer> {
  for (const b of buffers) yield b;
}

function write(stream: WriteStream, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.write(chunk, (err) => (err ? reject(err) : resolve()));
  });
}

function closeStream(stream: WriteStream): Promise<void> {
  return new Promise((resolve, reject) => {
    stream.end((err?: Error | null) => (err ? reject(err) : resolve()));
  });
}

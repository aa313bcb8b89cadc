/**
 * Byte-stream plumbing for the importers: peeking at the start of a stream (format detection by content), bounded
 * gunzip, and a bounded line splitter. Feeds are read as streams so that memory stays bounded by the largest single
 * record, never by the file: the live Debian tracker JSON and the EPSS CSV are tens of megabytes, osv.dev zips more.
 */
import { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

export type ByteSource = AsyncIterable<Buffer>;

function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  throw new TypeError('byte stream yielded a non-byte chunk');
}

/** A byte stream whose first bytes can be looked at before it is consumed; the peeked bytes are replayed. */
export class Peekable implements AsyncIterable<Buffer> {
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private ended = false;
  private iterated = false;
  private readonly it: AsyncIterator<unknown>;

  constructor(source: AsyncIterable<unknown>) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** At least `n` bytes from the start (fewer only at end of stream). Does not consume anything. */
  async peek(n: number): Promise<Buffer> {
    while (this.headBytes < n && !this.ended) {
      const r = await this.it.next();
      if (r.done) {
        this.ended = true;
        break;
      }
      const b = toBuffer(r.value);
      this.head.push(b);
      this.headBytes += b.length;
    }
    return this.head.length === 1 ? (this.head[0] ?? Buffer.alloc(0)) : Buffer.concat(this.head);
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    if (this.iterated) throw new Error('Peekable stream consumed twice');
    this.iterated = true;
    try {
      while (this.head.length > 0) {
        const b = this.head.shift();
        if (b) yield b;
      }
      if (this.ended) return;
      for (;;) {
        const r = await this.it.next();
        if (r.done) return;
        yield toBuffer(r.value);
      }
    } finally {
      // Stop the underlying stream (closes file descriptors) when the consumer stops early.
      await this.close();
    }
  }

  async close(): Promise<void> {
    if (!this.ended) {
      this.ended = true;
      await this.it.return?.();
    }
  }
}

export const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);

export function isGzip(head: Buffer): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

export function isZip(head: Buffer): boolean {
  // Local file header, or the end-of-central-directory record of an empty archive.
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && ((head[2] === 3 && head[3] === 4) || (head[2] === 5 && head[3] === 6));
}

/**
 * Decompress a gzip stream (concatenated members too), refusing to produce more than `maxBytes`: a gzip bomb ends in
 * an error instead of filling the disk or the CPU budget. A truncated stream ends in zlib's "unexpected end of file".
 */
export async function* gunzip(source: ByteSource, maxBytes: number): AsyncGenerator<Buffer> {
  const input = Readable.from(source, { objectMode: false });
  const gz = createGunzip();
  input.on('error', (err) => gz.destroy(err));
  input.pipe(gz);
  let total = 0;
  try {
    for await (const chunk of gz) {
      const b = toBuffer(chunk);
      total += b.length;
      if (total > maxBytes) throw new Error(`gzip stream expands beyond ${maxBytes} bytes (limit)`);
      yield b;
    }
  } finally {
    input.destroy();
    gz.destroy();
  }
}

export interface Line {
  /** 1-based line number. */
  readonly no: number;
  /** The line without its end-of-line characters; null when it was longer than the limit (its bytes were dropped). */
  readonly text: string | null;
  readonly bytes: number;
}

/**
 * Split a byte stream into lines, holding at most `maxLineBytes` of one line: a line that is longer is dropped while
 * it streams past and reported with `text: null`, so a hostile file with one gigantic line cannot exhaust memory.
 */
export async function* lines(source: AsyncIterable<Buffer>, maxLineBytes: number): AsyncGenerator<Line> {
  let parts: Buffer[] = [];
  let partBytes = 0;
  let overflow = false;
  let no = 0;
  const emit = (): Line => {
    no += 1;
    if (overflow) return { no, text: null, bytes: partBytes };
    let buf = parts.length === 1 ? (parts[0] ?? Buffer.alloc(0)) : Buffer.concat(parts, partBytes);
    if (buf.length > 0 && buf[buf.length - 1] === 0x0d) buf = buf.subarray(0, buf.length - 1);
    return { no, text: buf.toString('utf8'), bytes: partBytes };
  };
  const add = (b: Buffer): void => {
    partBytes += b.length;
    if (overflow) return;
    if (partBytes > maxLineBytes) {
      overflow = true;
      parts = [];
      return;
    }
    parts.push(b);
  };
  for await (const chunk of source) {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) {
        if (start < chunk.length) add(chunk.subarray(start));
        break;
      }
      add(chunk.subarray(start, nl));
      yield emit();
      parts = [];
      partBytes = 0;
      overflow = false;
      start = nl + 1;
    }
  }
  if (partBytes > 0 || overflow) yield emit();
}

/** Strip a UTF-8 byte-order mark and leading whitespace; returns the offset of the first meaningful byte. */
export function firstNonSpace(buf: Buffer): number {
  let i = 0;
  if (buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf) i = 3;
  while (i < buf.length) {
    const c = buf[i];
    if (c !== 0x20 && c !== 0x09 && c !== 0x0a && c !== 0x0d) break;
    i += 1;
  }
  return i;
}

/** Read a whole stream into memory, refusing more than `maxBytes` (used for single documents, never for feeds). */
export async function readAll(source: AsyncIterable<Buffer>, maxBytes: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const b of source) {
    total += b.length;
    if (total > maxBytes) throw new Error(`document larger than ${maxBytes} bytes (limit)`);
    parts.push(b);
  }
  return Buffer.concat(parts, total);
}

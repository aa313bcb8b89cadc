/**
 * Bounded reading of the streams this extractor gets. Reading stops early by pausing, never by destroying: the
 * runner drains what is left so the tar stream can go on to the next entry.
 */
import type { Readable } from 'node:stream';

/**
 * Feed the stream's chunks to `take` until it returns true (enough) or the stream ends. An exception thrown by
 * `take` rejects, after pausing the stream.
 */
export function consume(stream: Readable, take: (chunk: Buffer) => boolean, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (stream.readableEnded) {
      resolve();
      return;
    }
    const cleanup = (): void => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('close', onEnd);
      stream.off('error', onError);
      signal.removeEventListener('abort', onAbort);
    };
    const stop = (err: unknown): void => {
      cleanup();
      stream.pause();
      if (err === undefined) resolve();
      else reject(err instanceof Error ? err : new Error(String(err)));
    };
    const onData = (chunk: unknown): void => {
      const buf = Buffer.isBuffer(chunk) ? chunk : typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.from(chunk as Uint8Array);
      let enough: boolean;
      try {
        enough = take(buf);
      } catch (err) {
        stop(err);
        return;
      }
      if (enough) stop(undefined);
    };
    const onEnd = (): void => {
      cleanup();
      resolve();
    };
    const onError = (err: unknown): void => {
      cleanup();
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    const onAbort = (): void => stop(signal.reason ?? new Error('aborted'));
    if (signal.aborted) {
      onAbort();
      return;
    }
    signal.addEventListener('abort', onAbort, { once: true });
    stream.on('error', onError);
    stream.on('end', onEnd);
    stream.on('close', onEnd);
    stream.on('data', onData);
    stream.resume();
  });
}

export interface HeaderBytes {
  /** The header section, without the blank line and body; a partial last line is dropped when capped. */
  readonly bytes: Buffer;
  /** True when `cap` bytes were read without reaching the blank line or the end of the file. */
  readonly capped: boolean;
}

/** Index just past the header section's last line in buf[from..], or -1: finds "\n\n" and "\n\r\n". */
function headerEnd(buf: Buffer, from: number): number {
  for (let i = buf.indexOf(10, from); i >= 0 && i < buf.length - 1; i = buf.indexOf(10, i + 1)) {
    const next = buf[i + 1];
    if (next === 10) return i + 1;
    if (next === 13 && i + 2 < buf.length && buf[i + 2] === 10) return i + 1;
  }
  return -1;
}

/**
 * Read a metadata file up to the end of its header section, at most `cap` bytes: the description body, which can
 * be megabytes of README, is never read. Also used on a byte array already in memory (a zipped egg's PKG-INFO).
 */
export class HeaderReader {
  private readonly buf: Buffer;
  private length = 0;
  private end = -1;
  /** The file is bigger than the cap: reaching the buffer's end means the cap was hit, not the end of the file. */
  private readonly overCap: boolean;

  /** `size` is the file's size (from the tar header or the zip entry): the buffer is never bigger. */
  constructor(cap: number, size: number) {
    this.buf = Buffer.allocUnsafe(Math.max(0, Math.min(cap, size)));
    this.overCap = size > cap;
  }

  /** Returns true when no more bytes are needed. */
  push(chunk: Uint8Array): boolean {
    if (this.end >= 0) return true;
    const take = Math.min(this.buf.length - this.length, chunk.length);
    this.buf.set(chunk.subarray(0, take), this.length);
    const from = Math.max(0, this.length - 2); // the "\n\r\n" may straddle chunks
    this.length += take;
    const end = headerEnd(this.buf.subarray(0, this.length), from);
    if (end >= 0) this.end = end;
    return this.end >= 0 || this.length >= this.buf.length;
  }

  result(): HeaderBytes {
    if (this.end >= 0) return { bytes: this.buf.subarray(0, this.end), capped: false };
    if (this.length < this.buf.length || !this.overCap) return { bytes: this.buf.subarray(0, this.length), capped: false };
    const lastNl = this.buf.lastIndexOf(10, this.length - 1);
    return { bytes: this.buf.subarray(0, lastNl >= 0 ? lastNl + 1 : 0), capped: true };
  }
}

/** The whole stream in memory, refusing more than `max` bytes. */
export async function readAll(stream: Readable, max: number, signal: AbortSignal): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let total = 0;
  await consume(
    stream,
    (chunk) => {
      total += chunk.length;
      if (total > max) throw new Error(`more than ${max} bytes`);
      chunks.push(chunk);
      return false;
    },
    signal,
  );
  return Buffer.concat(chunks, total);
}

/**
 * Reads the entries of a zip file on disk (an osv.dev `all.zip`: one JSON record per entry) with yauzl, which uses
 * random access by file descriptor, so the archive is never held in memory. Zip-bomb limits: the entry count
 * (checked from the central directory before anything is inflated), the declared size of each entry, its
 * compression ratio, and the total inflated bytes. yauzl's `validateEntrySizes` makes an entry that inflates to
 * more than it declares an error, so the declared sizes can be trusted for these limits.
 */
import yauzl, { type Entry, type ZipFile } from 'yauzl';

export interface ZipLimits {
  readonly maxEntries: number;
  readonly maxEntryBytes: number;
  readonly maxTotalBytes: number;
  /** Uncompressed / compressed above this (for entries over 1 MiB) is treated as a bomb. */
  readonly maxRatio: number;
}

export type ZipItem =
  | { readonly name: string; readonly data: Buffer }
  | { readonly name: string; readonly skipped: string };

function openZip(path: string): Promise<ZipFile> {
  return new Promise((resolve, reject) => {
    yauzl.open(path, { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: false, decodeStrings: true }, (err, zip) => {
      if (err) reject(err);
      else resolve(zip);
    });
  });
}

export async function* zipEntries(path: string, limits: ZipLimits, signal?: AbortSignal): AsyncGenerator<ZipItem> {
  const zip = await openZip(path);
  // One persistent error listener: an 'error' with no listener would crash the process.
  let failure: Error | null = null;
  let pending: ((e: Error) => void) | null = null;
  zip.on('error', (err: Error) => {
    failure = err;
    pending?.(err);
  });
  const next = (): Promise<Entry | null> =>
    new Promise((resolve, reject) => {
      if (failure) return reject(failure);
      const done = (v: Entry | null): void => {
        zip.removeListener('entry', onEntry);
        zip.removeListener('end', onEnd);
        pending = null;
        resolve(v);
      };
      const onEntry = (e: Entry): void => done(e);
      const onEnd = (): void => done(null);
      pending = (e) => {
        zip.removeListener('entry', onEntry);
        zip.removeListener('end', onEnd);
        pending = null;
        reject(e);
      };
      zip.once('entry', onEntry);
      zip.once('end', onEnd);
      zip.readEntry();
    });
  const read = (entry: Entry): Promise<Buffer> =>
    new Promise((resolve, reject) => {
      zip.openReadStream(entry, (err, stream) => {
        if (err) return reject(err);
        const parts: Buffer[] = [];
        let total = 0;
        stream.on('data', (b: Buffer) => {
          total += b.length;
          if (total > limits.maxEntryBytes) stream.destroy(new Error(`zip entry ${entry.fileName} inflates beyond ${limits.maxEntryBytes} bytes`));
          else parts.push(b);
        });
        stream.on('error', reject);
        stream.on('end', () => resolve(Buffer.concat(parts, total)));
      });
    });

  try {
    if (zip.entryCount > limits.maxEntries) throw new Error(`zip has ${zip.entryCount} entries (limit ${limits.maxEntries})`);
    let inflated = 0;
    for (;;) {
      if (signal?.aborted) throw new Error('aborted');
      const entry = await next();
      if (entry === null) break;
      const name = entry.fileName;
      if (name.endsWith('/')) continue;
      if (entry.uncompressedSize > limits.maxEntryBytes) {
        yield { name, skipped: `entry declares ${entry.uncompressedSize} bytes (limit ${limits.maxEntryBytes})` };
        continue;
      }
      if (entry.uncompressedSize > 1 << 20 && entry.uncompressedSize / Math.max(1, entry.compressedSize) > limits.maxRatio) {
        yield { name, skipped: `compression ratio ${Math.round(entry.uncompressedSize / Math.max(1, entry.compressedSize))}:1 looks like a zip bomb` };
        continue;
      }
      // General-purpose bit 0: encrypted entries cannot be read.
      if ((entry.generalPurposeBitFlag & 1) !== 0) {
        yield { name, skipped: 'encrypted entry' };
        continue;
      }
      inflated += entry.uncompressedSize;
      if (inflated > limits.maxTotalBytes) throw new Error(`zip inflates beyond ${limits.maxTotalBytes} bytes in total (limit)`);
      yield { name, data: await read(entry) };
    }
  } finally {
    zip.close();
  }
}

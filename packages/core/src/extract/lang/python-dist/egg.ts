/**
 * A zipped egg's metadata: `EGG-INFO/PKG-INFO`. Read with yauzl (random access: only the central directory and
 * that one member are touched), from memory or from a scan-scoped temp file. Zip bombs cannot cost more than
 * the header cap, because the member is inflated as a stream and abandoned once the header section is read;
 * yauzl also checks that a member inflates to the size it declares.
 */
import yauzl from 'yauzl';
import { HeaderReader, type HeaderBytes } from './read.js';

export const EGG_PKG_INFO = 'EGG-INFO/PKG-INFO';
/** Central-directory entries looked at before giving up (an egg with more is hostile or not an egg). */
export const MAX_ENTRIES = 200_000;

export type ZipSource = { readonly buffer: Buffer } | { readonly path: string };

function openZip(source: ZipSource): Promise<yauzl.ZipFile> {
  const options: yauzl.Options = { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: false };
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, zip: yauzl.ZipFile): void => (err ? reject(err) : resolve(zip));
    if ('buffer' in source) yauzl.fromBuffer(source.buffer, options, done);
    else yauzl.open(source.path, options, done);
  });
}

function findEntry(zip: yauzl.ZipFile, name: string, maxEntries: number): Promise<yauzl.Entry | null> {
  return new Promise((resolve, reject) => {
    let seen = 0;
    const cleanup = (): void => {
      zip.off('entry', onEntry);
      zip.off('end', onEnd);
      zip.off('error', onError);
    };
    const onEntry = (entry: yauzl.Entry): void => {
      if (entry.fileName === name) {
        cleanup();
        resolve(entry);
      } else if (++seen >= maxEntries) {
        cleanup();
        reject(new Error(`no ${name} among the first ${maxEntries} entries`));
      } else zip.readEntry();
    };
    const onEnd = (): void => {
      cleanup();
      resolve(null);
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    zip.on('entry', onEntry);
    zip.on('end', onEnd);
    zip.on('error', onError);
    zip.readEntry();
  });
}

function readHeader(zip: yauzl.ZipFile, entry: yauzl.Entry, cap: number): Promise<HeaderBytes> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (err, stream) => {
      if (err) {
        reject(err);
        return;
      }
      const reader = new HeaderReader(cap, entry.uncompressedSize);
      let settled = false;
      const finish = (error: Error | null): void => {
        if (settled) return;
        settled = true;
        stream.destroy(); // our own inflate stream: abandoning it costs nothing
        if (error) reject(error);
        else resolve(reader.result());
      };
      stream.on('data', (chunk: Buffer) => {
        if (reader.push(chunk)) finish(null);
      });
      stream.on('end', () => finish(null));
      stream.on('error', (e: Error) => finish(e));
    });
  });
}

/**
 * The header section of the egg's `EGG-INFO/PKG-INFO` (see HeaderReader), or null when the zip has none.
 * Throws on a broken zip.
 */
export async function readEggPkgInfo(source: ZipSource, cap: number, maxEntries = MAX_ENTRIES): Promise<HeaderBytes | null> {
  let zip: yauzl.ZipFile;
  try {
    zip = await openZip(source);
  } catch (err) {
    throw new Error(`not a readable zip: ${err instanceof Error ? err.message : String(err)}`);
  }
  try {
    const entry = await findEntry(zip, EGG_PKG_INFO, maxEntries);
    if (entry === null) return null;
    return await readHeader(zip, entry, cap);
  } catch (err) {
    throw new Error(`egg: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    zip.close();
  }
}

/**
 * A `.nupkg` is a zip whose root holds `<id>.nuspec`. Only that one small entry is inflated, with its declared and
 * actual size capped, so a zip bomb or a huge package costs no more than its central directory. yauzl checks that
 * an entry inflates to the size the directory declares.
 */
import yauzl from 'yauzl';
import type { ZipFile, Entry } from 'yauzl';

const NUSPEC_MAX_BYTES = 1024 * 1024;
/** Real packages have tens to a few thousand entries; the cap bounds the central-directory walk. */
const MAX_ENTRIES = 200_000;

function openZip(source: Buffer | string): Promise<ZipFile> {
  const options = { lazyEntries: true, autoClose: false, validateEntrySizes: true, strictFileNames: false };
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, zip: ZipFile): void => (err ? reject(err) : resolve(zip));
    if (typeof source === 'string') yauzl.open(source, options, done);
    else yauzl.fromBuffer(source, options, done);
  });
}

function readEntry(zip: ZipFile, entry: Entry): Promise<string> {
  return new Promise((resolve, reject) => {
    zip.openReadStream(entry, (err, stream) => {
      if (err) return reject(err);
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > NUSPEC_MAX_BYTES) {
          stream.destroy(new Error(`${entry.fileName} inflates past ${NUSPEC_MAX_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      stream.on('error', reject);
      stream.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    });
  });
}

/** The text of the root-level `.nuspec` of a .nupkg (held in memory, or a path to a spilled temp file). */
export async function nuspecOfNupkg(source: Buffer | string): Promise<{ name: string; text: string }> {
  let zip: ZipFile;
  try {
    zip = await openZip(source);
  } catch (err) {
    throw new Error(`nupkg: not a readable zip: ${(err as Error).message}`);
  }
  try {
    if (zip.entryCount > MAX_ENTRIES) throw new Error(`nupkg: ${zip.entryCount} entries is over the ${MAX_ENTRIES} limit`);
    const entry = await new Promise<Entry | null>((resolve, reject) => {
      zip.on('entry', (e: Entry) => {
        const name = e.fileName;
        if (!name.includes('/') && !name.includes('\\') && name.toLowerCase().endsWith('.nuspec')) resolve(e);
        else zip.readEntry();
      });
      zip.on('end', () => resolve(null));
      zip.on('error', reject);
      zip.readEntry();
    });
    if (entry === null) throw new Error('nupkg: no .nuspec at the archive root');
    if (entry.uncompressedSize > NUSPEC_MAX_BYTES) throw new Error(`nupkg: ${entry.fileName} declares ${entry.uncompressedSize} bytes`);
    return { name: entry.fileName, text: await readEntry(zip, entry) };
  } finally {
    zip.close();
  }
}

/**
 * Zip structures (APPNOTE.TXT) read by hand: the end-of-central-directory record (also zip64), the central
 * directory, local headers, and a recovery walk over local headers when the end record is missing. No I/O here:
 * callers pass a `read(offset, length)` over whatever holds the bytes (a Buffer or a file).
 *
 * Hand-written rather than fflate/yauzl because one reader must serve both in-memory and on-disk archives, find
 * the true start of self-executing jars (a script before the zip), and expose sizes so limits apply before any
 * byte is inflated.
 */

export type ReadAt = (offset: number, length: number) => Promise<Buffer>;

export interface ZipEntry {
  readonly name: string;
  readonly method: number;
  readonly flags: number;
  readonly compressedSize: number;
  readonly uncompressedSize: number;
  /** Absolute offset of the local header in the archive's bytes (any prefix already added). */
  readonly localHeaderOffset: number;
  /** Absolute offset of the data, when already known (recovery walk). */
  readonly dataOffset?: number;
}

export interface CentralDirectory {
  readonly entries: ZipEntry[];
  /** Bytes before the zip itself (the launcher script of a self-executing jar); 0 for a plain archive. */
  readonly prefix: number;
  /** Entries the end record declares. */
  readonly declaredEntries: number;
  /** Entries actually parsed (wanted or not). */
  readonly parsedEntries: number;
  readonly problems: string[];
}

export class ZipFormatError extends Error {}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_END = 0x06054b50;
const SIG_END64 = 0x06064b50;
const SIG_LOCATOR64 = 0x07064b50;
const SIG_DESCRIPTOR = 0x08074b50;
const END_SIZE = 22;
const END64_SIZE = 56;
const LOCATOR64_SIZE = 20;
const CENTRAL_SIZE = 46;
const LOCAL_SIZE = 30;
const MAX_COMMENT = 0xffff;
const U32_MAX = 0xffffffff;
const MAX_CENTRAL_BYTES = 256 * 1024 * 1024;

export const FLAG_ENCRYPTED = 0x1;
export const FLAG_DESCRIPTOR = 0x8;
export const METHOD_STORED = 0;
export const METHOD_DEFLATED = 8;

/** Names the walker wants decoded; every other entry is only counted (decoding all names is most of the cost). */
export type NameFilter = (raw: Buffer, start: number, end: number) => boolean;

function u64(buf: Buffer, at: number): number {
  // Offsets beyond 2^53 are not real files; the caller's bounds checks reject them.
  return Number(buf.readBigUInt64LE(at));
}

interface EndRecord {
  readonly entries: number;
  readonly cdSize: number;
  readonly cdOffset: number;
  /** Where the central directory must end: the start of the zip64 end record, or of the classic one. */
  readonly cdEnd: number;
}

/** Candidate end records, last one first (a comment may contain the signature bytes). */
async function endRecords(read: ReadAt, size: number): Promise<EndRecord[]> {
  const tailLength = Math.min(size, END_SIZE + MAX_COMMENT + LOCATOR64_SIZE + END64_SIZE);
  const tailStart = size - tailLength;
  const tail = await read(tailStart, tailLength);
  const found: EndRecord[] = [];
  for (let i = tail.length - END_SIZE; i >= 0; i--) {
    if (tail[i] !== 0x50 || tail.readUInt32LE(i) !== SIG_END) continue;
    let entries = tail.readUInt16LE(i + 10);
    let cdSize = tail.readUInt32LE(i + 12);
    let cdOffset = tail.readUInt32LE(i + 16);
    let cdEnd = tailStart + i;
    const loc = i - LOCATOR64_SIZE;
    if (loc >= 0 && tail.readUInt32LE(loc) === SIG_LOCATOR64) {
      // zip64: the record normally sits right before its locator; its stated offset ignores any prefix
      const at = tailStart + loc - END64_SIZE;
      const rec = at >= 0 ? await read(at, END64_SIZE) : null;
      if (rec && rec.length === END64_SIZE && rec.readUInt32LE(0) === SIG_END64) {
        entries = u64(rec, 32);
        cdSize = u64(rec, 40);
        cdOffset = u64(rec, 48);
        cdEnd = at;
      }
    }
    found.push({ entries, cdSize, cdOffset, cdEnd });
    if (found.length >= 4) break;
  }
  return found;
}

/**
 * Read the central directory. `maxEntries` caps how many records are parsed (the rest are reported as a problem),
 * `wanted` selects the names to decode. Throws ZipFormatError when no usable end record exists.
 */
export async function readCentralDirectory(read: ReadAt, size: number, maxEntries: number, wanted: NameFilter): Promise<CentralDirectory> {
  if (size < END_SIZE) throw new ZipFormatError(`not a zip archive: ${size} bytes is too short`);
  const candidates = await endRecords(read, size);
  if (candidates.length === 0) throw new ZipFormatError('no end-of-central-directory record (not a zip, or truncated)');
  let lastError = 'central directory not found';
  for (const end of candidates) {
    // The central directory ends where the end record starts, so the prefix is whatever the stated offset misses.
    const cdStart = end.cdEnd - end.cdSize;
    if (cdStart < 0) {
      lastError = `central directory size ${end.cdSize} is larger than the archive`;
      continue;
    }
    const prefix = cdStart - end.cdOffset;
    if (prefix < 0) {
      lastError = `central directory offset ${end.cdOffset} points past the end record`;
      continue;
    }
    if (end.entries > 0) {
      const head = await read(cdStart, 4);
      if (head.length < 4 || head.readUInt32LE(0) !== SIG_CENTRAL) {
        lastError = 'no central directory at the offset the end record gives';
        continue;
      }
    }
    // A directory bigger than this holds far more entries than maxEntries allows anyway.
    const cd = await read(cdStart, Math.min(end.cdSize, MAX_CENTRAL_BYTES));
    return parseCentral(cd, end.entries, prefix, size, maxEntries, wanted);
  }
  throw new ZipFormatError(lastError);
}

function parseCentral(cd: Buffer, declared: number, prefix: number, size: number, maxEntries: number, wanted: NameFilter): CentralDirectory {
  const entries: ZipEntry[] = [];
  const problems: string[] = [];
  let at = 0;
  let count = 0;
  while (at + CENTRAL_SIZE <= cd.length) {
    if (cd.readUInt32LE(at) !== SIG_CENTRAL) {
      if (count < declared) problems.push(`central directory damaged after ${count} of ${declared} entries`);
      break;
    }
    if (count >= maxEntries) {
      problems.push(`more than ${maxEntries} entries (${declared} declared): the rest were not read`);
      break;
    }
    const flags = cd.readUInt16LE(at + 8);
    const method = cd.readUInt16LE(at + 10);
    let compressedSize = cd.readUInt32LE(at + 20);
    let uncompressedSize = cd.readUInt32LE(at + 24);
    const nameLength = cd.readUInt16LE(at + 28);
    const extraLength = cd.readUInt16LE(at + 30);
    const commentLength = cd.readUInt16LE(at + 32);
    let offset = cd.readUInt32LE(at + 42);
    const nameStart = at + CENTRAL_SIZE;
    const next = nameStart + nameLength + extraLength + commentLength;
    if (next > cd.length) {
      problems.push(`central directory truncated in entry ${count + 1}`);
      break;
    }
    count++;
    if (wanted(cd, nameStart, nameStart + nameLength)) {
      if (compressedSize === U32_MAX || uncompressedSize === U32_MAX || offset === U32_MAX) {
        const z = zip64Extra(cd, nameStart + nameLength, extraLength, uncompressedSize === U32_MAX, compressedSize === U32_MAX, offset === U32_MAX);
        if (z.uncompressed !== null) uncompressedSize = z.uncompressed;
        if (z.compressed !== null) compressedSize = z.compressed;
        if (z.offset !== null) offset = z.offset;
      }
      const localHeaderOffset = offset + prefix;
      if (localHeaderOffset + LOCAL_SIZE > size) {
        problems.push(`entry ${cd.toString('utf8', nameStart, nameStart + nameLength)}: local header offset beyond the end of the archive`);
      } else {
        entries.push({
          name: cd.toString('utf8', nameStart, nameStart + nameLength),
          method,
          flags,
          compressedSize,
          uncompressedSize,
          localHeaderOffset,
        });
      }
    }
    at = next;
  }
  return { entries, prefix, declaredEntries: declared, parsedEntries: count, problems };
}

function zip64Extra(
  buf: Buffer,
  start: number,
  length: number,
  wantU: boolean,
  wantC: boolean,
  wantO: boolean,
): { uncompressed: number | null; compressed: number | null; offset: number | null } {
  const out = { uncompressed: null as number | null, compressed: null as number | null, offset: null as number | null };
  const end = start + length;
  let at = start;
  while (at + 4 <= end) {
    const id = buf.readUInt16LE(at);
    const len = buf.readUInt16LE(at + 2);
    const body = at + 4;
    if (body + len > end) break;
    if (id === 0x0001) {
      let p = body;
      // fields appear only for the values that overflowed, in this fixed order
      if (wantU && p + 8 <= body + len) (out.uncompressed = u64(buf, p)), (p += 8);
      if (wantC && p + 8 <= body + len) (out.compressed = u64(buf, p)), (p += 8);
      if (wantO && p + 8 <= body + len) out.offset = u64(buf, p);
      break;
    }
    at = body + len;
  }
  return out;
}

/** Where an entry's data starts: after its local header, whose name/extra lengths may differ from the central copy. */
export async function dataOffsetOf(read: ReadAt, entry: ZipEntry): Promise<number> {
  if (entry.dataOffset !== undefined) return entry.dataOffset;
  const h = await read(entry.localHeaderOffset, LOCAL_SIZE);
  if (h.length < LOCAL_SIZE || h.readUInt32LE(0) !== SIG_LOCAL) throw new ZipFormatError('bad local header');
  return entry.localHeaderOffset + LOCAL_SIZE + h.readUInt16LE(26) + h.readUInt16LE(28);
}

/**
 * Find where a raw deflate stream starting at `start` ends; used for data-descriptor entries during recovery.
 * Returns the number of compressed bytes, or null when the stream does not end inside `buf`.
 */
export type DeflateLength = (buf: Buffer, start: number) => number | null;

/**
 * Recovery for archives without a usable end record (truncated downloads, cut layers): walk the local headers
 * from the start (after any prefix) and keep every complete entry. Only for bytes already in memory.
 */
export function recoverEntries(buf: Buffer, maxEntries: number, wanted: NameFilter, deflateLength: DeflateLength): { entries: ZipEntry[]; complete: number } {
  const entries: ZipEntry[] = [];
  let at = buf.indexOf(LOCAL_MAGIC);
  let complete = 0;
  while (at >= 0 && at + LOCAL_SIZE <= buf.length && buf.readUInt32LE(at) === SIG_LOCAL && complete < maxEntries) {
    const flags = buf.readUInt16LE(at + 6);
    const method = buf.readUInt16LE(at + 8);
    let compressedSize = buf.readUInt32LE(at + 18);
    let uncompressedSize = buf.readUInt32LE(at + 22);
    const nameLength = buf.readUInt16LE(at + 26);
    const extraLength = buf.readUInt16LE(at + 28);
    const nameStart = at + LOCAL_SIZE;
    const dataOffset = nameStart + nameLength + extraLength;
    if (dataOffset > buf.length) break;
    if (compressedSize === U32_MAX || uncompressedSize === U32_MAX) {
      const z = zip64Extra(buf, nameStart + nameLength, extraLength, uncompressedSize === U32_MAX, compressedSize === U32_MAX, false);
      if (z.uncompressed !== null) uncompressedSize = z.uncompressed;
      if (z.compressed !== null) compressedSize = z.compressed;
    }
    let next: number;
    if ((flags & FLAG_DESCRIPTOR) !== 0) {
      if (method !== METHOD_DEFLATED) break; // a stored entry with a descriptor has no findable end
      const len = deflateLength(buf, dataOffset);
      if (len === null) break;
      compressedSize = len;
      next = dataOffset + len;
      // the descriptor: optional signature, crc, sizes (4 or 8 bytes each)
      let d = next;
      if (d + 4 <= buf.length && buf.readUInt32LE(d) === SIG_DESCRIPTOR) d += 4;
      if (d + 12 > buf.length) break;
      uncompressedSize = buf.readUInt32LE(d + 8);
      next = d + 12;
      if (next + 4 <= buf.length && buf.readUInt32LE(next) !== SIG_LOCAL && buf.readUInt32LE(next) !== SIG_CENTRAL && d + 20 <= buf.length) {
        // zip64 descriptor: 8-byte sizes
        compressedSize = u64(buf, d + 4);
        uncompressedSize = u64(buf, d + 12);
        next = d + 20;
      }
    } else {
      next = dataOffset + compressedSize;
      if (next > buf.length) break;
    }
    complete++;
    if (wanted(buf, nameStart, nameStart + nameLength)) {
      entries.push({
        name: buf.toString('utf8', nameStart, nameStart + nameLength),
        method,
        flags,
        compressedSize,
        uncompressedSize,
        localHeaderOffset: at,
        dataOffset,
      });
    }
    at = next;
  }
  return { entries, complete };
}

const LOCAL_MAGIC = Buffer.from([0x50, 0x4b, 0x03, 0x04]);

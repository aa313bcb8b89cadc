/**
 * Reader for an rpm header blob as the rpm database stores it (no lead, no 8-byte header magic):
 *
 *   int32 il, int32 dl                      big-endian, always
 *   il × { int32 tag, type, offset, count } the index
 *   dl bytes                                the data area; offsets are relative to its start
 *
 * Installed headers begin with a region entry (tag 63, HEADER_IMMUTABLE) whose trailer, in the data area, gives
 * how many index entries the signed region covers; entries after it ("dribbles", added at install time) replace
 * region entries with the same tag. Every offset and count is checked against the blob before it is used, so a
 * hostile blob costs at most one pass over its own bytes and never a large allocation.
 */

export const RPMTAG = {
  HEADERIMAGE: 61,
  HEADERSIGNATURES: 62,
  HEADERIMMUTABLE: 63,
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  VENDOR: 1011,
  LICENSE: 1014,
  ARCH: 1022,
  OLDFILENAMES: 1027,
  SOURCERPM: 1044,
  DIRINDEXES: 1116,
  BASENAMES: 1117,
  DIRNAMES: 1118,
} as const;

const TYPE = { INT8: 2, INT16: 3, INT32: 4, INT64: 5, STRING: 6, BIN: 7, STRING_ARRAY: 8, I18NSTRING: 9 } as const;
/** Bytes per item of the fixed-size types (CHAR 1 … BIN 7); strings are variable (0 here). */
const TYPE_SIZE: readonly number[] = [0, 1, 1, 2, 4, 8, 0, 1, 0, 0];

/** rpm's own limits (lib/header.c: HEADER_TAGS_MAX, HEADER_DATA_MAX). */
const MAX_ENTRIES = 0xffff;
const MAX_DATA = 0x0fffffff;
const ENTRY_SIZE = 16;
const REGION_TAG_COUNT = 16;

interface IndexEntry {
  readonly tag: number;
  readonly type: number;
  readonly offset: number;
  readonly count: number;
}

/** A parsed index over one header blob; values are decoded only when asked for. */
export interface RpmHeader {
  /** The data area (a view into the blob, not a copy). */
  readonly data: Buffer;
  readonly entries: ReadonlyMap<number, IndexEntry>;
}

export class RpmHeaderError extends Error {
  override readonly name = 'RpmHeaderError';
}

function fail(message: string): never {
  throw new RpmHeaderError(`rpm header: ${message}`);
}

export function parseHeader(blob: Buffer): RpmHeader {
  if (blob.length < 8) fail(`${blob.length} bytes is too short for the entry and data counts`);
  const il = blob.readUInt32BE(0);
  const dl = blob.readUInt32BE(4);
  if (il === 0 || il > MAX_ENTRIES) fail(`entry count ${il} is outside 1..${MAX_ENTRIES}`);
  if (dl > MAX_DATA) fail(`data length ${dl} is over the ${MAX_DATA}-byte limit`);
  const dataStart = 8 + il * ENTRY_SIZE;
  if (dataStart + dl > blob.length) fail(`${il} entries and ${dl} data bytes need ${dataStart + dl} bytes, the blob has ${blob.length}`);
  const data = blob.subarray(dataStart, dataStart + dl);

  const readEntry = (i: number): IndexEntry => {
    const at = 8 + i * ENTRY_SIZE;
    const e: IndexEntry = {
      tag: blob.readUInt32BE(at),
      type: blob.readUInt32BE(at + 4),
      offset: blob.readInt32BE(at + 8),
      count: blob.readUInt32BE(at + 12),
    };
    checkEntry(e, i, dl);
    return e;
  };

  const first = readEntry(0);
  const regionCount = isRegionTag(first.tag) ? regionEntryCount(first, data, il) : 0;
  const entries = new Map<number, IndexEntry>();
  // Region entries first, then dribbles, so a dribble replaces the region entry with its tag (as rpm does).
  for (let i = regionCount > 0 ? 1 : 0; i < il; i++) {
    const e = readEntry(i);
    if (i >= regionCount && regionCount > 0 && e.tag === RPMTAG.BASENAMES) entries.delete(RPMTAG.OLDFILENAMES);
    entries.set(e.tag, e);
  }
  return { data, entries };
}

function isStringType(type: number): boolean {
  return type === TYPE.STRING || type === TYPE.STRING_ARRAY || type === TYPE.I18NSTRING;
}

function isRegionTag(tag: number): boolean {
  return tag >= RPMTAG.HEADERIMAGE && tag <= RPMTAG.HEADERIMMUTABLE;
}

function checkEntry(e: IndexEntry, i: number, dl: number): void {
  const where = `entry ${i} (tag ${e.tag})`;
  if (e.type > TYPE.I18NSTRING) fail(`${where} has unknown type ${e.type}`);
  if (e.offset < 0 || e.offset > dl) fail(`${where} offset ${e.offset} is outside the ${dl}-byte data area`);
  const size = TYPE_SIZE[e.type] ?? 0;
  // Fixed-size items must fit; each string takes at least its NUL, so count can never exceed the bytes left.
  const need = size > 0 ? e.count * size : isStringType(e.type) ? e.count : 0;
  if (need > dl - e.offset) fail(`${where} count ${e.count} runs past the end of the ${dl}-byte data area`);
}

/** Number of index entries the region covers (the region entry itself included), from its trailer. */
function regionEntryCount(region: IndexEntry, data: Buffer, il: number): number {
  if (region.type !== TYPE.BIN || region.count !== REGION_TAG_COUNT) {
    fail(`region tag ${region.tag} has type ${region.type}, count ${region.count}`);
  }
  if (region.offset + REGION_TAG_COUNT > data.length) fail(`region trailer at ${region.offset} is outside the data area`);
  const tag = data.readUInt32BE(region.offset);
  const type = data.readUInt32BE(region.offset + 4);
  const negated = data.readInt32BE(region.offset + 8);
  const count = data.readUInt32BE(region.offset + 12);
  // Old packages carry HEADERIMAGE in the trailer of other regions; rpm accepts that too.
  if (!isRegionTag(tag) || type !== TYPE.BIN || count !== REGION_TAG_COUNT) {
    fail(`region trailer is malformed (tag ${tag}, type ${type}, count ${count})`);
  }
  const bytes = -negated;
  if (bytes <= 0 || bytes % ENTRY_SIZE !== 0 || bytes / ENTRY_SIZE > il) {
    fail(`region trailer claims ${bytes / ENTRY_SIZE} entries of ${il}`);
  }
  return bytes / ENTRY_SIZE;
}

/** The NUL-terminated string at `offset`, or a failure naming the tag when it runs off the data area. */
function cString(data: Buffer, offset: number, tag: number): { value: string; next: number } {
  const end = data.indexOf(0, offset);
  if (end < 0) fail(`tag ${tag}: string at ${offset} has no terminating NUL`);
  return { value: data.toString('utf8', offset, end), next: end + 1 };
}

/** A STRING tag (or the first item of a STRING_ARRAY / I18NSTRING one); null when absent. */
export function getString(h: RpmHeader, tag: number): string | null {
  const e = h.entries.get(tag);
  if (!e) return null;
  if (!isStringType(e.type)) fail(`tag ${tag} has type ${e.type}, expected a string`);
  if (e.count === 0) return null;
  return cString(h.data, e.offset, tag).value;
}

export function getStringArray(h: RpmHeader, tag: number): string[] | null {
  const e = h.entries.get(tag);
  if (!e) return null;
  if (e.type !== TYPE.STRING_ARRAY && e.type !== TYPE.STRING) fail(`tag ${tag} has type ${e.type}, expected a string array`);
  const out: string[] = [];
  let at = e.offset;
  for (let i = 0; i < e.count; i++) {
    const s = cString(h.data, at, tag);
    out.push(s.value);
    at = s.next;
  }
  return out;
}

/** An INT32 tag as unsigned numbers; null when absent. (Counts were checked against the data area at parse.) */
export function getInt32Array(h: RpmHeader, tag: number): number[] | null {
  const e = h.entries.get(tag);
  if (!e) return null;
  if (e.type !== TYPE.INT32) fail(`tag ${tag} has type ${e.type}, expected INT32`);
  const out = new Array<number>(e.count);
  for (let i = 0; i < e.count; i++) out[i] = h.data.readUInt32BE(e.offset + i * 4);
  return out;
}

/** The first value of an INT32 tag, or null when the tag is absent (so EPOCH 0 and no EPOCH stay different). */
export function getInt32(h: RpmHeader, tag: number): number | null {
  const e = h.entries.get(tag);
  if (!e) return null;
  if (e.type !== TYPE.INT32) fail(`tag ${tag} has type ${e.type}, expected INT32`);
  if (e.count === 0) return null;
  return h.data.readUInt32BE(e.offset);
}

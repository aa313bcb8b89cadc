/**
 * Reader for rpm's BerkeleyDB `Packages` file (rpm < 4.16, e.g. RHEL/CentOS 7 and 8, Amazon Linux 2): a Hash
 * access-method database whose keys are package instance numbers and whose values are header blobs.
 *
 * Layout used (Berkeley DB 4.x/5.x on-disk format, db_page.h):
 *   page 0, hash meta:  12 magic 0x061561 (its byte order is the file's), 16 version, 20 page size,
 *                       24 encryption algorithm, 25 page type (8), 26 meta flags (1 = page checksums), 32 last page
 *   every page:         8 pgno, 16 next pgno, 20 entries (u16), 22 high-free offset (u16), 25 type; then, on hash
 *                       pages (types 2 and 13), `entries` u16 item offsets: key, value, key, value, …
 *   hash item:          1 byte type; H_KEYDATA (1) the bytes follow up to the previous item's start (or the page
 *                       end); H_OFFPAGE (3) at +4 the first overflow page, at +8 the total length
 *   overflow page (7):  the high-free field holds how many data bytes the page carries after its 26-byte header
 *
 * The pages are scanned in file order rather than by walking buckets: every live pair sits on some hash page, and
 * rpm's own read-only backend does the same. A broken item is a problem and the scan goes on; a file whose meta
 * page is unusable is an error.
 */
import type { DbReadResult, DbRecord } from './records.js';

const HASH_MAGIC = 0x061561;
const P_HASH_UNSORTED = 2;
const P_OVERFLOW = 7;
const P_HASHMETA = 8;
const P_HASH = 13;
const H_KEYDATA = 1;
const H_DUPLICATE = 2;
const H_OFFPAGE = 3;
const H_OFFDUP = 4;
const PAGE_HEADER = 26;
const HOFFPAGE_SIZE = 12;
const DBMETA_CHKSUM = 0x01;

function fail(message: string): never {
  throw new Error(`BerkeleyDB Packages: ${message}`);
}

interface Reader {
  u32(at: number): number;
  u16(at: number): number;
}

export function readBdbPackages(buf: Buffer): DbReadResult {
  if (buf.length < 512) fail(`${buf.length} bytes is too short for a meta page`);
  const r: Reader =
    buf.readUInt32LE(12) === HASH_MAGIC
      ? { u32: (at) => buf.readUInt32LE(at), u16: (at) => buf.readUInt16LE(at) }
      : buf.readUInt32BE(12) === HASH_MAGIC
        ? { u32: (at) => buf.readUInt32BE(at), u16: (at) => buf.readUInt16BE(at) }
        : fail(`no hash magic at offset 12 (found 0x${buf.readUInt32LE(12).toString(16)}): not a BerkeleyDB hash database`);

  const pageSize = r.u32(20);
  if (pageSize < 512 || pageSize > 65536 || (pageSize & (pageSize - 1)) !== 0) {
    fail(`page size ${pageSize} is not a power of two in 512..65536`);
  }
  if (buf[25] !== P_HASHMETA) fail(`meta page has type ${buf[25]}, expected ${P_HASHMETA}`);
  if (buf[24] !== 0) fail('the database is encrypted');
  // rpm never enables page checksums, and its own read-only BDB backend refuses such files as well.
  if ((buf[26]! & DBMETA_CHKSUM) !== 0) fail('page checksums are not supported');
  const pageCount = Math.floor(buf.length / pageSize);
  const lastPage = Math.min(r.u32(32), pageCount - 1);

  const records: DbRecord[] = [];
  const problems: string[] = [];
  // Each overflow page belongs to one item; refusing reuse bounds the bytes copied by the file size.
  const usedOverflow = new Uint8Array(pageCount);

  for (let pgno = 1; pgno <= lastPage; pgno++) {
    const page = pgno * pageSize;
    const type = buf[page + 25];
    if (type !== P_HASH && type !== P_HASH_UNSORTED) continue;
    if (r.u32(page + 8) !== pgno) {
      problems.push(`page ${pgno}: header names page ${r.u32(page + 8)}; page skipped`);
      continue;
    }
    const items = pageItems(buf, r, page, pageSize);
    if (typeof items === 'string') {
      problems.push(`page ${pgno}: ${items}; page skipped`);
      continue;
    }
    for (let i = 0; i + 1 < items.length; i += 2) {
      const key = items[i]!;
      const value = items[i + 1]!;
      const id = key.length === 5 && key[0] === H_KEYDATA ? r.u32(key.byteOffset - buf.byteOffset + 1) : null;
      if (id === 0) continue; // key 0 holds rpm's next-instance counter, not a package
      const where = `page ${pgno} item ${i + 1}${id === null ? '' : ` (instance ${id})`}`;
      const blob = itemValue(buf, r, value, pageSize, usedOverflow);
      if (typeof blob === 'string') problems.push(`${where}: ${blob}`);
      else records.push({ id, blob });
    }
  }
  return { records, problems };
}

/**
 * The items of one hash page, each a view from its type byte to its end. Items are stored back to front from the
 * page end, item i ending where item i-1 starts; offsets that break that order would make items overlap, so the
 * page is refused rather than read twice over.
 */
function pageItems(buf: Buffer, r: Reader, page: number, pageSize: number): Buffer[] | string {
  const entries = r.u16(page + 20);
  const indexEnd = PAGE_HEADER + entries * 2;
  if (indexEnd > pageSize) return `${entries} entries do not fit the page`;
  if (entries % 2 !== 0) return `odd entry count ${entries}`;
  const items: Buffer[] = [];
  let end = pageSize;
  for (let i = 0; i < entries; i++) {
    const offset = r.u16(page + PAGE_HEADER + i * 2);
    if (offset < indexEnd || offset >= end) return `item ${i} at offset ${offset} is outside ${indexEnd}..${end}`;
    items.push(buf.subarray(page + offset, page + end));
    end = offset;
  }
  return items;
}

function itemValue(buf: Buffer, r: Reader, item: Buffer, pageSize: number, usedOverflow: Uint8Array): Buffer | string {
  switch (item[0]) {
    case H_KEYDATA:
      return item.subarray(1);
    case H_OFFPAGE: {
      if (item.length < HOFFPAGE_SIZE) return `off-page reference is ${item.length} bytes, expected ${HOFFPAGE_SIZE}`;
      const at = item.byteOffset - buf.byteOffset;
      return overflowChain(buf, r, r.u32(at + 4), r.u32(at + 8), pageSize, usedOverflow);
    }
    case H_DUPLICATE:
    case H_OFFDUP:
      return 'duplicate-key items are not used by rpm; skipped';
    default:
      return `unknown item type ${item[0]}`;
  }
}

/**
 * Concatenate an overflow chain of `total` bytes starting at `first`. The chain is walked and checked before
 * anything is allocated, and each page may serve one chain only, so all chains together cost at most the file.
 */
function overflowChain(buf: Buffer, r: Reader, first: number, total: number, pageSize: number, usedOverflow: Uint8Array): Buffer | string {
  const pageCount = usedOverflow.length;
  const capacity = pageSize - PAGE_HEADER;
  if (total === 0 || total > (pageCount - 1) * capacity) return `overflow length ${total} is impossible for a ${pageCount}-page file`;
  const pages: { start: number; len: number }[] = [];
  let seen = 0;
  for (let pgno = first; seen < total; ) {
    if (pgno === 0 || pgno >= pageCount) return `overflow chain points to page ${pgno} of ${pageCount} after ${seen} of ${total} bytes`;
    if (usedOverflow[pgno] !== 0) return `overflow page ${pgno} is used twice (a loop or a shared chain)`;
    usedOverflow[pgno] = 1;
    const page = pgno * pageSize;
    if (buf[page + 25] !== P_OVERFLOW) return `page ${pgno} in an overflow chain has type ${buf[page + 25]}`;
    const len = r.u16(page + 22);
    if (len > capacity || len > total - seen) return `overflow page ${pgno} claims ${len} bytes (${total - seen} still expected)`;
    pages.push({ start: page + PAGE_HEADER, len });
    seen += len;
    pgno = r.u32(page + 16);
  }
  const out = Buffer.allocUnsafe(total);
  let filled = 0;
  for (const p of pages) filled += buf.copy(out, filled, p.start, p.start + p.len);
  return out;
}

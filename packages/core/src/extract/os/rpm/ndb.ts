/**
 * Reader for rpm's NDB `Packages.db` (rpm ≥ 4.15 built with ndb; SUSE and openSUSE). All numbers little-endian.
 * Layout (rpm lib/backend/ndb/rpmpkg.c):
 *   bytes 0..31      header: "RpmP" magic, version 0, generation, slot page count, next package index
 *   slot pages       `slotPages` × 4096 bytes from offset 0, slots of 16 bytes from offset 32:
 *                    "Slot" magic, package index, block offset, block count (blocks are 16 bytes; offset 0 = free)
 *   blob             at block offset × 16: "BlbS" magic, package index, timestamp, length; the header blob;
 *                    zero padding; then a 12-byte tail: adler32, length, "BlbE" magic, ending the last block
 * Blobs must lie after the slot pages, inside the file, without overlapping (rpm refuses such files too), which
 * also bounds the work to one pass over the file.
 */
import type { DbReadResult, DbRecord } from './records.js';

const DB_MAGIC = 0x506d7052; // "RpmP" read little-endian
const SLOT_MAGIC = 0x746f6c53; // "Slot"
const BLOB_HEAD_MAGIC = 0x53626c42; // "BlbS"
const BLOB_TAIL_MAGIC = 0x45626c42; // "BlbE"
const HEADER_SIZE = 32;
const SLOT_SIZE = 16;
const BLOCK_SIZE = 16;
const PAGE_SIZE = 4096;
const BLOB_HEAD = 16;
const BLOB_TAIL = 12;

function fail(message: string): never {
  throw new Error(`NDB Packages.db: ${message}`);
}

interface Slot {
  readonly pkgIndex: number;
  readonly blockOffset: number;
  readonly blockCount: number;
}

export function readNdbPackages(buf: Buffer): DbReadResult {
  if (buf.length < HEADER_SIZE) fail(`${buf.length} bytes is too short for the header`);
  if (buf.readUInt32LE(0) !== DB_MAGIC) fail(`no "RpmP" magic (found 0x${buf.readUInt32LE(0).toString(16)})`);
  const version = buf.readUInt32LE(4);
  if (version !== 0) fail(`version ${version} is not supported (expected 0)`);
  const slotPages = buf.readUInt32LE(12);
  if (slotPages === 0 || slotPages > buf.length / PAGE_SIZE) fail(`${slotPages} slot pages do not fit a ${buf.length}-byte file`);

  const problems: string[] = [];
  const slots: Slot[] = [];
  const fileBlocks = Math.floor(buf.length / BLOCK_SIZE);
  const firstDataBlock = (slotPages * PAGE_SIZE) / BLOCK_SIZE;
  for (let at = HEADER_SIZE; at < slotPages * PAGE_SIZE; at += SLOT_SIZE) {
    if (buf.readUInt32LE(at) !== SLOT_MAGIC) fail(`slot at byte ${at} has no "Slot" magic`);
    const blockOffset = buf.readUInt32LE(at + 8);
    if (blockOffset === 0) continue; // free slot
    const slot = { pkgIndex: buf.readUInt32LE(at + 4), blockOffset, blockCount: buf.readUInt32LE(at + 12) };
    if (slot.pkgIndex === 0 || slot.blockCount === 0 || blockOffset < firstDataBlock || blockOffset + slot.blockCount > fileBlocks) {
      const blocks = `blocks ${blockOffset}+${slot.blockCount} are outside ${firstDataBlock}..${fileBlocks}`;
      problems.push(`slot at byte ${at} (package ${slot.pkgIndex}): ${blocks}`);
      continue;
    }
    slots.push(slot);
  }

  slots.sort((a, b) => a.blockOffset - b.blockOffset);
  const records: DbRecord[] = [];
  let previousEnd = firstDataBlock;
  for (const slot of slots) {
    if (slot.blockOffset < previousEnd) {
      problems.push(`package ${slot.pkgIndex}: blob at block ${slot.blockOffset} overlaps the previous one; skipped`);
      continue;
    }
    previousEnd = slot.blockOffset + slot.blockCount;
    const blob = readBlob(buf, slot);
    if (typeof blob === 'string') problems.push(`package ${slot.pkgIndex}: ${blob}`);
    else records.push({ id: slot.pkgIndex, blob });
  }
  return { records, problems };
}

/** The header blob a slot points at, as a view; the checksum is not verified (rpm skips it on reads as well). */
function readBlob(buf: Buffer, slot: Slot): Buffer | string {
  const start = slot.blockOffset * BLOCK_SIZE;
  const end = start + slot.blockCount * BLOCK_SIZE;
  if (slot.blockCount * BLOCK_SIZE < BLOB_HEAD + BLOB_TAIL) return `${slot.blockCount} blocks cannot hold a blob`;
  if (buf.readUInt32LE(start) !== BLOB_HEAD_MAGIC) return `no "BlbS" magic at byte ${start}`;
  if (buf.readUInt32LE(start + 4) !== slot.pkgIndex) return `blob names package ${buf.readUInt32LE(start + 4)}`;
  const length = buf.readUInt32LE(start + 12);
  if (Math.ceil((BLOB_HEAD + length + BLOB_TAIL) / BLOCK_SIZE) !== slot.blockCount) {
    return `blob length ${length} does not match its ${slot.blockCount} blocks`;
  }
  const tail = end - BLOB_TAIL; // adler32, length, magic
  if (buf.readUInt32LE(tail + 4) !== length || buf.readUInt32LE(tail + 8) !== BLOB_TAIL_MAGIC) return 'blob tail is missing or names another length';
  return buf.subarray(start + BLOB_HEAD, start + BLOB_HEAD + length);
}

/**
 * Just enough ELF to find Go build info while a file streams past: the file header and the program headers, which
 * sit at the start of every real ELF file. Section headers are not used: they usually sit at the end of the file,
 * after the data we need, and Go's own reader falls back to the program headers as well.
 */

export const ELF_MAGIC = Buffer.from([0x7f, 0x45, 0x4c, 0x46]);
/** Program headers must lie within this many bytes from the start (real ones follow the 52/64-byte file header). */
export const ELF_HEAD_MAX = 64 * 1024;

const PT_LOAD = 1;
const PN_XNUM = 0xffff;
export const PF_X = 1;
export const PF_W = 2;

/** A PT_LOAD segment: `filesz` bytes at file `offset` are mapped at `vaddr`; the rest up to `memsz` is zeros. */
export interface ElfLoad {
  readonly vaddr: number;
  readonly offset: number;
  readonly filesz: number;
  readonly memsz: number;
  readonly flags: number;
}

export interface ElfInfo {
  readonly bits: 32 | 64;
  readonly littleEndian: boolean;
  readonly machine: number;
  readonly sectionCount: number;
  readonly loads: readonly ElfLoad[];
}

export type ElfHeadResult =
  | { readonly kind: 'need'; readonly bytes: number }
  | { readonly kind: 'not-elf' }
  | { readonly kind: 'bad'; readonly message: string }
  | { readonly kind: 'ok'; readonly info: ElfInfo };

/** Reads unsigned integers of one byte order; 64-bit values beyond 2^53 come back as NaN (treated as invalid). */
export class Reader {
  constructor(
    private readonly buf: Buffer,
    readonly littleEndian: boolean,
  ) {}

  u16(at: number): number {
    return this.littleEndian ? this.buf.readUInt16LE(at) : this.buf.readUInt16BE(at);
  }

  u32(at: number): number {
    return this.littleEndian ? this.buf.readUInt32LE(at) : this.buf.readUInt32BE(at);
  }

  u64(at: number): number {
    const v = this.littleEndian ? this.buf.readBigUInt64LE(at) : this.buf.readBigUInt64BE(at);
    return v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : Number.NaN;
  }

  word(at: number, size: 4 | 8): number {
    return size === 4 ? this.u32(at) : this.u64(at);
  }
}

/**
 * Parse the ELF file header and program headers from the first bytes of a file. Returns `need` with the byte
 * count to wait for when `head` is too short, so a caller can accumulate chunks. `fileSize` clips segments.
 */
export function parseElfHead(head: Buffer, fileSize: number): ElfHeadResult {
  if (head.length < 4) return { kind: 'need', bytes: 4 };
  if (!head.subarray(0, 4).equals(ELF_MAGIC)) return { kind: 'not-elf' };
  if (head.length < 6) return { kind: 'need', bytes: 6 };
  const cls = head[4];
  const data = head[5];
  if (cls !== 1 && cls !== 2) return { kind: 'bad', message: `unknown ELF class ${String(cls)}` };
  if (data !== 1 && data !== 2) return { kind: 'bad', message: `unknown ELF byte order ${String(data)}` };
  const bits = cls === 1 ? 32 : 64;
  const headerSize = bits === 32 ? 52 : 64;
  if (head.length < headerSize) return { kind: 'need', bytes: headerSize };
  const r = new Reader(head, data === 1);
  const machine = r.u16(18);
  const phoff = bits === 32 ? r.u32(28) : r.u64(32);
  const phentsize = r.u16(bits === 32 ? 42 : 54);
  const phnum = r.u16(bits === 32 ? 44 : 56);
  const shnum = r.u16(bits === 32 ? 48 : 60);
  if (phnum === 0) return { kind: 'ok', info: { bits, littleEndian: r.littleEndian, machine, sectionCount: shnum, loads: [] } };
  if (phnum === PN_XNUM) return { kind: 'bad', message: 'extended program header count (PN_XNUM) is not supported' };
  const minEntry = bits === 32 ? 32 : 56;
  if (phentsize < minEntry) return { kind: 'bad', message: `program header entry size ${phentsize} is below ${minEntry}` };
  const tableEnd = phoff + phnum * phentsize;
  if (!Number.isFinite(phoff) || phoff < headerSize || tableEnd > ELF_HEAD_MAX) {
    return { kind: 'bad', message: `program headers (${phnum} at offset ${phoff}) do not lie within the first ${ELF_HEAD_MAX} bytes` };
  }
  if (tableEnd > fileSize) return { kind: 'bad', message: `program headers end at ${tableEnd}, past the end of the ${fileSize}-byte file` };
  if (head.length < tableEnd) return { kind: 'need', bytes: tableEnd };

  const loads: ElfLoad[] = [];
  for (let i = 0; i < phnum; i++) {
    const at = phoff + i * phentsize;
    if (r.u32(at) !== PT_LOAD) continue;
    const load =
      bits === 32
        ? { offset: r.u32(at + 4), vaddr: r.u32(at + 8), filesz: r.u32(at + 16), memsz: r.u32(at + 20), flags: r.u32(at + 24) }
        : { flags: r.u32(at + 4), offset: r.u64(at + 8), vaddr: r.u64(at + 16), filesz: r.u64(at + 32), memsz: r.u64(at + 40) };
    // Segments with unrepresentable numbers or starting past the end of the file cannot hold what we look for.
    if (!Number.isFinite(load.offset + load.vaddr + load.filesz + load.memsz) || load.offset >= fileSize) continue;
    loads.push({ ...load, filesz: Math.min(load.filesz, fileSize - load.offset) });
  }
  return { kind: 'ok', info: { bits, littleEndian: r.littleEndian, machine, sectionCount: shnum, loads } };
}

/** Where `length` bytes at virtual address `addr` are: a file offset, all zeros (.bss), or nowhere. */
export type Mapped = { readonly kind: 'file'; readonly offset: number } | { readonly kind: 'zeros' } | { readonly kind: 'unmapped' };

/**
 * Map a virtual address range to the file, as Go's reader does: it must lie within one segment's file bytes. A
 * range wholly in the zero-filled tail of a segment (.bss) reads as zeros, which Go's linker relies on for empty
 * strings (`runtime.modinfo` of a GOPATH build). A range crossing into the tail is unmapped, as in Go.
 */
export function mapAddress(loads: readonly ElfLoad[], addr: number, length: number): Mapped {
  if (!Number.isFinite(addr)) return { kind: 'unmapped' };
  for (const l of loads) {
    if (addr < l.vaddr || addr >= l.vaddr + Math.max(l.memsz, l.filesz)) continue;
    const rel = addr - l.vaddr;
    if (rel + length <= l.filesz) return { kind: 'file', offset: l.offset + rel };
    if (rel >= l.filesz && rel + length <= l.memsz) return { kind: 'zeros' };
  }
  return { kind: 'unmapped' };
}

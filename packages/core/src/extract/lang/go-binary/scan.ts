/**
 * Finds Go build info in an ELF file that arrives as a stream of chunks, in one forward pass, with bounded memory.
 * Pure: bytes in, an outcome out; no I/O.
 *
 * Where the data is (Go's linker, checked on real binaries from go1.15 to go1.24):
 * - The 32-byte header (`\xff Go buildinf:`, pointer size, flags) starts `.go.buildinfo`, 16-byte aligned, in a
 *   writable PT_LOAD segment. Go's own reader takes the first aligned magic in the data; so do we, and we look
 *   only in writable segments, so the magic as a constant in `.rodata` (any program that imports
 *   debug/buildinfo: gopls, govulncheck, syft, trivy) is not taken for it.
 * - Go >= 1.18 (flags bit 2, "inline"): the version and module info follow the header as varint-prefixed
 *   strings. Read forward as they stream past.
 * - Go 1.13-1.17 ("pointer"): the header holds the addresses of two Go string headers {data, len}
 *   (runtime.buildVersion, runtime.modinfo). With Go's internal linker those headers come after the magic in
 *   .data/.noptrdata; with external linking (cgo) .data comes before .go.buildinfo. The string bytes are in
 *   .rodata, which precedes the data segment in the file. A stream cannot seek back, so while streaming we keep:
 *   the writable bytes before the magic (a sliding window of WINDOW_MAX bytes), every `go1.` in read-only
 *   segments (64 bytes each, at most VERSION_CANDIDATES_MAX), and each module-info blob (it is framed by 16-byte
 *   sentinels, so it can be cut out without knowing its length). After the header is read, every pointer is
 *   resolved against those, or read forward if it points ahead. Nothing is spilled to disk.
 *
 * The pass stops as soon as the outcome is known: after the first bytes for a non-ELF file, after the last
 * writable segment for an ELF file without build info, and right after the strings for a Go binary (whatever
 * follows, such as debug sections, is left to the caller to drain).
 */
import { ELF_HEAD_MAX, mapAddress, parseElfHead, PF_W, PF_X, Reader, type ElfInfo } from './elf.js';

export const BUILDINFO_MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
/** cmd/go's framing around module info (modload infoStart / infoEnd). */
export const MODINFO_START = Buffer.from('3077af0c9274080241e1c107e6d618e6', 'hex');
export const MODINFO_END = Buffer.from('f932433186182072008242104116d8f2', 'hex');
const GO_VERSION_PREFIX = Buffer.from('go1.', 'latin1');
const UPX_MARK = Buffer.from('UPX!', 'latin1');

const HEADER_SIZE = 32;
const ALIGN = 16;
/** Longest pattern (16) minus one: bytes carried from one chunk to the next so no match is split unseen. */
const OVERLAP = 15;
export const LIMITS = {
  /** Writable bytes kept before the magic, for pre-1.18 string headers that precede it (external linking). */
  windowMax: 8 * 1024 * 1024,
  versionCandidateBytes: 64,
  versionCandidatesMax: 1024,
  /** Bytes kept across all module-info blobs seen in read-only segments. */
  modinfoCaptureBudget: 4 * 1024 * 1024,
  versionMax: 1024,
  modinfoMax: 4 * 1024 * 1024,
  upxProbe: 4096,
} as const;

export type ScanOutcome =
  | { readonly kind: 'not-elf' }
  | { readonly kind: 'not-go' }
  | { readonly kind: 'bad-elf'; readonly message: string }
  | { readonly kind: 'upx' }
  | {
      readonly kind: 'go';
      readonly format: 'inline' | 'pointer';
      /** Null when the build info was found but its version could not be read (see problems). */
      readonly goVersion: string | null;
      /** Module info without its framing; '' for GOPATH builds and when unreadable (see problems). */
      readonly modinfo: string;
      readonly problems: readonly string[];
    };

interface Range {
  readonly offset: number;
  readonly buf: Buffer;
}

interface Span {
  readonly start: number;
  readonly end: number;
}

class ReadRequest {
  readonly buf: Buffer;
  filled = 0;
  constructor(
    readonly offset: number,
    readonly length: number,
    readonly label: string,
    readonly done: (b: Buffer) => void,
    /** Speculative reads (version candidates): nobody waits for them and their failure is no problem. */
    readonly quiet: boolean,
  ) {
    this.buf = Buffer.alloc(length);
  }
  get next(): number {
    return this.offset + this.filled;
  }
  get complete(): boolean {
    return this.filled === this.length;
  }
  /** Copy what `src` holds of the next missing bytes; true if anything was copied. */
  take(src: Range): boolean {
    const at = this.next - src.offset;
    if (this.complete || at < 0 || at >= src.buf.length) return false;
    const n = Math.min(this.length - this.filled, src.buf.length - at);
    src.buf.copy(this.buf, this.filled, at, at + n);
    this.filled += n;
    return true;
  }
}

/** A module-info blob cut out of a read-only segment: from its start sentinel through its end sentinel. */
class ModinfoCapture {
  private parts: Buffer[] = [];
  /** The last OVERLAP bytes captured, so an end sentinel split between chunks is still seen. */
  private last = Buffer.alloc(0);
  size = 0;
  state: 'open' | 'closed' | 'dropped' = 'open';
  kept: Range | null = null;
  constructor(readonly offset: number) {}

  /** Append the bytes of [p, p + b.length) that continue this capture; returns bytes added. */
  feed(p: number, b: Buffer, budget: number): number {
    if (this.state !== 'open') return 0;
    const at = this.offset + this.size - p;
    if (at < 0 || at >= b.length) return 0;
    const piece = b.subarray(at, at + Math.max(0, budget));
    if (piece.length === 0) {
      this.drop();
      return 0;
    }
    const probe = this.last.length > 0 ? Buffer.concat([this.last, piece]) : piece;
    const end = probe.indexOf(MODINFO_END);
    if (end >= 0) {
      const keep = end + MODINFO_END.length - this.last.length;
      this.parts.push(piece.subarray(0, keep));
      this.size += keep;
      this.state = 'closed';
      this.kept = { offset: this.offset, buf: Buffer.concat(this.parts) };
      this.parts = [];
      return keep;
    }
    if (piece.length < b.length - at) {
      this.drop(); // over budget before the end sentinel
      return 0;
    }
    const copy = Buffer.from(piece);
    this.parts.push(copy);
    this.size += copy.length;
    this.last = Buffer.from(probe.subarray(Math.max(0, probe.length - OVERLAP)));
    return copy.length;
  }

  drop(): void {
    this.state = 'dropped';
    this.parts = [];
    this.kept = null;
  }
}

export class GoBuildInfoScanner {
  private pos = 0;
  private headParts: Buffer[] = [];
  private headLen = 0;
  private needed = 4;
  private elf: ElfInfo | null = null;
  private outcome: ScanOutcome | null = null;

  private writable: Span[] = [];
  private readOnly: Span[] = [];
  private scanEnd = 0;

  private tail: Range | null = null;
  private window: Range[] = [];
  private windowBytes = 0;
  private versionCandidates: Range[] = [];
  private modinfoCaptures: ModinfoCapture[] = [];
  private captureBudget = LIMITS.modinfoCaptureBudget;
  private pending: ReadRequest[] = [];
  /** The chunk being processed; reads are served from it as well as from what was kept. */
  private cur: Range | null = null;

  private magicFound = false;
  private format: 'inline' | 'pointer' = 'inline';
  private goVersion: string | null = null;
  private modinfo = '';
  private problems: string[] = [];
  private openChains = 0;

  constructor(private readonly fileSize: number) {}

  /** Feed the next chunk; returns true once the outcome is known and no more bytes are needed. */
  push(chunk: Buffer): boolean {
    if (this.outcome !== null) return true;
    if (chunk.length === 0) return false;
    if (this.elf === null) {
      this.headParts.push(chunk);
      this.headLen += chunk.length;
      if (this.headLen < this.needed) return false;
      const head = Buffer.concat(this.headParts);
      this.headParts = [];
      this.headLen = 0;
      const r = parseElfHead(head, this.fileSize);
      switch (r.kind) {
        case 'need':
          this.headParts = [head];
          this.headLen = head.length;
          this.needed = r.bytes;
          return false;
        case 'not-elf':
          this.outcome = { kind: 'not-elf' };
          return true;
        case 'bad':
          this.outcome = { kind: 'bad-elf', message: r.message };
          return true;
        case 'ok':
          this.setup(r.info);
          if (this.outcome !== null) return true;
          this.process(head);
          return this.outcome !== null;
      }
    }
    this.process(chunk);
    return this.outcome !== null;
  }

  /** The stream ended: settle the outcome from what was seen. */
  end(): ScanOutcome {
    if (this.outcome !== null) return this.outcome;
    if (this.elf === null) {
      const head = Buffer.concat(this.headParts);
      const isElf = head.length >= 4 && parseElfHead(head, this.fileSize).kind !== 'not-elf';
      this.outcome = isElf ? { kind: 'bad-elf', message: `truncated: the file ends after ${head.length} bytes of ELF header` } : { kind: 'not-elf' };
      return this.outcome;
    }
    if (!this.magicFound) {
      this.outcome = { kind: 'not-go' };
      return this.outcome;
    }
    for (const req of this.pending) {
      if (req.quiet) continue;
      this.problems.push(`truncated: ${req.label} (${req.length} bytes at offset ${req.offset}) lies past the end of the stream at ${this.pos}`);
    }
    this.pending = [];
    this.openChains = 0;
    this.settle();
    return this.outcome ?? { kind: 'not-go' };
  }

  private setup(info: ElfInfo): void {
    this.elf = info;
    const spans = (keep: (flags: number) => boolean): Span[] =>
      info.loads.filter((l) => l.filesz > 0 && keep(l.flags)).map((l) => ({ start: l.offset, end: l.offset + l.filesz }));
    this.writable = spans((f) => (f & PF_W) !== 0);
    // Go puts .rodata in its own read-only segment; only old layouts fold it into the text segment.
    const rodata = spans((f) => (f & (PF_W | PF_X)) === 0);
    this.readOnly = rodata.length > 0 ? rodata : spans((f) => (f & PF_W) === 0);
    this.scanEnd = Math.max(0, ...this.writable.map((s) => s.end));
    if (this.writable.length === 0) this.outcome = { kind: 'not-go' };
  }

  private process(b: Buffer): void {
    const p = this.pos;
    const e = p + b.length;
    this.cur = { offset: p, buf: b };
    try {
      if (p < LIMITS.upxProbe && this.elf?.sectionCount === 0 && this.findUpx(p, b)) {
        this.outcome = { kind: 'upx' };
        return;
      }
      if (!this.magicFound) this.keepWritable(p, b);
      this.feedPending(p, b);
      if (!this.magicFound) this.findMagic(p, b);
      if (!this.magicFound) {
        this.findCandidates(p, b);
        if (e >= this.scanEnd) this.outcome = { kind: 'not-go' };
      }
      for (const c of this.modinfoCaptures) this.captureBudget -= c.feed(p, b, this.captureBudget);
      this.closeCaptures();
    } finally {
      this.cur = null;
      this.updateTail(p, b);
      this.pos = e;
    }
    if (this.outcome === null && this.magicFound) this.settle();
  }

  /** UPX writes "UPX!" right after the program headers of the files it packs (and strips the section headers). */
  private findUpx(p: number, b: Buffer): boolean {
    const head = b.subarray(0, LIMITS.upxProbe - p);
    const tail = this.tail && this.tail.offset + this.tail.buf.length === p ? this.tail.buf : null;
    return (tail ? Buffer.concat([tail, head]) : head).indexOf(UPX_MARK) >= 0;
  }

  private keepWritable(p: number, b: Buffer): void {
    const e = p + b.length;
    for (const s of this.writable) {
      const from = Math.max(s.start, p);
      const to = Math.min(s.end, e);
      if (from >= to) continue;
      this.window.push({ offset: from, buf: Buffer.from(b.subarray(from - p, to - p)) });
      this.windowBytes += to - from;
    }
    while (this.windowBytes > LIMITS.windowMax && this.window.length > 0) this.windowBytes -= this.window.shift()!.buf.length;
  }

  private updateTail(p: number, b: Buffer): void {
    if (b.length >= OVERLAP) {
      this.tail = { offset: p + b.length - OVERLAP, buf: Buffer.from(b.subarray(b.length - OVERLAP)) };
      return;
    }
    const prev = this.tail && this.tail.offset + this.tail.buf.length === p ? this.tail.buf : Buffer.alloc(0);
    const joined = Buffer.concat([prev, b]);
    const keep = joined.subarray(Math.max(0, joined.length - OVERLAP));
    this.tail = { offset: p + b.length - keep.length, buf: Buffer.from(keep) };
  }

  /** Every occurrence of `pattern` that lies wholly inside one of `spans`, including ones split across chunks. */
  private findAll(pattern: Buffer, spans: readonly Span[], p: number, b: Buffer, onMatch: (offset: number) => boolean): void {
    const e = p + b.length;
    const L = pattern.length;
    for (const s of spans) {
      if (s.end <= p - (L - 1) || s.start >= e) continue;
      const tail = this.tail;
      if (tail && tail.offset + tail.buf.length === p && s.start < p) {
        const js = Math.max(s.start, tail.offset, p - (L - 1));
        const junction = Buffer.concat([tail.buf.subarray(js - tail.offset), b.subarray(0, Math.min(L - 1, b.length))]);
        let i = junction.indexOf(pattern);
        while (i >= 0 && js + i < p) {
          if (js + i + L <= s.end && !onMatch(js + i)) return;
          i = junction.indexOf(pattern, i + 1);
        }
      }
      const from = Math.max(s.start, p) - p;
      const to = Math.min(s.end, e) - p;
      if (to - from < L) continue;
      const view = b.subarray(from, to);
      let i = view.indexOf(pattern);
      while (i >= 0) {
        if (!onMatch(p + from + i)) return;
        i = view.indexOf(pattern, i + 1);
      }
    }
  }

  private findMagic(p: number, b: Buffer): void {
    const loads = this.elf?.loads ?? [];
    this.findAll(BUILDINFO_MAGIC, this.writable, p, b, (off) => {
      const load = loads.find((l) => (l.flags & PF_W) !== 0 && off >= l.offset && off < l.offset + l.filesz);
      if (!load || (load.vaddr + (off - load.offset)) % ALIGN !== 0) return true;
      this.magicFound = true;
      this.openChains = 1;
      this.read(off, HEADER_SIZE, 'build info header', (h) => this.onHeader(off, h));
      return false;
    });
  }

  private findCandidates(p: number, b: Buffer): void {
    if (this.versionCandidates.length < LIMITS.versionCandidatesMax) {
      this.findAll(GO_VERSION_PREFIX, this.readOnly, p, b, (off) => {
        const span = this.readOnly.find((s) => off >= s.start && off < s.end);
        const len = Math.min(LIMITS.versionCandidateBytes, (span?.end ?? off) - off, this.fileSize - off);
        this.versionCandidates.push({ offset: off, buf: Buffer.alloc(0) }); // reserve the slot: the cap counts starts
        const slot = this.versionCandidates.length - 1;
        this.read(off, len, 'version candidate', (v) => {
          this.versionCandidates[slot] = { offset: off, buf: v };
        }, true);
        return this.versionCandidates.length < LIMITS.versionCandidatesMax;
      });
    }
    this.findAll(MODINFO_START, this.readOnly, p, b, (off) => {
      if (this.captureBudget <= 0 || this.modinfoCaptures.some((c) => c.offset === off)) return true;
      const c = new ModinfoCapture(off);
      const tail = this.tail;
      if (off < p && tail) this.captureBudget -= c.feed(tail.offset, tail.buf, this.captureBudget);
      this.modinfoCaptures.push(c);
      return true;
    });
  }

  private closeCaptures(): void {
    for (const c of this.modinfoCaptures) {
      if (c.state === 'dropped') this.captureBudget += c.size;
    }
    this.modinfoCaptures = this.modinfoCaptures.filter((c) => c.state !== 'dropped');
  }

  /**
   * Read `length` bytes at file `offset`: now, from the current chunk and what was kept, or later as the stream
   * passes them. A range already passed and not kept is a problem. `quiet` reads fail silently (candidates).
   */
  private read(offset: number, length: number, label: string, done: (b: Buffer) => void, quiet = false): void {
    if (length === 0) {
      done(Buffer.alloc(0));
      return;
    }
    if (offset < 0 || offset + length > this.fileSize) {
      if (!quiet) this.chainFailed(`${label}: ${length} bytes at offset ${offset} lie past the end of the ${this.fileSize}-byte file`);
      return;
    }
    const req = new ReadRequest(offset, length, label, done, quiet);
    const sources: Range[] = [];
    if (this.tail) sources.push(this.tail);
    sources.push(...this.window, ...this.versionCandidates);
    for (const c of this.modinfoCaptures) if (c.kept) sources.push(c.kept);
    if (this.cur) sources.push(this.cur);
    let progress = true;
    while (progress && !req.complete) {
      progress = false;
      for (const s of sources) if (req.take(s)) progress = true;
    }
    if (req.complete) {
      done(req.buf);
      return;
    }
    const horizon = this.cur ? this.cur.offset + this.cur.buf.length : this.pos;
    if (req.next < horizon) {
      if (!quiet) this.chainFailed(`${label} at offset ${req.next} precedes the build info and was not kept while streaming`);
      return;
    }
    this.pending.push(req);
  }

  private feedPending(p: number, b: Buffer): void {
    if (this.pending.length === 0) return;
    const chunk = { offset: p, buf: b };
    const ready: ReadRequest[] = [];
    this.pending = this.pending.filter((req) => {
      req.take(chunk);
      if (!req.complete) return true;
      ready.push(req);
      return false;
    });
    for (const req of ready) req.done(req.buf);
  }

  private chainFailed(problem: string): void {
    this.problems.push(problem);
    this.openChains--;
  }

  private onHeader(magicOffset: number, h: Buffer): void {
    const ptrSize = h[14];
    const flags = h[15] ?? 0;
    if ((flags & 2) !== 0) {
      this.format = 'inline';
      this.dropKept();
      // the header chain goes on as one chain: the version, then the module info
      this.readVarintString(magicOffset + HEADER_SIZE, 'Go version', LIMITS.versionMax, (v, next) => {
        this.goVersion = v.toString('latin1');
        this.readVarintString(next, 'module info', LIMITS.modinfoMax, (m) => {
          this.modinfo = stripFraming(m);
          this.openChains--;
        });
      });
      return;
    }
    this.format = 'pointer';
    if (ptrSize !== 4 && ptrSize !== 8) {
      this.chainFailed(`build info header has pointer size ${String(ptrSize)}, expected 4 or 8`);
      return;
    }
    // Go's reader: any non-zero flags byte without the inline bit means big-endian
    const r = new Reader(h, flags === 0);
    const versionAddr = r.word(16, ptrSize);
    const modinfoAddr = r.word(16 + ptrSize, ptrSize);
    this.openChains = 2; // the header chain splits into two independent ones
    this.readGoString(versionAddr, ptrSize, flags === 0, 'Go version', LIMITS.versionMax, (v) => {
      this.goVersion = v.toString('latin1');
      this.openChains--;
    });
    this.readGoString(modinfoAddr, ptrSize, flags === 0, 'module info', LIMITS.modinfoMax, (m) => {
      this.modinfo = stripFraming(m);
      this.openChains--;
    });
  }

  /** A uvarint length and that many bytes at `offset` (Go >= 1.18 inline strings). */
  private readVarintString(offset: number, label: string, max: number, done: (s: Buffer, next: number) => void): void {
    const probe = Math.min(10, this.fileSize - offset);
    if (probe <= 0) {
      this.chainFailed(`${label}: its length at offset ${offset} lies past the end of the file`);
      return;
    }
    this.read(offset, probe, `${label} length`, (b) => {
      const v = readUvarint(b);
      if (v === null) {
        this.chainFailed(`${label}: malformed length at offset ${offset}`);
        return;
      }
      const start = offset + v.bytes;
      if (v.value > max) {
        this.chainFailed(`${label}: declared length ${v.value} is over the ${max}-byte limit`);
        return;
      }
      if (start + v.value > this.fileSize) {
        this.chainFailed(`${label}: declared length ${v.value} at offset ${offset} points past the end of the ${this.fileSize}-byte file`);
        return;
      }
      this.read(start, v.value, label, (s) => done(s, start + v.value));
    });
  }

  /** A Go string header {data, len} at virtual address `addr`, then its bytes (Go 1.13-1.17 pointer format). */
  private readGoString(addr: number, ptrSize: 4 | 8, littleEndian: boolean, label: string, max: number, done: (s: Buffer) => void): void {
    const loads = this.elf?.loads ?? [];
    const hdr = mapAddress(loads, addr, 2 * ptrSize);
    if (hdr.kind === 'zeros') {
      done(Buffer.alloc(0)); // an empty string variable in .bss: GOPATH builds have no module info
      return;
    }
    if (hdr.kind === 'unmapped') {
      this.chainFailed(`${label}: string header address 0x${addr.toString(16)} is not in any loaded segment`);
      return;
    }
    this.read(hdr.offset, 2 * ptrSize, `${label} string header`, (h) => {
      const r = new Reader(h, littleEndian);
      const dataAddr = r.word(0, ptrSize);
      const length = r.word(ptrSize, ptrSize);
      if (length === 0) {
        done(Buffer.alloc(0));
        return;
      }
      if (!(length <= max)) {
        this.chainFailed(`${label}: string length ${length} is over the ${max}-byte limit`);
        return;
      }
      const data = mapAddress(loads, dataAddr, length);
      if (data.kind === 'zeros') {
        done(Buffer.alloc(length));
        return;
      }
      if (data.kind === 'unmapped') {
        this.chainFailed(`${label}: string data address 0x${dataAddr.toString(16)} (+${length}) is not in any loaded segment`);
        return;
      }
      this.read(data.offset, length, label, done);
    });
  }

  private dropKept(): void {
    this.window = [];
    this.windowBytes = 0;
    this.versionCandidates = [];
    for (const c of this.modinfoCaptures) c.drop();
    this.modinfoCaptures = [];
  }

  private settle(): void {
    if (this.outcome !== null || this.openChains > 0 || this.pending.some((r) => !r.quiet)) return;
    this.dropKept();
    // As Go's reader: no version string means this is not Go build info after all.
    if (this.goVersion === '' && this.problems.length === 0) {
      this.outcome = { kind: 'not-go' };
      return;
    }
    this.outcome = {
      kind: 'go',
      format: this.format,
      goVersion: this.goVersion === '' ? null : this.goVersion,
      modinfo: this.modinfo,
      problems: this.problems,
    };
  }
}

/** Go's rule: module info is framed by 16-byte sentinels and ends with a newline inside them; otherwise none. */
export function stripFraming(mod: Buffer): string {
  if (mod.length >= 33 && mod[mod.length - 17] === 0x0a) return mod.subarray(16, mod.length - 16).toString('utf8');
  return '';
}

export function readUvarint(b: Buffer): { value: number; bytes: number } | null {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < b.length && i < 10; i++) {
    const byte = b[i]!;
    value += (byte & 0x7f) * scale;
    if (value > Number.MAX_SAFE_INTEGER) return null;
    if ((byte & 0x80) === 0) return { value, bytes: i + 1 };
    scale *= 128;
  }
  return null;
}

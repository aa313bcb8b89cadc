/**
 * Generator of the small synthetic ELF files in testdata/synthetic/: the layouts Go's linker produces (checked
 * against real binaries, see README.md), cut down to a few hundred bytes, plus broken ones. The test suite
 * checks that the committed files equal this output; regenerate with
 *   node --import tsx packages/core/src/extract/lang/go-binary/testdata/generate.ts
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const MAGIC = Buffer.from('\xff Go buildinf:', 'latin1');
const START = Buffer.from('3077af0c9274080241e1c107e6d618e6', 'hex');
const END = Buffer.from('f932433186182072008242104116d8f2', 'hex');
const PF_X = 1;
const PF_W = 2;
const PF_R = 4;

interface Seg {
  readonly flags: number;
  readonly size: number;
  /** Extra zero-filled bytes in memory only (.bss). */
  readonly bss?: number;
}

interface Layout {
  readonly offsets: number[];
  readonly vaddrs: number[];
  readonly size: number;
}

interface ElfSpec {
  readonly bits: 32 | 64;
  readonly le: boolean;
  readonly machine: number;
  readonly segs: readonly Seg[];
  readonly shnum?: number;
  /** Lie about the program header count (the table written still has segs.length entries). */
  readonly phnumOverride?: number;
}

const align16 = (n: number): number => (n + 15) & ~15;

function layout(spec: ElfSpec): Layout {
  const eh = spec.bits === 64 ? 64 : 52;
  const ph = spec.bits === 64 ? 56 : 32;
  let at = align16(eh + ph * spec.segs.length);
  const base = spec.bits === 64 ? 0x400000 : 0x08048000; // both ≡ 0 mod 16, so vaddr and offset share alignment
  const offsets: number[] = [];
  const vaddrs: number[] = [];
  for (const s of spec.segs) {
    offsets.push(at);
    vaddrs.push(base + at + offsets.length * 0x100000); // segments a page apart in memory, as real ones are
    at = align16(at + s.size);
  }
  return { offsets, vaddrs, size: at };
}

function writeUint(buf: Buffer, at: number, v: number, size: 2 | 4 | 8, le: boolean): void {
  if (size === 2) (le ? buf.writeUInt16LE(v, at) : buf.writeUInt16BE(v, at));
  else if (size === 4) (le ? buf.writeUInt32LE(v, at) : buf.writeUInt32BE(v, at));
  else (le ? buf.writeBigUInt64LE(BigInt(v), at) : buf.writeBigUInt64BE(BigInt(v), at));
}

/** Assemble the file: headers, then each segment's bytes from `fill` at its offset. */
function assemble(spec: ElfSpec, l: Layout, fill: (i: number) => Buffer): Buffer {
  const out = Buffer.alloc(l.size);
  const b64 = spec.bits === 64;
  const w = (at: number, v: number, size: 2 | 4 | 8): void => writeUint(out, at, v, size, spec.le);
  out.set([0x7f, 0x45, 0x4c, 0x46, b64 ? 2 : 1, spec.le ? 1 : 2, 1], 0);
  w(16, 2, 2); // ET_EXEC
  w(18, spec.machine, 2);
  w(20, 1, 4);
  const eh = b64 ? 64 : 52;
  const ph = b64 ? 56 : 32;
  if (b64) {
    w(24, l.vaddrs[0] ?? 0, 8);
    w(32, eh, 8); // e_phoff
    w(52, eh, 2);
    w(54, ph, 2);
    w(56, spec.phnumOverride ?? spec.segs.length, 2);
    w(58, 64, 2);
    w(60, spec.shnum ?? 0, 2);
  } else {
    w(24, l.vaddrs[0] ?? 0, 4);
    w(28, eh, 4);
    w(40, eh, 2);
    w(42, ph, 2);
    w(44, spec.phnumOverride ?? spec.segs.length, 2);
    w(46, 40, 2);
    w(48, spec.shnum ?? 0, 2);
  }
  spec.segs.forEach((s, i) => {
    const at = eh + i * ph;
    const off = l.offsets[i]!;
    const va = l.vaddrs[i]!;
    const mem = s.size + (s.bss ?? 0);
    if (b64) {
      w(at, 1, 4);
      w(at + 4, s.flags, 4);
      w(at + 8, off, 8);
      w(at + 16, va, 8);
      w(at + 24, va, 8);
      w(at + 32, s.size, 8);
      w(at + 40, mem, 8);
      w(at + 48, 0x1000, 8);
    } else {
      w(at, 1, 4);
      w(at + 4, off, 4);
      w(at + 8, va, 4);
      w(at + 12, va, 4);
      w(at + 16, s.size, 4);
      w(at + 20, mem, 4);
      w(at + 24, s.flags, 4);
      w(at + 28, 0x1000, 4);
    }
    const data = fill(i);
    if (data.length > s.size) throw new Error(`segment ${i}: ${data.length} bytes over its size ${s.size}`);
    data.copy(out, off);
  });
  return out;
}

/** Deterministic filler that looks like machine code and never contains the patterns we search for. */
function noise(n: number, seed: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = 0x80 | ((x >>> 16) & 0x7f);
  }
  return b;
}

function uvarint(n: number): Buffer {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Buffer.from(out);
}

const framed = (text: string): Buffer => Buffer.concat([START, Buffer.from(text, 'utf8'), END]);

/** Place pieces at given offsets inside a buffer of `size` filled with noise. */
function segment(size: number, seed: number, pieces: ReadonlyArray<readonly [number, Buffer]>): Buffer {
  const b = noise(size, seed);
  for (const [at, p] of pieces) p.copy(b, at);
  return b;
}

export const MODINFO_INLINE = [
  'path\texample.com/app/cmd/app',
  'mod\texample.com/app\t(devel)\t',
  'dep\tgithub.com/a/b\tv1.2.3\th1:abcdefabcdefabcdefabcdefabcdefabcdefabcdefa=',
  'dep\tgithub.com/old/fork\tv1.0.0\th1:oldoldoldoldoldoldoldoldoldoldoldoldoldoldo=',
  '=>\tgithub.com/new/fork\tv1.0.5\th1:newnewnewnewnewnewnewnewnewnewnewnewnewnewn=',
  'dep\texample.com/app/internal/legacy\tv0.0.0-00010101000000-000000000000\t',
  '=>\t./internal/legacy\t(devel)\t',
  'build\t-buildmode=exe',
  'build\t-compiler=gc',
  'build\t-ldflags="-s -w -X \\"main.version=1.4.2\\" -X main.commit=0123456"',
  'build\tCGO_ENABLED=0',
  'build\tvcs=git',
  'build\tvcs.revision=0123456789abcdef0123456789abcdef01234567',
  'build\tvcs.time=2024-03-01T10:20:30Z',
  'build\tvcs.modified=false',
  '',
].join('\n');

export const MODINFO_POINTER = ['path\texample.com/old/cmd/old', 'mod\texample.com/old\tv2.3.4+incompatible\t', 'dep\tgolang.org/x/sys\tv0.0.0-20200501145240-bc7a7d42d5c3\th1:5B6i6EAiSYyejWfvc5Rc9BbI3rzIsrrXfAQBWnYfn+w=', ''].join('\n');

/** Go >= 1.18, ELF64 LE: decoy magics in .rodata and misaligned in .data, then the real one; inline strings. */
function inlineLe64(): Buffer {
  const spec: ElfSpec = { bits: 64, le: true, machine: 62, segs: [{ flags: PF_R | PF_X, size: 256 }, { flags: PF_R, size: 1024 }, { flags: PF_W | PF_R, size: 1024, bss: 4096 }] };
  const l = layout(spec);
  const decoy = Buffer.concat([MAGIC, Buffer.from([8, 2]), Buffer.alloc(16), uvarint(7), Buffer.from('go9.9.9'), uvarint(0)]);
  const mod = framed(MODINFO_INLINE);
  const misaligned = Buffer.concat([MAGIC, Buffer.from([8, 2])]);
  const header = Buffer.concat([MAGIC, Buffer.from([8, 2]), Buffer.alloc(16), uvarint(8), Buffer.from('go1.21.3'), uvarint(mod.length), mod]);
  return assemble(spec, l, (i) =>
    i === 0 ? noise(256, 1) : i === 1 ? segment(1024, 2, [[0, decoy], [64, Buffer.from('go1.21.3')], [96, mod]]) : segment(1024, 3, [[8, misaligned], [48, header]]),
  );
}

/** Go 1.13-1.17 internal linking, ELF64 LE: strings in .rodata, string headers after the magic in .data. */
function pointerLe64(): Buffer {
  const spec: ElfSpec = { bits: 64, le: true, machine: 62, segs: [{ flags: PF_R | PF_X, size: 256 }, { flags: PF_R, size: 512 }, { flags: PF_W | PF_R, size: 256, bss: 256 }] };
  const l = layout(spec);
  const ro = l.vaddrs[1]!;
  const rw = l.vaddrs[2]!;
  const mod = framed(MODINFO_POINTER);
  const le64 = (...v: number[]): Buffer => Buffer.concat(v.map((n) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(n)); return b; }));
  // .rodata: other "go1." strings around the real one, as the string pool has them
  const rodata = segment(512, 5, [[16, Buffer.from('go1.2go1.16.15go1.')], [128, mod]]);
  const header = Buffer.concat([MAGIC, Buffer.from([8, 0]), le64(rw + 64, rw + 96)]);
  const data = segment(256, 6, [[0, header], [64, le64(ro + 16 + 5, 9)], [96, le64(ro + 128, mod.length)]]);
  return assemble(spec, l, (i) => (i === 0 ? noise(256, 4) : i === 1 ? rodata : data));
}

/** Go 1.15 external linking (cgo), ELF32 big-endian: the version's string header precedes the magic; modinfo in .bss. */
function pointerBe32ExternalLink(): Buffer {
  const spec: ElfSpec = { bits: 32, le: false, machine: 8, segs: [{ flags: PF_R | PF_X, size: 128 }, { flags: PF_R, size: 128 }, { flags: PF_W | PF_R, size: 192, bss: 64 }] };
  const l = layout(spec);
  const ro = l.vaddrs[1]!;
  const rw = l.vaddrs[2]!;
  const be32 = (...v: number[]): Buffer => Buffer.concat(v.map((n) => { const b = Buffer.alloc(4); b.writeUInt32BE(n); return b; }));
  const rodata = segment(128, 8, [[40, Buffer.from('go1.15.15')]]);
  // .data (version string header at +16), then .go.buildinfo at +160; runtime.modinfo lives in .bss (rw + 192 + 8)
  const header = Buffer.concat([MAGIC, Buffer.from([4, 1]), be32(rw + 16, rw + 192 + 8), Buffer.alloc(8)]);
  const data = segment(192, 9, [[16, be32(ro + 40, 9)], [160, header]]);
  return assemble(spec, l, (i) => (i === 0 ? noise(128, 7) : i === 1 ? rodata : data));
}

/** Go >= 1.18, ELF32 big-endian, a toolchain with an experiment suffix. */
function inlineBe32(): Buffer {
  const spec: ElfSpec = { bits: 32, le: false, machine: 20, segs: [{ flags: PF_R | PF_X, size: 64 }, { flags: PF_W | PF_R, size: 512 }] };
  const l = layout(spec);
  const mod = framed('path\texample.com/ppc\nmod\texample.com/ppc\tv0.3.0\t\ndep\tgithub.com/x/y\tv1.0.0\t\nbuild\tGOARCH=ppc\n');
  const v = Buffer.from('go1.22.1 X:boringcrypto');
  const header = Buffer.concat([MAGIC, Buffer.from([4, 2]), Buffer.alloc(16), uvarint(v.length), v, uvarint(mod.length), mod]);
  return assemble(spec, l, (i) => (i === 0 ? noise(64, 10) : segment(512, 11, [[0, header]])));
}

/** An ELF without Go build info; the magic appears only in .rodata (as in programs that read build info). */
function notGo(): Buffer {
  const spec: ElfSpec = { bits: 64, le: true, machine: 183, segs: [{ flags: PF_R | PF_X, size: 128 }, { flags: PF_R, size: 128 }, { flags: PF_W | PF_R, size: 128 }] };
  const l = layout(spec);
  const ro = segment(128, 13, [[0, Buffer.concat([MAGIC, Buffer.from([8, 2]), Buffer.alloc(16), uvarint(6), Buffer.from('go1.20')])], [64, Buffer.from('go1.')]]);
  return assemble(spec, l, (i) => (i === 0 ? noise(128, 12) : i === 1 ? ro : noise(128, 14)));
}

/** Inline build info whose module-info length points far past the end of the file. */
function truncatedInline(): Buffer {
  const spec: ElfSpec = { bits: 64, le: true, machine: 62, segs: [{ flags: PF_R | PF_X, size: 64 }, { flags: PF_W | PF_R, size: 128 }] };
  const l = layout(spec);
  const header = Buffer.concat([MAGIC, Buffer.from([8, 2]), Buffer.alloc(16), uvarint(8), Buffer.from('go1.20.5'), uvarint(1_000_000), START, Buffer.from('path\tx\n')]);
  return assemble(spec, l, (i) => (i === 0 ? noise(64, 15) : segment(128, 16, [[0, header]])));
}

/** ELF magic, then garbage. */
function badHeader(): Buffer {
  return Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 7, 9]), noise(200, 17)]);
}

/** A 64-bit header that claims 60000 program headers. */
function absurdPhnum(): Buffer {
  const spec: ElfSpec = { bits: 64, le: true, machine: 62, segs: [{ flags: PF_R | PF_X, size: 64 }], phnumOverride: 60000 };
  return assemble(spec, layout(spec), () => noise(64, 18));
}

/** What UPX leaves: no section headers, the "UPX!" mark after the program headers, the program compressed. */
function upx(): Buffer {
  const spec: ElfSpec = { bits: 64, le: true, machine: 62, segs: [{ flags: PF_R | PF_X, size: 512 }, { flags: PF_W | PF_R, size: 256 }] };
  const l = layout(spec);
  return assemble(spec, l, (i) => (i === 0 ? segment(512, 19, [[40, Buffer.from('UPX!')]]) : noise(256, 20)));
}

export function fixtures(): Record<string, Buffer> {
  return {
    'inline-le64.elf': inlineLe64(),
    'pointer-le64.elf': pointerLe64(),
    'pointer-be32-extlink.elf': pointerBe32ExternalLink(),
    'inline-be32.elf': inlineBe32(),
    'not-go.elf': notGo(),
    'truncated-inline.elf': truncatedInline(),
    'bad-header.elf': badHeader(),
    'absurd-phnum.elf': absurdPhnum(),
    'upx.elf': upx(),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const dir = new URL('./synthetic/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(fixtures())) writeFileSync(new URL(name, dir), bytes);
}

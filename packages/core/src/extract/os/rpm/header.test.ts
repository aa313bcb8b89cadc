import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getInt32, getInt32Array, getString, getStringArray, parseHeader, RPMTAG, RpmHeaderError } from './header.js';
import { parseRpmPackage } from './parse.js';

type Value = { tag: number } & ({ string: string } | { strings: string[] } | { int32: number[] } | { raw: { type: number; count: number; bytes: Buffer } });

const T = { INT32: 4, STRING: 6, BIN: 7, STRING_ARRAY: 8 };

function encode(v: Value): { type: number; count: number; bytes: Buffer; align: number } {
  if ('string' in v) return { type: T.STRING, count: 1, bytes: Buffer.from(`${v.string}\0`), align: 1 };
  if ('strings' in v) return { type: T.STRING_ARRAY, count: v.strings.length, bytes: Buffer.from(v.strings.map((s) => `${s}\0`).join('')), align: 1 };
  if ('int32' in v) {
    const b = Buffer.alloc(v.int32.length * 4);
    v.int32.forEach((n, i) => b.writeUInt32BE(n, i * 4));
    return { type: T.INT32, count: v.int32.length, bytes: b, align: 4 };
  }
  return { ...v.raw, align: 1 };
}

/**
 * A header blob as rpm stores it in its database: an immutable region (tag 63) over `region`, then `dribbles`
 * appended after the region trailer, or with `legacy` no region at all.
 */
function buildHeader(region: Value[], options: { dribbles?: Value[]; legacy?: boolean } = {}): Buffer {
  const dribbles = options.dribbles ?? [];
  const index: Buffer[] = [];
  const data: Buffer[] = [];
  let size = 0;
  const put = (tag: number, v: ReturnType<typeof encode>): void => {
    const pad = (v.align - (size % v.align)) % v.align;
    if (pad) data.push(Buffer.alloc(pad));
    size += pad;
    const e = Buffer.alloc(16);
    e.writeUInt32BE(tag, 0);
    e.writeUInt32BE(v.type, 4);
    e.writeInt32BE(size, 8);
    e.writeUInt32BE(v.count, 12);
    index.push(e);
    data.push(v.bytes);
    size += v.bytes.length;
  };
  if (options.legacy) {
    for (const v of region) put(v.tag, encode(v));
  } else {
    const regionEntry = Buffer.alloc(16);
    index.push(regionEntry);
    for (const v of region) put(v.tag, encode(v));
    const trailer = Buffer.alloc(16);
    trailer.writeUInt32BE(RPMTAG.HEADERIMMUTABLE, 0);
    trailer.writeUInt32BE(T.BIN, 4);
    trailer.writeInt32BE(-(region.length + 1) * 16, 8);
    trailer.writeUInt32BE(16, 12);
    regionEntry.writeUInt32BE(RPMTAG.HEADERIMMUTABLE, 0);
    regionEntry.writeUInt32BE(T.BIN, 4);
    regionEntry.writeInt32BE(size, 8);
    regionEntry.writeUInt32BE(16, 12);
    data.push(trailer);
    size += 16;
    for (const v of dribbles) put(v.tag, encode(v));
  }
  const head = Buffer.alloc(8);
  head.writeUInt32BE(index.length, 0);
  head.writeUInt32BE(size, 4);
  return Buffer.concat([head, ...index, ...data]);
}

const BASIC: Value[] = [
  { tag: RPMTAG.NAME, string: 'bash' },
  { tag: RPMTAG.VERSION, string: '5.1.8' },
  { tag: RPMTAG.RELEASE, string: '6.el9' },
  { tag: RPMTAG.LICENSE, string: 'GPL-3.0-or-later' },
  { tag: RPMTAG.ARCH, string: 'x86_64' },
  { tag: RPMTAG.DIRINDEXES, int32: [0, 1, 1] },
  { tag: RPMTAG.BASENAMES, strings: ['bash', 'x.py', 'y.txt'] },
  { tag: RPMTAG.DIRNAMES, strings: ['/usr/bin/', '/usr/lib/python3/'] },
];

/** Runs a hostile case: it must throw the reader's error, quickly, without allocating anything large. */
function assertRejects(fn: () => unknown, message: RegExp): void {
  const before = process.memoryUsage();
  const started = performance.now();
  assert.throws(fn, (err: unknown) => err instanceof Error && message.test(err.message));
  assert.ok(performance.now() - started < 200, 'hostile input must fail fast');
  const after = process.memoryUsage();
  assert.ok(after.arrayBuffers - before.arrayBuffers < 16 * 1024 * 1024, 'hostile input must not allocate a large buffer');
}

describe('rpm header blob', () => {
  it('reads strings, string arrays and INT32 values out of an immutable region', () => {
    const h = parseHeader(buildHeader(BASIC));
    assert.equal(getString(h, RPMTAG.NAME), 'bash');
    assert.equal(getString(h, RPMTAG.LICENSE), 'GPL-3.0-or-later');
    assert.deepEqual(getStringArray(h, RPMTAG.BASENAMES), ['bash', 'x.py', 'y.txt']);
    assert.deepEqual(getInt32Array(h, RPMTAG.DIRINDEXES), [0, 1, 1]);
    assert.equal(getString(h, RPMTAG.VENDOR), null);
  });

  it('tells epoch 0 apart from no epoch', () => {
    assert.equal(getInt32(parseHeader(buildHeader([...BASIC, { tag: RPMTAG.EPOCH, int32: [0] }])), RPMTAG.EPOCH), 0);
    assert.equal(getInt32(parseHeader(buildHeader(BASIC)), RPMTAG.EPOCH), null);
  });

  it('lets entries appended after the region (dribbles) replace region entries with the same tag', () => {
    const h = parseHeader(buildHeader(BASIC, { dribbles: [{ tag: RPMTAG.LICENSE, string: 'MIT' }, { tag: RPMTAG.VENDOR, string: 'Acme' }] }));
    assert.equal(getString(h, RPMTAG.LICENSE), 'MIT');
    assert.equal(getString(h, RPMTAG.VENDOR), 'Acme');
    assert.equal(getString(h, RPMTAG.NAME), 'bash');
  });

  it('reads legacy headers without a region', () => {
    const h = parseHeader(buildHeader(BASIC, { legacy: true }));
    assert.equal(getString(h, RPMTAG.RELEASE), '6.el9');
  });

  it('builds owned paths from DIRNAMES + BASENAMES, keeping only what the filter accepts', () => {
    const pkg = parseRpmPackage(buildHeader(BASIC), (p) => p.endsWith('.py'));
    assert.deepEqual(pkg?.files, ['/usr/lib/python3/x.py']);
    assert.deepEqual(parseRpmPackage(buildHeader(BASIC), null)?.files, []);
  });

  it('falls back to OLDFILENAMES in headers from before compressed file lists', () => {
    const old = buildHeader([...BASIC.slice(0, 5), { tag: RPMTAG.OLDFILENAMES, strings: ['/usr/lib/a.py', 'relative.py'] }]);
    assert.deepEqual(parseRpmPackage(old, (p) => p.endsWith('.py'))?.files, ['/usr/lib/a.py']);
  });

  it('keeps the package but reports a file list whose DIRINDEXES point past DIRNAMES', () => {
    const bad = buildHeader([...BASIC.slice(0, 5), { tag: RPMTAG.DIRINDEXES, int32: [7] }, { tag: RPMTAG.BASENAMES, strings: ['x.py'] }, { tag: RPMTAG.DIRNAMES, strings: ['/'] }]);
    const pkg = parseRpmPackage(bad, () => true);
    assert.equal(pkg?.name, 'bash');
    assert.deepEqual(pkg?.files, []);
    assert.match(pkg?.problems[0] ?? '', /DIRINDEXES\[0\] = 7 is past the 1 DIRNAMES/);
  });

  it('requires NAME, VERSION and RELEASE', () => {
    assert.throws(() => parseRpmPackage(buildHeader(BASIC.filter((v) => v.tag !== RPMTAG.RELEASE)), null), /no RELEASE/);
    assert.throws(() => parseRpmPackage(buildHeader(BASIC.filter((v) => v.tag !== RPMTAG.NAME)), null), /no NAME/);
  });

  describe('hostile input', () => {
    const good = buildHeader(BASIC);
    const withHead = (il: number, dl: number, rest: Buffer = good.subarray(8)): Buffer => {
      const b = Buffer.concat([Buffer.alloc(8), rest]);
      b.writeUInt32BE(il >>> 0, 0);
      b.writeUInt32BE(dl >>> 0, 4);
      return b;
    };
    /** The good blob with one index entry's field (0 tag, 4 type, 8 offset, 12 count) overwritten. */
    const patchEntry = (entry: number, field: number, value: number): Buffer => {
      const b = Buffer.from(good);
      b.writeUInt32BE(value >>> 0, 8 + entry * 16 + field);
      return b;
    };
    const entryOf = (tag: number): number => {
      const il = good.readUInt32BE(0);
      for (let i = 0; i < il; i++) if (good.readUInt32BE(8 + i * 16) === tag) return i;
      throw new Error(`no tag ${tag}`);
    };

    it('rejects a blob too short for its counts', () => assertRejects(() => parseHeader(Buffer.alloc(5)), /too short/));
    it('rejects a header claiming 2^31 entries', () => assertRejects(() => parseHeader(withHead(2 ** 31, 10)), /entry count 2147483648/));
    it('rejects a header claiming 65535 entries it does not have', () => assertRejects(() => parseHeader(withHead(0xffff, 10)), /the blob has/));
    it('rejects a data length over rpm’s limit', () => assertRejects(() => parseHeader(withHead(1, 0x7fffffff)), /over the/));
    it('rejects a truncated blob', () => assertRejects(() => parseHeader(good.subarray(0, good.length - 3)), /the blob has/));
    it('rejects an entry whose offset is past the data', () => assertRejects(() => parseHeader(patchEntry(entryOf(RPMTAG.NAME), 8, 0x7ffffff0)), /offset .* outside/));
    it('rejects a negative offset', () => assertRejects(() => parseHeader(patchEntry(entryOf(RPMTAG.NAME), 8, -5)), /offset -5/));
    it('rejects a string-array count pointing beyond the end', () =>
      assertRejects(() => parseHeader(patchEntry(entryOf(RPMTAG.BASENAMES), 12, 2 ** 30)), /count 1073741824 runs past/));
    it('rejects an INT32 count pointing beyond the end', () => assertRejects(() => parseHeader(patchEntry(entryOf(RPMTAG.DIRINDEXES), 12, 2 ** 31)), /runs past/));
    it('rejects an unknown type', () => assertRejects(() => parseHeader(patchEntry(entryOf(RPMTAG.NAME), 4, 42)), /unknown type 42/));
    it('rejects a region trailer claiming more entries than the index has', () => {
      const b = Buffer.from(good);
      const trailerAt = 8 + good.readUInt32BE(0) * 16 + good.readInt32BE(8 + 8);
      b.writeInt32BE(-100 * 16, trailerAt + 8);
      assertRejects(() => parseHeader(b), /region trailer claims 100 entries/);
    });
    it('rejects a region whose trailer offset is outside the data', () => assertRejects(() => parseHeader(patchEntry(0, 8, good.readUInt32BE(4) - 4)), /runs past the end|region trailer at/));
    it('rejects a string with no terminating NUL when it is read', () => {
      const h = parseHeader(buildHeader([{ tag: RPMTAG.NAME, raw: { type: T.STRING, count: 1, bytes: Buffer.from('abc') } }], { legacy: true }));
      assertRejects(() => getString(h, RPMTAG.NAME), /no terminating NUL/);
    });
    it('rejects a tag of the wrong type', () => assertRejects(() => getInt32(parseHeader(good), RPMTAG.NAME), /expected INT32/));
    it('throws RpmHeaderError, never a RangeError, across random corruption', () => {
      let seed = 42;
      const random = (n: number): number => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed % n;
      };
      for (let round = 0; round < 2000; round++) {
        const b = Buffer.from(good);
        for (let k = 0; k < 1 + random(4); k++) b[random(b.length)] = random(256);
        const cut = random(3) === 0 ? b.subarray(0, random(b.length)) : b;
        try {
          const h = parseHeader(cut);
          for (const tag of [RPMTAG.NAME, RPMTAG.VERSION, RPMTAG.RELEASE, RPMTAG.LICENSE]) getString(h, tag);
          getStringArray(h, RPMTAG.BASENAMES);
          getInt32Array(h, RPMTAG.DIRINDEXES);
        } catch (err: unknown) {
          assert.ok(err instanceof RpmHeaderError, `round ${round}: ${String(err)}`);
        }
      }
    });
  });
});

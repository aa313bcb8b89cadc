import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readBdbPackages } from './bdb.js';
import { readSqlitePackages } from './sqlite.js';

// Packages and Packages.be were made by testdata/make-fixtures.sh with db5.3_load from the rows of rpmdb.sqlite,
// and rpm 4.18's own bdb_ro backend lists the same packages from them. Packages: little-endian, 4096-byte
// pages, every header on overflow pages, plus rpm's key-0 counter record. Packages.be: big-endian, 8192-byte
// pages, so the smaller headers sit on the hash page itself (H_KEYDATA) and the bigger ones overflow.
const fixture = (name: string): Buffer => readFileSync(new URL(`./testdata/${name}`, import.meta.url));
const LE = fixture('Packages');
const BE = fixture('Packages.be');
const PAGE = 4096;

let tempDir: string;
let sqliteBlobs: Map<number | null, Buffer>;
before(async () => {
  tempDir = await mkdtemp(join(tmpdir(), 'tally-rpm-bdb-'));
  const rows = await readSqlitePackages({ kind: 'buffer', data: fixture('rpmdb.sqlite') }, tempDir);
  sqliteBlobs = new Map(rows.records.map((r) => [r.id, r.blob]));
});
after(() => rm(tempDir, { recursive: true, force: true }));

/** Reading must end in a result or a clear Error: quickly, and without allocating anything large. */
function readBounded(buf: Buffer): ReturnType<typeof readBdbPackages> | Error {
  const before = process.memoryUsage().arrayBuffers;
  const started = performance.now();
  let out: ReturnType<typeof readBdbPackages> | Error;
  try {
    out = readBdbPackages(buf);
  } catch (err: unknown) {
    assert.ok(err instanceof Error && err.message.startsWith('BerkeleyDB Packages: '), String(err));
    out = err;
  }
  assert.ok(performance.now() - started < 500, 'must finish fast');
  assert.ok(process.memoryUsage().arrayBuffers - before < buf.length + 16 * 1024 * 1024, 'must not allocate beyond the file');
  return out;
}

function patched(base: Buffer, edits: (b: Buffer) => void): Buffer {
  const b = Buffer.from(base);
  edits(b);
  return b;
}

/** Byte offset of the first page of `type` in the little-endian fixture. */
function firstPage(type: number): number {
  for (let p = PAGE; p < LE.length; p += PAGE) if (LE[p + 25] === type) return p;
  throw new Error(`fixture has no page of type ${type}`);
}

describe('BerkeleyDB hash reader', () => {
  for (const [name, buf] of [
    ['little-endian, overflow pages', LE],
    ['big-endian, on-page and overflow values', BE],
  ] as const) {
    it(`returns exactly the header blobs rpmdb.sqlite holds (${name})`, () => {
      const { records, problems } = readBdbPackages(buf);
      assert.deepEqual(problems, []);
      assert.deepEqual(records.map((r) => r.id).sort(), [...sqliteBlobs.keys()].sort());
      for (const r of records) assert.ok(r.blob.equals(sqliteBlobs.get(r.id)!), `blob of instance ${r.id}`);
    });
  }

  describe('hostile input', () => {
    it('rejects a file too short for a meta page', () => assert.match(String(readBounded(LE.subarray(0, 100))), /too short/));
    it('rejects a file without the hash magic', () => assert.match(String(readBounded(patched(LE, (b) => b.writeUInt32LE(0x053162, 12)))), /no hash magic/));
    it('rejects an impossible page size', () => {
      assert.match(String(readBounded(patched(LE, (b) => b.writeUInt32LE(1000, 20)))), /page size 1000/);
      assert.match(String(readBounded(patched(LE, (b) => b.writeUInt32LE(0, 20)))), /page size 0/);
      assert.match(String(readBounded(patched(LE, (b) => b.writeUInt32LE(2 ** 31, 20)))), /page size 2147483648/);
    });
    it('rejects encrypted and checksummed databases by name', () => {
      assert.match(String(readBounded(patched(LE, (b) => (b[24] = 1)))), /encrypted/);
      assert.match(String(readBounded(patched(LE, (b) => (b[26] = 1)))), /checksums/);
    });
    it('bounds a last-page number far past the end by the file size', () => {
      const out = readBounded(patched(LE, (b) => b.writeUInt32LE(0xffffffff, 32)));
      assert.ok(!(out instanceof Error) && out.records.length === 5);
    });
    it('reports what a truncated file loses and returns the rest', () => {
      const out = readBounded(LE.subarray(0, 3 * PAGE + 100));
      assert.ok(!(out instanceof Error));
      assert.ok(out.problems.length > 0 && out.problems.every((p) => /overflow chain points to page \d+ of 3/.test(p)), out.problems.join('\n'));
    });
    it('skips a page whose entry count does not fit it', () => {
      const page = firstPage(13);
      const out = readBounded(patched(LE, (b) => b.writeUInt16LE(0xffff, page + 20)));
      assert.ok(!(out instanceof Error) && out.problems.some((p) => /65535 entries do not fit/.test(p)));
    });
    it('skips a page whose item offsets point outside it or overlap', () => {
      const page = firstPage(13);
      const out = readBounded(patched(LE, (b) => b.writeUInt16LE(PAGE + 10, page + 26)));
      assert.ok(!(out instanceof Error) && out.problems.some((p) => /item 0 at offset 4106 is outside/.test(p)));
    });
    it('reports an off-page length of 2^31 without allocating it', () => {
      const out = readBounded(patched(LE, (b) => forEachOffPage(b, (at) => b.writeUInt32LE(2 ** 31, at + 8))));
      assert.ok(!(out instanceof Error) && out.records.length === 0 && out.problems.every((p) => /overflow length 2147483648 is impossible/.test(p)));
    });
    it('reports off-page references to missing or non-overflow pages', () => {
      const out = readBounded(patched(LE, (b) => forEachOffPage(b, (at, i) => b.writeUInt32LE([0, 1, 999][i % 3]!, at + 4))));
      assert.ok(!(out instanceof Error) && out.records.length === 0);
      assert.ok(out.problems.some((p) => /points to page 0/.test(p)) && out.problems.some((p) => /page 1 in an overflow chain has type 13/.test(p)));
    });
    it('stops an overflow chain that loops back on itself', () => {
      const page = firstPage(7);
      const out = readBounded(
        patched(LE, (b) => {
          b.writeUInt16LE(100, page + 22); // carry only 100 bytes, so the chain must continue …
          b.writeUInt32LE(page / PAGE, page + 16); // … onto the same page again
        }),
      );
      assert.ok(!(out instanceof Error) && out.problems.some((p) => /used twice/.test(p)));
      assert.equal(out.records.length, 4);
    });
    it('never reads one overflow chain for two items', () => {
      const out = readBounded(patched(LE, (b) => forEachOffPage(b, (at) => b.writeUInt32LE(firstPage(7) / PAGE, at + 4))));
      assert.ok(!(out instanceof Error) && out.records.length <= 1);
    });
    it('ends in records or a clear Error across random corruption', () => {
      let seed = 7;
      const random = (n: number): number => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed % n;
      };
      for (let round = 0; round < 300; round++) {
        const b = Buffer.from(random(2) === 0 ? LE : BE);
        for (let k = 0; k < 1 + random(8); k++) b[random(b.length)] = random(256);
        readBounded(random(4) === 0 ? b.subarray(0, random(b.length)) : b);
      }
    });
  });
});

/** Calls `fn` with the byte offset of every H_OFFPAGE item on the little-endian fixture's hash pages. */
function forEachOffPage(b: Buffer, fn: (at: number, i: number) => void): void {
  let i = 0;
  for (let page = PAGE; page < b.length; page += PAGE) {
    if (b[page + 25] !== 13) continue;
    const entries = b.readUInt16LE(page + 20);
    for (let e = 1; e < entries; e += 2) {
      const at = page + b.readUInt16LE(page + 26 + e * 2);
      if (b[at] === 3) fn(at, i++);
    }
  }
}

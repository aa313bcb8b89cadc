import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rpmExtractor } from './index.js';
import { readNdbPackages } from './ndb.js';
import type { DbRecord } from './records.js';
import { readSqlitePackages } from './sqlite.js';

// Debian's rpm has no NDB backend, so no real Packages.db can be made here. These fixtures are written by
// writeNdb() below, following the layout in rpm's lib/backend/ndb/rpmpkg.c (rpmpkgWriteHeader,
// rpmpkgWriteslot, rpmpkgWriteBlob), with the header blobs of the committed rpmdb.sqlite.

const MAGIC = { db: 'RpmP', slot: 'Slot', head: 'BlbS', tail: 'BlbE' };

function adler32(buf: Buffer): number {
  let a = 1;
  let b = 0;
  for (const byte of buf) {
    a = (a + byte) % 65521;
    b = (b + a) % 65521;
  }
  return ((b << 16) | a) >>> 0;
}

/** A Packages.db holding `blobs` (package index = position + 1), one slot page unless asked for more. */
function writeNdb(blobs: readonly Buffer[], slotPages = 1): Buffer {
  const slotArea = Buffer.alloc(slotPages * 4096);
  slotArea.write(MAGIC.db, 0, 'latin1');
  slotArea.writeUInt32LE(0, 4); // version
  slotArea.writeUInt32LE(1, 8); // generation
  slotArea.writeUInt32LE(slotPages, 12);
  slotArea.writeUInt32LE(blobs.length + 1, 16); // next package index
  for (let at = 32; at < slotArea.length; at += 16) slotArea.write(MAGIC.slot, at, 'latin1');
  const parts: Buffer[] = [slotArea];
  let block = slotArea.length / 16;
  blobs.forEach((blob, i) => {
    const blocks = Math.ceil((16 + blob.length + 12) / 16);
    const out = Buffer.alloc(blocks * 16);
    out.write(MAGIC.head, 0, 'latin1');
    out.writeUInt32LE(i + 1, 4);
    out.writeUInt32LE(1_700_000_000, 8);
    out.writeUInt32LE(blob.length, 12);
    blob.copy(out, 16);
    out.writeUInt32LE(adler32(out.subarray(0, out.length - 12)), out.length - 12);
    out.writeUInt32LE(blob.length, out.length - 8);
    out.write(MAGIC.tail, out.length - 4, 'latin1');
    const slot = 32 + i * 16;
    slotArea.writeUInt32LE(i + 1, slot + 4);
    slotArea.writeUInt32LE(block, slot + 8);
    slotArea.writeUInt32LE(blocks, slot + 12);
    parts.push(out);
    block += blocks;
  });
  return Buffer.concat(parts);
}

let tempDir: string;
let records: DbRecord[];
let ndb: Buffer;
before(async () => {
  tempDir = await mkdtemp(join(tmpdir(), 'tally-rpm-ndb-'));
  const data = readFileSync(new URL('./testdata/rpmdb.sqlite', import.meta.url));
  records = (await readSqlitePackages({ kind: 'buffer', data }, tempDir)).records.sort((a, b) => (a.id ?? 0) - (b.id ?? 0));
  ndb = writeNdb(records.map((r) => r.blob));
});
after(() => rm(tempDir, { recursive: true, force: true }));

function readBounded(buf: Buffer): ReturnType<typeof readNdbPackages> | Error {
  const before = process.memoryUsage().arrayBuffers;
  const started = performance.now();
  let out: ReturnType<typeof readNdbPackages> | Error;
  try {
    out = readNdbPackages(buf);
  } catch (err: unknown) {
    assert.ok(err instanceof Error && err.message.startsWith('NDB Packages.db: '), String(err));
    out = err;
  }
  assert.ok(performance.now() - started < 500, 'must finish fast');
  assert.ok(process.memoryUsage().arrayBuffers - before < 16 * 1024 * 1024, 'must not allocate anything large');
  return out;
}

const patched = (edit: (b: Buffer) => void): Buffer => {
  const b = Buffer.from(ndb);
  edit(b);
  return b;
};
/** Slot fields: 4 package index, 8 block offset, 12 block count. */
const slotAt = (i: number, field: number): number => 32 + i * 16 + field;

describe('NDB Packages.db reader', () => {
  it('returns every blob with its package index', () => {
    const { records: got, problems } = readNdbPackages(ndb);
    assert.deepEqual(problems, []);
    assert.deepEqual(
      got.map((r) => r.id),
      records.map((_, i) => i + 1),
    );
    got.forEach((r, i) => assert.ok(r.blob.equals(records[i]!.blob)));
  });

  it('skips free slots and reads slots beyond the first page', () => {
    const two = writeNdb(
      records.map((r) => r.blob),
      2,
    );
    two.writeUInt32LE(0, slotAt(0, 8)); // free the first slot
    assert.equal(readNdbPackages(two).records.length, records.length - 1);
  });

  it('is read by the extractor as /usr/lib/sysimage/rpm/Packages.db', async () => {
    const issues: string[] = [];
    const out = await rpmExtractor.extract(
      { path: '/usr/lib/sysimage/rpm/Packages.db', size: ndb.length, mode: 0o100644, content: { kind: 'buffer', data: ndb } },
      { tempDir, signal: new AbortController().signal, isLanguageArtifact: null, issue: (m) => issues.push(m) },
    );
    assert.deepEqual(issues, []);
    assert.deepEqual(out.packages.map((p) => p.name).sort(), ['tally-demo', 'tally-plain', 'tally-plain-libs', 'tally-zero']);
  });

  it('turns hostile header blobs into issues and keeps the good packages', async () => {
    const claims2e31 = Buffer.alloc(8);
    claims2e31.writeUInt32BE(2 ** 31, 0);
    const truncated = records[0]!.blob.subarray(0, 100);
    const db = writeNdb([claims2e31, records[1]!.blob, truncated]);
    const issues: string[] = [];
    const out = await rpmExtractor.extract(
      { path: '/var/lib/rpm/Packages.db', size: db.length, mode: 0o100644, content: { kind: 'buffer', data: db } },
      { tempDir, signal: new AbortController().signal, isLanguageArtifact: null, issue: (m) => issues.push(m) },
    );
    assert.equal(out.packages.length, 1);
    assert.equal(issues.length, 2);
    assert.match(issues[0]!, /^package record 1 skipped: rpm header: entry count 2147483648/);
    assert.match(issues[1]!, /^package record 3 skipped: rpm header: .* the blob has 100/);
  });

  describe('hostile input', () => {
    it('rejects a file without the RpmP magic', () => assert.match(String(readBounded(patched((b) => b.write('XXXX', 0)))), /no "RpmP" magic/));
    it('rejects an unknown version', () => assert.match(String(readBounded(patched((b) => b.writeUInt32LE(3, 4)))), /version 3/));
    it('rejects a truncated header', () => assert.match(String(readBounded(ndb.subarray(0, 20))), /too short/));
    it('rejects a slot page count past the end of the file', () => {
      assert.match(String(readBounded(patched((b) => b.writeUInt32LE(0xffffffff, 12)))), /4294967295 slot pages do not fit/);
      assert.match(String(readBounded(patched((b) => b.writeUInt32LE(0, 12)))), /0 slot pages/);
    });
    it('rejects a slot without its magic', () => assert.match(String(readBounded(patched((b) => b.write('Slob', slotAt(2, 0))))), /no "Slot" magic/));
    it('reports a slot pointing past the end, or into the slot pages', () => {
      const out = readBounded(
        patched((b) => {
          b.writeUInt32LE(0x7fffffff, slotAt(0, 8));
          b.writeUInt32LE(3, slotAt(1, 8));
          b.writeUInt32LE(2 ** 31, slotAt(2, 12));
        }),
      );
      assert.ok(!(out instanceof Error));
      assert.equal(out.records.length, records.length - 3);
      assert.equal(out.problems.filter((p) => /are outside/.test(p)).length, 3);
    });
    it('reports a blob whose length disagrees with its blocks, or whose tail is missing', () => {
      const out = readBounded(
        patched((b) => {
          const first = b.readUInt32LE(slotAt(0, 8)) * 16;
          b.writeUInt32LE(0x7fffffff, first + 12);
          const second = b.readUInt32LE(slotAt(1, 8)) * 16 + b.readUInt32LE(slotAt(1, 12)) * 16;
          b.write('XXXX', second - 4);
        }),
      );
      assert.ok(!(out instanceof Error));
      assert.ok(out.problems.some((p) => /^package 1: blob length 2147483647 does not match/.test(p)));
      assert.ok(out.problems.some((p) => /^package 2: blob tail/.test(p)));
    });
    it('reports a blob whose header names another package', () => {
      const out = readBounded(patched((b) => b.writeUInt32LE(99, b.readUInt32LE(slotAt(0, 8)) * 16 + 4)));
      assert.ok(!(out instanceof Error) && out.problems.some((p) => /^package 1: blob names package 99/.test(p)));
    });
    it('refuses overlapping blobs, so no byte is read twice', () => {
      const out = readBounded(patched((b) => b.copy(b, slotAt(1, 8), slotAt(0, 8), slotAt(0, 16))));
      assert.ok(!(out instanceof Error) && out.problems.some((p) => /overlaps/.test(p)));
    });
    it('reports the blobs a truncated file cuts off', () => {
      const out = readBounded(ndb.subarray(0, ndb.length - 50));
      assert.ok(!(out instanceof Error));
      assert.equal(out.records.length, records.length - 1);
    });
    it('ends in records or a clear Error across random corruption', () => {
      let seed = 11;
      const random = (n: number): number => {
        seed = (seed * 1103515245 + 12345) & 0x7fffffff;
        return seed % n;
      };
      for (let round = 0; round < 300; round++) {
        const b = Buffer.from(ndb);
        // Aim half of the damage at the header and slots, where it matters most.
        for (let k = 0; k < 1 + random(8); k++) b[random(2) === 0 ? random(32 + 16 * records.length) : random(b.length)] = random(256);
        readBounded(random(4) === 0 ? b.subarray(0, random(b.length)) : b);
      }
    });
  });
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { zipSync } from 'fflate';
import { readEggPkgInfo } from './egg.js';
import { decodeMetadata, parseDistMetadata } from './parse.js';

const CAP = 1024 * 1024;
const EGG = readFileSync(new URL('./testdata/toml-0.10.2-py3.11.egg', import.meta.url));

function zip(files: Record<string, string | Uint8Array>): Buffer {
  const entries: Record<string, Uint8Array> = {};
  for (const [k, v] of Object.entries(files)) entries[k] = typeof v === 'string' ? Buffer.from(v) : v;
  return Buffer.from(zipSync(entries, { level: 6 }));
}

/** Rewrite the uncompressed size a one-member zip declares (local header and central directory). */
function declareSize(zipBytes: Buffer, size: number): Buffer {
  const out = Buffer.from(zipBytes);
  const local = out.indexOf(Buffer.from([0x50, 0x4b, 0x03, 0x04]));
  const central = out.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
  out.writeUInt32LE(size, local + 22);
  out.writeUInt32LE(size, central + 24);
  return out;
}

describe('readEggPkgInfo', () => {
  it('reads EGG-INFO/PKG-INFO of a real egg, from memory and from a file', async () => {
    const head = await readEggPkgInfo({ buffer: EGG }, CAP);
    assert.ok(head);
    const { record } = parseDistMetadata(decodeMetadata(head.bytes), null);
    assert.deepEqual(record, { name: 'toml', originalName: null, version: '0.10.2', licenses: ['MIT'] });

    const dir = await mkdtemp(join(tmpdir(), 'tally-egg-'));
    try {
      await writeFile(join(dir, 'x.egg'), EGG);
      const fromFile = await readEggPkgInfo({ path: join(dir, 'x.egg') }, CAP);
      assert.deepEqual(fromFile, head);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('gives null for a zip without EGG-INFO/PKG-INFO', async () => {
    assert.equal(await readEggPkgInfo({ buffer: zip({ 'toml/__init__.py': '', 'PKG-INFO': 'Name: x\n' }) }, CAP), null);
  });

  it('throws on something that is not a zip, or a truncated one', async () => {
    await assert.rejects(readEggPkgInfo({ buffer: Buffer.from('PK\x03\x04 not really a zip') }, CAP), /not a readable zip/);
    await assert.rejects(readEggPkgInfo({ buffer: EGG.subarray(0, EGG.length - 30) }, CAP), /not a readable zip/);
  });

  it('stops looking after too many entries', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 50; i++) files[`f${i}.py`] = '';
    files['EGG-INFO/PKG-INFO'] = 'Name: x\nVersion: 1\n';
    await assert.rejects(readEggPkgInfo({ buffer: zip(files) }, CAP, 10), /no EGG-INFO\/PKG-INFO among the first 10 entries/);
  });

  it('inflates no more than the cap of a zip bomb', async () => {
    const big = Buffer.alloc(8 * 1024 * 1024, 0x61);
    const bomb = zip({ 'EGG-INFO/PKG-INFO': Buffer.concat([Buffer.from('Metadata-Version: 2.1\nName: bomb\nVersion: 1\nX-Pad: '), big]) });
    assert.ok(bomb.length < 200 * 1024);
    const started = process.hrtime.bigint();
    const head = await readEggPkgInfo({ buffer: bomb }, CAP);
    assert.ok(Number(process.hrtime.bigint() - started) / 1e6 < 2000);
    assert.ok(head);
    assert.equal(head.capped, true);
    assert.equal(parseDistMetadata(decodeMetadata(head.bytes), null).record.name, 'bomb');
  });

  it('trusts neither a small nor a huge declared size', async () => {
    const text = `Metadata-Version: 2.1\nName: liar\nVersion: 1\n${'X-Pad: aaaa\n'.repeat(200_000)}`;
    const honest = zip({ 'EGG-INFO/PKG-INFO': text });
    // declared 64 bytes, inflates to 2.4 MB: yauzl refuses the first chunk that goes past the declared size
    await assert.rejects(readEggPkgInfo({ buffer: declareSize(honest, 64) }, CAP), /too many bytes/);
    // declared 4 GB, inflates to 2.4 MB: the buffer is the cap, never the declared size; yauzl notices the lie
    const huge = await readEggPkgInfo({ buffer: declareSize(honest, 0xfffffff0) }, CAP);
    assert.ok(huge !== null && huge.capped && huge.bytes.length <= CAP);
  });
});

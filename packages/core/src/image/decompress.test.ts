import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { gzipSync } from 'node:zlib';
import { createDecompressor, sniffCompression } from './decompress.js';

async function inflate(kind: 'gzip' | 'zstd', data: Buffer): Promise<Buffer> {
  const out: Buffer[] = [];
  const d = createDecompressor(kind);
  assert.ok(d !== null);
  await pipeline(Readable.from([data.subarray(0, 7), data.subarray(7)]), d, async (source: AsyncIterable<Buffer>) => {
    for await (const c of source) out.push(c);
  });
  return Buffer.concat(out);
}

/** Compressible but not trivial: repeated random blocks. */
const plain = Buffer.concat(Array.from({ length: 64 }, (_, i) => (i % 4 === 0 ? randomBytes(4096) : Buffer.alloc(4096, i))));
const zstd = execFileSync('zstd', ['-q', '-c', '-19'], { input: plain });

for (const decoder of ['program', 'js'] as const) {
  describe(`zstd (${decoder === 'program' ? 'the zstd program' : 'fzstd'})`, () => {
    const withDecoder = async <T>(run: () => Promise<T>): Promise<T> => {
      const before = process.env['TALLY_ZSTD'];
      if (decoder === 'js') process.env['TALLY_ZSTD'] = 'js';
      try {
        return await run();
      } finally {
        if (before === undefined) delete process.env['TALLY_ZSTD'];
        else process.env['TALLY_ZSTD'] = before;
      }
    };

    it('round-trips what zstd wrote', async () => {
      assert.equal(sniffCompression(zstd), 'zstd');
      assert.ok((await withDecoder(() => inflate('zstd', zstd))).equals(plain));
    });

    it('fails on a truncated stream', async () => {
      await assert.rejects(withDecoder(() => inflate('zstd', zstd.subarray(0, zstd.length - 20))));
    });

    // fzstd does not check the frame's content checksum; a layer corrupted that way still fails, on its diffId.
    if (decoder === 'program') {
      it('fails on a corrupted stream (content checksum)', async () => {
        const bad = Buffer.from(zstd);
        bad.fill(0x55, 12, 40);
        await assert.rejects(withDecoder(() => inflate('zstd', bad)), /zstd: /);
      });
    }
  });
}

describe('gzip', () => {
  it('round-trips, including concatenated members', async () => {
    const two = Buffer.concat([gzipSync(plain.subarray(0, 1000)), gzipSync(plain.subarray(1000))]);
    assert.equal(sniffCompression(two), 'gzip');
    assert.ok((await inflate('gzip', two)).equals(plain));
  });
});

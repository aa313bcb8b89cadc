/**
 * Receiving an upload: a small one is kept as sent and inflated where it is inspected (inflateInMemory), a large one
 * is spooled on arrival, and both paths give the same body hash and enforce the same caps.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { deflateSync, gzipSync } from 'node:zlib';
import { scratchDir } from '../testing/backend.js';
import { inflateInMemory, receiveBody, SpoolError, type SpoolLimits } from './spool.js';

const LIMITS: SpoolLimits = { maxCompressedBytes: 1 << 20, maxInflatedBytes: 4 << 20, memoryBytes: 64 << 10 };
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
/** A body delivered in small chunks, as a socket delivers it. */
const chunked = (b: Buffer, size = 4096): Readable => Readable.from(Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.subarray(i * size, (i + 1) * size)));

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of source) parts.push(c);
  return Buffer.concat(parts);
}

describe('receiving an upload body', () => {
  const json = Buffer.from(JSON.stringify({ packages: Array.from({ length: 500 }, (_, i) => ({ name: `p${i}`, version: '1.0.0' })) }));

  it('keeps a small gzip body as sent; inflated in memory it hashes as the spooled body does', async () => {
    const received = await receiveBody(chunked(gzipSync(json)), 'gzip', scratchDir(), LIMITS);
    assert.ok(received.wire !== null);
    assert.equal(received.wire.encoding, 'gzip');
    assert.equal(received.wireBytes, gzipSync(json).length);
    const inflated = inflateInMemory(received.wire);
    assert.ok(inflated !== null);
    assert.deepEqual(inflated.body, json);
    assert.equal(inflated.sha256, sha(json));
    const spool = await received.spool();
    assert.equal(spool.sha256, sha(json));
    assert.deepEqual(await collect(spool.chunks()), json);
    received.dispose();
  });

  it('reads deflate and identity bodies the same way', async () => {
    for (const [encoding, bytes] of [
      ['deflate', deflateSync(json)],
      ['identity', json],
      [undefined, json],
    ] as const) {
      const received = await receiveBody(chunked(bytes), encoding, scratchDir(), LIMITS);
      assert.ok(received.wire !== null, String(encoding));
      assert.equal(inflateInMemory(received.wire)?.sha256, sha(json), String(encoding));
    }
  });

  it('spools a body larger than the memory size on arrival, into a temp file removed on dispose', async () => {
    const big = randomBytes(200 << 10); // incompressible: 200 KiB on the wire, past the 64 KiB kept in memory
    const tmp = join(scratchDir(), 'spooled-on-arrival');
    const received = await receiveBody(chunked(gzipSync(big)), 'gzip', tmp, LIMITS);
    assert.equal(received.wire, null);
    const spool = await received.spool();
    assert.equal(spool.inMemory, false);
    assert.equal(spool.sha256, sha(big));
    assert.deepEqual(await collect(spool.chunks()), big);
    assert.equal(readdirSync(tmp).length, 1);
    received.dispose();
    assert.equal(readdirSync(tmp).length, 0);
  });

  it('a small body that inflates past the memory size is spooled from its wire bytes; past the inflated cap it is a 413', async () => {
    const zeros = Buffer.alloc(1 << 20); // 1 MiB of zeros: ~1 KiB on the wire
    const tmp = join(scratchDir(), 'spooled-from-wire');
    const received = await receiveBody(chunked(gzipSync(zeros)), 'gzip', tmp, LIMITS);
    assert.ok(received.wire !== null);
    assert.equal(inflateInMemory(received.wire), null);
    const spool = await received.spool();
    assert.equal(spool.inMemory, false);
    assert.equal(spool.sha256, sha(zeros));
    received.dispose();
    assert.deepEqual(existsSync(tmp) ? readdirSync(tmp) : [], []);

    const bomb = gzipSync(Buffer.alloc(8 << 20)); // 8 MiB inflated against a 4 MiB cap
    const tight = await receiveBody(chunked(bomb), 'gzip', scratchDir(), { ...LIMITS, memoryBytes: 16 << 20 });
    assert.ok(tight.wire !== null);
    assert.throws(() => inflateInMemory(tight.wire as NonNullable<typeof tight.wire>), (e: unknown) => e instanceof SpoolError && e.statusCode === 413 && /larger than 4194304 bytes once inflated/.test(e.message));
    const spilled = await receiveBody(chunked(bomb), 'gzip', scratchDir(), LIMITS);
    await assert.rejects(spilled.spool(), (e: unknown) => e instanceof SpoolError && e.statusCode === 413);
  });

  it('refuses bytes that are not valid for their encoding, an unknown encoding, and a body past the wire cap', async () => {
    for (const bytes of [Buffer.from('not gzip'), gzipSync(json).subarray(0, 100)]) {
      const received = await receiveBody(chunked(bytes), 'gzip', scratchDir(), LIMITS);
      assert.ok(received.wire !== null);
      assert.throws(() => inflateInMemory(received.wire as NonNullable<typeof received.wire>), (e: unknown) => e instanceof SpoolError && e.statusCode === 400 && e.code === 'BAD_BODY');
    }
    await assert.rejects(receiveBody(chunked(json), 'br', scratchDir(), LIMITS), (e: unknown) => e instanceof SpoolError && e.statusCode === 415);
    await assert.rejects(
      receiveBody(chunked(randomBytes(2 << 20)), undefined, scratchDir(), { ...LIMITS, memoryBytes: 8 << 20 }),
      (e: unknown) => e instanceof SpoolError && e.statusCode === 413 && /larger than 1048576 bytes/.test(e.message),
    );
  });

  it('a client that goes away mid-body is a 400, not a crash', async () => {
    const source = new Readable({ read() {} });
    source.push(Buffer.from('{"schemaVersion":'));
    setImmediate(() => source.destroy(new Error('aborted')));
    await assert.rejects(receiveBody(source, undefined, scratchDir(), LIMITS), (e: unknown) => e instanceof SpoolError && e.statusCode === 400 && /closed the connection/.test(e.message));
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Peekable, gunzip, isGzip, isZip, lines, readAll } from './bytes.js';

async function* chunks(text: string | Buffer, size: number): AsyncGenerator<Buffer> {
  const b = typeof text === 'string' ? Buffer.from(text) : text;
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('byte streams', () => {
  it('peeks without consuming', async () => {
    const p = new Peekable(chunks('hello world', 3));
    assert.equal((await p.peek(4)).toString().slice(0, 4), 'hell');
    assert.equal((await readAll(p, 100)).toString(), 'hello world');
  });
  it('recognises gzip and zip magic', () => {
    assert.equal(isGzip(gzipSync('x')), true);
    assert.equal(isZip(Buffer.from('PK\x03\x04rest')), true);
    assert.equal(isZip(Buffer.from('PK\x05\x06')), true);
    assert.equal(isZip(Buffer.from('{"a":1}')), false);
  });
  it('splits lines across chunks, strips CR, keeps the last line without newline', async () => {
    const got = await collect(lines(chunks('a\r\nbb\n\nccc', 2), 100));
    assert.deepEqual(got.map((l) => l.text), ['a', 'bb', '', 'ccc']);
  });
  it('drops an over-long line while streaming past it, and continues', async () => {
    const huge = 'x'.repeat(10_000);
    const got = await collect(lines(chunks(`ok\n${huge}\nafter\n`, 1000), 100));
    assert.deepEqual(got.map((l) => l.text), ['ok', null, 'after']);
    assert.equal(got[1]?.bytes, 10_000);
  });
  it('gunzips with a cap (a gzip bomb is an error, not a full disk)', async () => {
    const bomb = gzipSync(Buffer.alloc(5_000_000));
    await assert.rejects(readAll(gunzip(chunks(bomb, 1000), 1_000_000), 10_000_000), /beyond 1000000 bytes/);
    const ok = await readAll(gunzip(chunks(gzipSync('abc'), 2), 10), 10);
    assert.equal(ok.toString(), 'abc');
  });
  it('fails on a truncated gzip stream', async () => {
    const gz = gzipSync(Buffer.from('x'.repeat(100_000) + 'y'.repeat(100_000)));
    await assert.rejects(readAll(gunzip(chunks(gz.subarray(0, gz.length - 20), 100), 1e9), 1e9), /unexpected end of file/);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Peekable, gunzip, isGzip, isZip, lines, readAll } from './bytes.js';
import { jsonEntries, JsonStreamError } from './json-stream.js';

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

describe('top-level JSON entry streaming', () => {
  it('streams object members and array elements across tiny chunks', async () => {
    const doc = '\uFEFF { "a" : {"x": "}\\"{"} , "b":[1,2,{"c":[]}], "c": "str,with,commas", "d": 12.5e3 , "e":null } ';
    for (const size of [1, 3, 7, 1000]) {
      const got = await collect(jsonEntries(chunks(doc, size), 1000));
      assert.deepEqual(got.map((e) => [e.key, JSON.parse(e.raw?.toString() ?? 'undefined')]), [
        ['a', { x: '}"{' }],
        ['b', [1, 2, { c: [] }]],
        ['c', 'str,with,commas'],
        ['d', 12500],
        ['e', null],
      ]);
    }
    const arr = await collect(jsonEntries(chunks('[ {"id":1}, {"id":2} ]', 2), 1000));
    assert.deepEqual(arr.map((e) => [e.key, e.index, JSON.parse(e.raw?.toString() ?? '')]), [[null, 0, { id: 1 }], [null, 1, { id: 2 }]]);
    assert.deepEqual(await collect(jsonEntries(chunks('{}', 1), 10)), []);
    assert.deepEqual(await collect(jsonEntries(chunks('[]', 1), 10)), []);
  });
  it('keeps __proto__ as an ordinary member name', async () => {
    const got = await collect(jsonEntries(chunks('{"__proto__": {"polluted": true}, "constructor": 1}', 4), 100));
    assert.deepEqual(got.map((e) => e.key), ['__proto__', 'constructor']);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });
  it('skips an oversized value (raw null) and goes on', async () => {
    const doc = `{"big": "${'x'.repeat(5000)}", "small": 1}`;
    const got = await collect(jsonEntries(chunks(doc, 100), 1000));
    assert.equal(got[0]?.raw, null);
    assert.equal(got[0]?.bytes, 5002);
    assert.equal(got[1]?.raw?.toString(), '1');
  });
  it('throws on a truncated or malformed document', async () => {
    await assert.rejects(collect(jsonEntries(chunks('{"a": {"b": 1}, "c": [1, 2', 5), 100)), JsonStreamError);
    await assert.rejects(collect(jsonEntries(chunks('{"a": 1} trailing', 5), 100)), /after the end/);
    await assert.rejects(collect(jsonEntries(chunks('"just a string"', 5), 100)), /expected/);
    await assert.rejects(collect(jsonEntries(chunks('{"a": 1]', 5), 100)), /mismatched/);
  });
});

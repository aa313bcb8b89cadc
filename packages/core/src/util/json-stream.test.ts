import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { forEachJsonPiece, JsonScanError, type JsonPiece, type JsonScanOptions } from './json-stream.js';

async function* chunks(text: string | Buffer, size: number): AsyncGenerator<Buffer> {
  const b = typeof text === 'string' ? Buffer.from(text) : text;
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}

async function pieces(doc: string, size: number, options: JsonScanOptions): Promise<JsonPiece<Buffer | null>[]> {
  const out: JsonPiece<Buffer | null>[] = [];
  await forEachJsonPiece(chunks(doc, size), options, (p) => {
    // raw may share the chunk's memory: copy what outlives the callback.
    out.push(p.kind === 'end-array' || p.raw === null ? p : { ...p, raw: Buffer.from(p.raw) });
  });
  return out;
}

/** Pieces as [kind, key, index or count, parsed value] for comparison. */
async function shapes(doc: string, size: number, options: JsonScanOptions): Promise<unknown[]> {
  return (await pieces(doc, size, options)).map((p) =>
    p.kind === 'end-array' ? ['end', p.key, p.count] : p.kind === 'member' ? ['member', p.key, JSON.parse(p.raw?.toString() ?? 'null')] : ['element', p.key, p.index, JSON.parse(p.raw?.toString() ?? 'null')],
  );
}

const feed = (root: 'object' | 'array', max = 1000): JsonScanOptions => ({ document: 'the feed', root, maxMemberBytes: max, maxElementBytes: max, oversized: 'skip' });
const report: JsonScanOptions = {
  document: 'the report',
  root: 'object',
  streamed: new Set(['packages', 'issues']),
  uniqueKeys: true,
  maxMemberBytes: 200,
  maxElementBytes: 100,
  oversized: 'throw',
};

describe('streaming JSON pieces: a feed (top-level entries, oversized skipped)', () => {
  it('streams object members and array elements across tiny chunks', async () => {
    const doc = '\uFEFF { "a" : {"x": "}\\"{"} , "b":[1,2,{"c":[]}], "c": "str,with,commas", "d": 12.5e3 , "e":null } ';
    for (const size of [1, 3, 7, 1000]) {
      assert.deepEqual(await shapes(doc, size, feed('object')), [
        ['member', 'a', { x: '}"{' }],
        ['member', 'b', [1, 2, { c: [] }]],
        ['member', 'c', 'str,with,commas'],
        ['member', 'd', 12500],
        ['member', 'e', null],
      ]);
    }
    assert.deepEqual(await shapes('[ {"id":1}, {"id":2} ]', 2, feed('array')), [
      ['element', null, 0, { id: 1 }],
      ['element', null, 1, { id: 2 }],
      ['end', null, 2],
    ]);
    assert.deepEqual(await shapes('{}', 1, feed('object')), []);
    assert.deepEqual(await shapes('[]', 1, feed('array')), [['end', null, 0]]);
  });
  it('keeps __proto__ as an ordinary member name', async () => {
    const got = await pieces('{"__proto__": {"polluted": true}, "constructor": 1}', 4, feed('object', 100));
    assert.deepEqual(got.map((p) => p.key), ['__proto__', 'constructor']);
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });
  it('skips an oversized value (raw null, bytes counted) and goes on', async () => {
    const got = await pieces(`{"big": "${'x'.repeat(5000)}", "small": 1, "obj": {"k": "${'y'.repeat(2000)}"}, "last": [2]}`, 100, feed('object'));
    assert.deepEqual(
      got.map((p) => (p.kind === 'member' ? [p.key, p.raw?.toString() ?? null, p.bytes] : p.kind)),
      [['big', null, 5002], ['small', '1', 1], ['obj', null, 2009], ['last', '[2]', 3]],
    );
    const arr = await pieces(`[1, "${'z'.repeat(50)}", 3]`, 8, feed('array', 10));
    assert.deepEqual(arr.map((p) => (p.kind === 'element' ? p.raw?.toString() ?? null : p.kind)), ['1', null, '3', 'end-array']);
  });
  it('throws on a truncated or malformed document', async () => {
    await assert.rejects(pieces('{"a": {"b": 1}, "c": [1, 2', 5, feed('object', 100)), (e: unknown) => e instanceof JsonScanError && /the feed is truncated at byte 26/.test(e.message));
    await assert.rejects(pieces('{"a": 1} trailing', 5, feed('object', 100)), /unexpected data after the end of the feed at byte 9/);
    await assert.rejects(pieces('"just a string"', 5, feed('object', 100)), /the feed must be a JSON object at byte 0/);
    await assert.rejects(pieces('{"a": 1}', 5, feed('array', 100)), /must be a JSON array/);
    await assert.rejects(pieces('{"a": 1]', 5, feed('object', 100)), /mismatched closing bracket at byte 7/);
    await assert.rejects(pieces('[1, 2}', 5, feed('array', 100)), /mismatched closing bracket at byte 5/);
    await assert.rejects(pieces('{"a": , "b": 1}', 3, feed('object', 100)), /expected a value at byte 6/);
    await assert.rejects(pieces('{"a" 1}', 3, feed('object', 100)), /expected ':' at byte 5/);
    await assert.rejects(pieces('{"a": 1, 2}', 3, feed('object', 100)), /expected a member name at byte 9/);
    await assert.rejects(pieces('{"a\\x": 1}', 3, feed('object', 100)), /malformed member name/);
    await assert.rejects(pieces('\uFEFF\uFEFF{}', 1, feed('object')), /must be a JSON object at byte 3/);
  });
});

describe('streaming JSON pieces: a report (chosen arrays element by element, caps throw)', () => {
  const doc = JSON.stringify({
    schemaVersion: 1,
    image: { ref: 'a "quoted" \\ ref', layers: [{ i: 0 }] },
    packages: [{ name: 'p,1', v: '1]' }, { name: 'p\\"2' }, 3, 'four', null],
    issues: [],
    vulnerabilities: [{ id: 'CVE-1' }],
    summary: 'packages',
  });
  const expected = [
    ['member', 'schemaVersion', 1],
    ['member', 'image', { ref: 'a "quoted" \\ ref', layers: [{ i: 0 }] }],
    ['element', 'packages', 0, { name: 'p,1', v: '1]' }],
    ['element', 'packages', 1, { name: 'p\\"2' }],
    ['element', 'packages', 2, 3],
    ['element', 'packages', 3, 'four'],
    ['element', 'packages', 4, null],
    ['end', 'packages', 5],
    ['end', 'issues', 0],
    ['member', 'vulnerabilities', [{ id: 'CVE-1' }]],
    ['member', 'summary', 'packages'],
  ];
  it('yields members whole and the elements of streamed arrays one by one, at any chunking', async () => {
    for (const size of [1, 2, 3, 5, 16, 4096]) assert.deepEqual(await shapes(doc, size, report), expected, `chunks of ${size}`);
    const pretty = JSON.stringify(JSON.parse(doc), null, 2);
    for (const size of [1, 7, 4096]) assert.deepEqual(await shapes(pretty, size, report), expected, `pretty, chunks of ${size}`);
    // A streamed name whose value is not an array is an ordinary member.
    assert.deepEqual(await shapes('{"packages": {"a": 1}}', 4, report), [['member', 'packages', { a: 1 }]]);
  });
  it('refuses a piece over its cap as too large, naming it and where', async () => {
    const big = (e: unknown, re: RegExp): boolean => e instanceof JsonScanError && e.tooLarge && re.test(e.message);
    await assert.rejects(pieces(`{"image": {"ref": "${'r'.repeat(300)}"}}`, 64, report), (e) => big(e, /^member "image" is larger than 200 bytes at byte \d+$/));
    await assert.rejects(pieces(`{"packages": [1, "${'p'.repeat(200)}"]}`, 64, report), (e) => big(e, /^an element of "packages" is larger than 100 bytes/));
    await assert.rejects(pieces(`{"${'k'.repeat(70_000)}": 1}`, 4096, report), (e) => big(e, /^member name is larger than 65536 bytes/));
    // A member name is never skipped, even where values are.
    await assert.rejects(pieces(`{"${'k'.repeat(70_000)}": 1}`, 4096, feed('object')), (e) => big(e, /^member name is larger/));
    // The whole of a streamed array is not one piece: only its elements are capped.
    const many = JSON.stringify({ packages: Array.from({ length: 50 }, (_, i) => ({ i })) });
    assert.equal((await pieces(many, 10, report)).length, 51);
  });
  it('refuses duplicate top-level members when asked, and malformed structure with its offset', async () => {
    await assert.rejects(pieces('{"a": 1, "b": 2, "a": 3}', 4, report), (e: unknown) => e instanceof JsonScanError && !e.tooLarge && /^duplicate member "a" at byte 20$/.test(e.message));
    assert.equal((await pieces('{"a": 1, "a": 3}', 4, feed('object'))).length, 2);
    await assert.rejects(pieces('[1]', 4, report), /the report must be a JSON object at byte 0/);
    await assert.rejects(pieces('{"packages": [1 2]}', 4, report), /expected ',' or '\]' at byte 16/);
    await assert.rejects(pieces('{"schemaVersion":1,', 4, report), /the report is truncated at byte 19/);
    await assert.rejects(pieces('{"a": 1} {}', 4, report), /unexpected data after the end of the report at byte 9/);
  });
  it('awaits the callback only when it returns a promise, in order', async () => {
    const seen: string[] = [];
    await forEachJsonPiece(chunks('{"packages": [1, 2, 3], "x": 4}', 5), report, (p) => {
      if (p.kind !== 'element') {
        seen.push(p.kind);
        return undefined;
      }
      return new Promise<void>((resolve) =>
        setTimeout(() => {
          seen.push(String(p.index));
          resolve();
        }, 3 - p.index),
      );
    });
    assert.deepEqual(seen, ['0', '1', '2', 'end-array', 'member']);
  });
});

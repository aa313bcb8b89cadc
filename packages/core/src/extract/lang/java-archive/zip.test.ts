import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import zlib from 'node:zlib';
import { zipSync } from 'fflate';
import { readCentralDirectory, recoverEntries, ZipFormatError, type ReadAt } from './zip.js';

const testdata = new URL('./testdata/', import.meta.url);
const reader = (buf: Buffer): ReadAt => (offset, length) => Promise.resolve(buf.subarray(offset, offset + length));
const all = (): boolean => true;
const names = async (buf: Buffer): Promise<string[]> => (await readCentralDirectory(reader(buf), buf.length, 1000, all)).entries.map((e) => e.name);
const deflateLength = (buf: Buffer, start: number): number | null => {
  try {
    return (zlib.inflateRawSync(buf.subarray(start), { info: true }) as unknown as { engine: { bytesWritten: number } }).engine.bytesWritten;
  } catch {
    return null;
  }
};

describe('readCentralDirectory', () => {
  it('reads a real Debian jar', async () => {
    const buf = readFileSync(new URL('slf4j-api.jar', testdata));
    const cd = await readCentralDirectory(reader(buf), buf.length, 1000, all);
    assert.equal(cd.prefix, 0);
    assert.equal(cd.declaredEntries, 46);
    assert.equal(cd.parsedEntries, 46);
    assert.ok(cd.entries.some((e) => e.name === 'META-INF/maven/org.slf4j/slf4j-api/pom.properties'));
  });

  it('decodes only the names the filter wants, but counts every entry', async () => {
    const buf = readFileSync(new URL('slf4j-api.jar', testdata));
    const cd = await readCentralDirectory(reader(buf), buf.length, 1000, (raw, s, e) => raw.toString('latin1', s, e).startsWith('META-INF/maven'));
    assert.equal(cd.parsedEntries, 46);
    assert.equal(cd.entries.length, 5);
  });

  it('reads zip64 end records and extra fields (Info-ZIP zip -fz)', async () => {
    const buf = readFileSync(new URL('zip64.jar', testdata));
    const cd = await readCentralDirectory(reader(buf), buf.length, 1000, all);
    const manifest = cd.entries.find((e) => e.name === 'META-INF/MANIFEST.MF');
    assert.equal(manifest?.uncompressedSize, 545, 'the size comes from the zip64 extra field');
    assert.equal(cd.declaredEntries, 7);
  });

  it('finds the zip after a launcher script (self-executing jar), offsets relative or adjusted', async () => {
    const jar = readFileSync(new URL('jul-to-slf4j.jar', testdata));
    const script = Buffer.from('#!/bin/sh\nexec java -jar "$0" "$@"\n');
    const prefixed = Buffer.concat([script, jar]);
    const cd = await readCentralDirectory(reader(prefixed), prefixed.length, 1000, all);
    assert.equal(cd.prefix, script.length);
    assert.equal(cd.entries.find((e) => e.name === 'META-INF/MANIFEST.MF')?.localHeaderOffset, script.length + 39);

    const adjusted = readFileSync(new URL('selfexec-adjusted.jar', testdata)); // zip -A: offsets already absolute
    const cd2 = await readCentralDirectory(reader(adjusted), adjusted.length, 1000, all);
    assert.equal(cd2.prefix, 0);
    assert.equal(adjusted.readUInt32LE(cd2.entries[0]!.localHeaderOffset), 0x04034b50);
  });

  it('tolerates a comment that contains an end-record signature', async () => {
    const zip = Buffer.from(zipSync({ a: new Uint8Array([1]) }, { comment: 'PK\x05\x06 fake end record, 22 bytes long....' }));
    assert.deepEqual(await names(zip), ['a']);
  });

  it('caps the entries it reads', async () => {
    const files: Record<string, Uint8Array> = {};
    for (let i = 0; i < 50; i++) files[`f${i}`] = new Uint8Array(0);
    const zip = Buffer.from(zipSync(files));
    const cd = await readCentralDirectory(reader(zip), zip.length, 10, all);
    assert.equal(cd.entries.length, 10);
    assert.match(cd.problems[0] ?? '', /more than 10 entries \(50 declared\)/);
  });

  it('reports a damaged central directory and keeps what came before', async () => {
    const zip = Buffer.from(zipSync({ a: new Uint8Array(1), b: new Uint8Array(1), c: new Uint8Array(1) }));
    const cdStart = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    const second = zip.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]), cdStart + 1);
    zip.writeUInt32LE(0xdeadbeef, second);
    const cd = await readCentralDirectory(reader(zip), zip.length, 1000, all);
    assert.deepEqual(cd.entries.map((e) => e.name), ['a']);
    assert.match(cd.problems[0] ?? '', /damaged after 1 of 3/);
  });

  it('throws ZipFormatError on no end record, short input, or an end record pointing nowhere', async () => {
    const jar = readFileSync(new URL('slf4j-api.jar', testdata));
    await assert.rejects(names(jar.subarray(0, 20000)), ZipFormatError);
    await assert.rejects(names(Buffer.alloc(5)), ZipFormatError);
    const lying = Buffer.from(jar);
    const end = lying.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
    lying.writeUInt32LE(0x7fffffff, end + 12); // central directory size larger than the file
    await assert.rejects(names(lying), /larger than the archive/);
  });
});

describe('recoverEntries', () => {
  it('walks local headers of a truncated real jar (data descriptors included)', () => {
    const jar = readFileSync(new URL('slf4j-api.jar', testdata));
    const { entries, complete } = recoverEntries(jar.subarray(0, 2000), 1000, all, deflateLength);
    assert.ok(complete >= 5);
    const pom = entries.find((e) => e.name === 'META-INF/maven/org.slf4j/slf4j-api/pom.properties');
    assert.ok(pom?.dataOffset !== undefined);
    const text = zlib.inflateRawSync(jar.subarray(pom.dataOffset, pom.dataOffset + pom.compressedSize)).toString();
    assert.match(text, /version=1\.7\.32/);
  });

  it('follows data descriptors (entries written by the JDK jar tool) by finding where each deflate stream ends', () => {
    const jar = readFileSync(new URL('jdk-jar-tool.jar', testdata));
    const cut = jar.subarray(0, jar.indexOf(Buffer.from('META-INF/maven/org.slf4j/jul-to-slf4j/pom.xml')) + 200);
    const { entries } = recoverEntries(cut, 1000, all, deflateLength);
    const pom = entries.find((e) => e.name.endsWith('/pom.properties'));
    assert.ok(pom && (pom.flags & 0x8) !== 0 && pom.dataOffset !== undefined);
    assert.equal(pom.uncompressedSize, 88, 'the size comes from the data descriptor');
    assert.match(zlib.inflateRawSync(cut.subarray(pom.dataOffset, pom.dataOffset + pom.compressedSize)).toString(), /artifactId=jul-to-slf4j/);
  });

  it('finds nothing in bytes that are not a zip', () => {
    assert.equal(recoverEntries(Buffer.from('not a zip at all'), 1000, all, deflateLength).complete, 0);
  });
});

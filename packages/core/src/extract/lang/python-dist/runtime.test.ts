import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { PythonVersionScanner, pythonVersionsIn } from './runtime.js';

const excerpt = (name: string): Buffer => readFileSync(new URL(`./testdata/${name}`, import.meta.url));
const ELF = Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]);
const elf = (...parts: string[]): Buffer => Buffer.concat([ELF, Buffer.alloc(100), ...parts.map((p) => Buffer.from(p, 'latin1')), Buffer.alloc(100)]);

function scanInChunks(bytes: Buffer, series: string, size: number): string[] {
  const s = new PythonVersionScanner(series);
  for (let i = 0; i < bytes.length; i += size) s.push(bytes.subarray(i, i + size));
  return s.finish();
}

describe('PythonVersionScanner on real Debian 12 binaries', () => {
  it('finds PY_VERSION in /usr/bin/python3.11 and libpython3.11.so.1.0', () => {
    assert.deepEqual(pythonVersionsIn(excerpt('python3.11.excerpt'), '3.11'), ['3.11.2']);
    assert.deepEqual(pythonVersionsIn(excerpt('libpython3.11.so.1.0.excerpt'), '3.11'), ['3.11.2']);
  });
  it('looks only for the series in the file name', () => {
    assert.deepEqual(pythonVersionsIn(excerpt('python3.11.excerpt'), '3.12'), []);
  });
  it('finds it whatever the chunk boundaries', () => {
    const bytes = excerpt('python3.11.excerpt');
    for (let size = 1; size <= 24; size++) assert.deepEqual(scanInChunks(bytes, '3.11', size), ['3.11.2'], `chunk size ${size}`);
    for (const size of [100, 1000, 4095, 4096, 65536]) assert.deepEqual(scanInChunks(bytes, '3.11', size), ['3.11.2'], `chunk size ${size}`);
  });
});

describe('PythonVersionScanner on other shapes', () => {
  it('reads pre-release and development versions', () => {
    assert.deepEqual(pythonVersionsIn(elf('\x003.13.0rc1\x00'), '3.13'), ['3.13.0rc1']);
    assert.deepEqual(pythonVersionsIn(elf('\x003.14.0a1+\x00'), '3.14'), ['3.14.0a1+']);
    assert.deepEqual(pythonVersionsIn(elf('\x002.7.18\x00'), '2.7'), ['2.7.18']);
  });
  it('ignores look-alikes', () => {
    assert.deepEqual(pythonVersionsIn(elf('\x003.11.2xyz\x00', 'x3.11.4\x00', '\x003.11.\x00', '\x003.11.2 (main, Feb)\x00'), '3.11'), []);
    assert.deepEqual(pythonVersionsIn(Buffer.concat([ELF, Buffer.from('\x003.11.7')]), '3.11'), [], 'no terminating NUL at the end of the file');
  });
  it('reports every distinct candidate in file order', () => {
    assert.deepEqual(pythonVersionsIn(elf('\x003.11.9\x00', '\x003.11.2\x00', '\x003.11.9\x00'), '3.11'), ['3.11.9', '3.11.2']);
  });
  it('does not look inside files that are not ELF (a pyenv shim script)', () => {
    const s = new PythonVersionScanner('3.11');
    s.push(Buffer.from('#!/usr/bin/env bash\n'));
    assert.equal(s.wanted, false);
    s.push(Buffer.from('\x003.11.2\x00'));
    assert.deepEqual(s.finish(), []);
  });
  it('decides ELF-ness across tiny first chunks', () => {
    assert.deepEqual(scanInChunks(elf('\x003.12.1\x00'), '3.12', 1), ['3.12.1']);
  });
});

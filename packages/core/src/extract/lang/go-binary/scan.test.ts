import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import type { ExtractedPackage } from '../../extractor.js';
import { goBinaryExtractor } from './index.js';
import { GoBuildInfoScanner, LIMITS, readUvarint, stripFraming, MODINFO_END, MODINFO_START } from './scan.js';
import { fixtures } from './testdata/generate.js';

const DIR = new URL('./testdata/synthetic/', import.meta.url);
const EXEC = 0o100755;

interface RunResult {
  readonly packages: readonly ExtractedPackage[];
  readonly issues: readonly string[];
}

/** Run the extractor over chunks, as the layer runner would. */
async function runChunks(chunks: Iterable<Buffer> | AsyncIterable<Buffer>, size: number, path = '/usr/bin/app'): Promise<RunResult> {
  const issues: string[] = [];
  const stream = Readable.from(chunks, { objectMode: false });
  const out = await goBinaryExtractor.extractStream(stream, { path, size, mode: EXEC }, { tempDir: '/nonexistent', signal: new AbortController().signal, isLanguageArtifact: null, issue: (m) => issues.push(m) });
  stream.destroy();
  return { packages: out.packages, issues };
}

function chunked(b: Buffer, n: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < b.length; i += n) out.push(b.subarray(i, i + n));
  return out;
}

const short = (r: RunResult): string[] => r.packages.map((p) => `${p.name}@${p.version}`);
const file = (name: string): Buffer => readFileSync(new URL(name, DIR));

describe('synthetic fixtures', () => {
  it('are what testdata/generate.ts makes', () => {
    const want = fixtures();
    assert.deepEqual(readdirSync(DIR).sort(), Object.keys(want).sort());
    for (const [name, bytes] of Object.entries(want)) assert.ok(file(name).equals(bytes), `${name} differs: rerun the generator`);
  });

  const expected: Record<string, { packages: string[]; issues: RegExp[] }> = {
    'inline-le64.elf': { packages: ['example.com/app@v1.4.2', 'github.com/a/b@v1.2.3', 'github.com/new/fork@v1.0.5', 'example.com/app/internal/legacy@(devel)', 'stdlib@v1.21.3'], issues: [] },
    'pointer-le64.elf': { packages: ['example.com/old@v2.3.4+incompatible', 'golang.org/x/sys@v0.0.0-20200501145240-bc7a7d42d5c3', 'stdlib@v1.16.15'], issues: [] },
    'pointer-be32-extlink.elf': { packages: ['stdlib@v1.15.15'], issues: [] },
    'inline-be32.elf': { packages: ['example.com/ppc@v0.3.0', 'github.com/x/y@v1.0.0', 'stdlib@v1.22.1'], issues: [] },
    'not-go.elf': { packages: [], issues: [] },
    'truncated-inline.elf': { packages: ['stdlib@v1.20.5'], issues: [/module info: declared length 1000000 at offset \d+ points past the end of the 368-byte file/] },
    'bad-header.elf': { packages: [], issues: [/malformed ELF file.*unknown ELF class 7/] },
    'absurd-phnum.elf': { packages: [], issues: [/malformed ELF file.*60000 at offset 64.*first 65536 bytes/] },
    'upx.elf': { packages: [], issues: [/UPX-packed/] },
  };

  for (const [name, want] of Object.entries(expected)) {
    it(`${name}: same result whatever the chunk size`, async () => {
      const bytes = file(name);
      for (const n of [1, 3, 7, 15, 16, 17, 64, 333, 4096, bytes.length]) {
        const r = await runChunks(chunked(bytes, n), bytes.length);
        assert.deepEqual(short(r), want.packages, `chunk size ${n}`);
        assert.equal(r.issues.length, want.issues.length, `chunk size ${n}: ${r.issues.join('; ')}`);
        want.issues.forEach((re, i) => assert.match(r.issues[i]!, re));
      }
    });
  }

  it('marks the main module version source and keeps goVersion on every package', async () => {
    const bytes = file('inline-le64.elf');
    const r = await runChunks([bytes], bytes.length);
    assert.deepEqual(r.packages[0], {
      type: 'golang',
      name: 'example.com/app',
      version: 'v1.4.2',
      evidence: 'binary',
      identifiedBy: 'ldflags',
      metadata: {
        goVersion: 'go1.21.3',
        vcs: 'git',
        vcsRevision: '0123456789abcdef0123456789abcdef01234567',
        vcsTime: '2024-03-01T10:20:30Z',
        vcsModified: 'false',
        versionFrom: 'ldflags',
        ldflagsVariable: 'main.version',
      },
    });
    for (const p of r.packages) {
      assert.equal(p.metadata?.['goVersion'], 'go1.21.3');
      assert.equal(p.type, 'golang');
      assert.equal(p.evidence, 'binary');
    }
  });
});

describe('hostile and odd input', () => {
  it('ignores files that are not ELF, after the first bytes', async () => {
    assert.deepEqual((await runChunks([Buffer.from('#!/bin/sh\necho hi\n')], 18)).packages, []);
    assert.deepEqual((await runChunks([Buffer.from('\x7fEL')], 3)).issues, []);
    assert.deepEqual((await runChunks([], 0)).packages, []);
  });

  it('reports an ELF header cut short', async () => {
    const r = await runChunks([file('inline-le64.elf').subarray(0, 40)], 40);
    assert.match(r.issues[0] ?? '', /malformed ELF.*ELF header|program headers/);
  });

  it('reports a stream that ends before the size the tar header promised', async () => {
    const bytes = file('inline-le64.elf');
    const cut = bytes.indexOf('go1.21.3', 1536);
    const r = await runChunks([bytes.subarray(0, cut + 4)], bytes.length);
    assert.deepEqual(short(r), []);
    assert.match(r.issues.join(';'), /truncated: Go version .* past the end of the stream/);
  });

  it('reports pre-1.18 string data that was not kept (e.g. a devel toolchain version)', async () => {
    // overwrite "go1.16.15" (and the other go1. noise) in .rodata so no candidate is kept
    const bytes = Buffer.from(file('pointer-le64.elf'));
    let i = bytes.indexOf('go1.');
    while (i >= 0) {
      bytes.write('dev ', i, 'latin1');
      i = bytes.indexOf('go1.', i);
    }
    const r = await runChunks(chunked(bytes, 64), bytes.length);
    assert.deepEqual(short(r), ['example.com/old@v2.3.4+incompatible', 'golang.org/x/sys@v0.0.0-20200501145240-bc7a7d42d5c3']);
    assert.equal(r.packages[0]?.metadata?.['goVersion'], 'unknown');
    assert.match(r.issues.join(';'), /Go version at offset \d+ precedes the build info and was not kept while streaming/);
  });

  it('decodes varints and Go module-info framing as Go does', () => {
    assert.deepEqual(readUvarint(Buffer.from([0xac, 0x02])), { value: 300, bytes: 2 });
    assert.equal(readUvarint(Buffer.from([0x80, 0x80])), null);
    assert.equal(readUvarint(Buffer.alloc(11, 0xff)), null);
    assert.equal(stripFraming(Buffer.concat([MODINFO_START, Buffer.from('path\tx\n'), MODINFO_END])), 'path\tx\n');
    assert.equal(stripFraming(Buffer.concat([MODINFO_START, Buffer.from('path\tx'), MODINFO_END])), '');
    assert.equal(stripFraming(Buffer.from('short')), '');
  });

  it('keeps memory flat and reads a 2 GiB binary chunk by chunk', async () => {
    // A Go >= 1.18 binary whose data segment sits 2 GiB in: everything before it is zeros from one shared buffer.
    const tail = file('inline-le64.elf');
    const phoff = 64;
    const rwIndex = 2;
    const at = phoff + rwIndex * 56;
    const rwOffset = Number(tail.readBigUInt64LE(at + 8));
    const total = 2 * 1024 * 1024 * 1024;
    const shift = total - tail.length;
    const head = Buffer.from(tail.subarray(0, rwOffset));
    // move the data segment to the end of the big file; keep its vaddr so alignment is unchanged
    head.writeBigUInt64LE(BigInt(rwOffset + shift), at + 8);
    // and stretch .rodata over the zeros, so all of them are searched for pre-1.18 strings
    const ro = phoff + 56;
    head.writeBigUInt64LE(BigInt(rwOffset + shift) - tail.readBigUInt64LE(ro + 8), ro + 32);
    const zeros = Buffer.alloc(1024 * 1024);
    let maxArrayBuffers = 0;
    async function* gen(): AsyncGenerator<Buffer> {
      yield head;
      let left = rwOffset + shift - head.length;
      while (left > 0) {
        const n = Math.min(left, zeros.length);
        left -= n;
        maxArrayBuffers = Math.max(maxArrayBuffers, process.memoryUsage().arrayBuffers);
        yield n === zeros.length ? zeros : zeros.subarray(0, n);
      }
      yield tail.subarray(rwOffset);
    }
    const before = process.memoryUsage().arrayBuffers;
    const t0 = performance.now();
    const r = await runChunks(gen(), rwOffset + shift + (tail.length - rwOffset));
    const ms = performance.now() - t0;
    assert.deepEqual(short(r), ['example.com/app@v1.4.2', 'github.com/a/b@v1.2.3', 'github.com/new/fork@v1.0.5', 'example.com/app/internal/legacy@(devel)', 'stdlib@v1.21.3']);
    assert.ok(maxArrayBuffers - before < 64 * 1024 * 1024, `array buffers grew by ${maxArrayBuffers - before} bytes`);
    assert.ok(ms < 60_000, `${ms} ms`);
  });

  it('stops reading a big non-Go ELF after its last writable segment', async () => {
    const bytes = file('not-go.elf');
    let pulled = 0;
    function* gen(): Generator<Buffer> {
      yield bytes;
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield Buffer.alloc(1024 * 1024);
      }
    }
    const r = await runChunks(gen(), bytes.length + 1000 * 1024 * 1024);
    assert.deepEqual(r, { packages: [], issues: [] });
    assert.ok(pulled < 20, `pulled ${pulled} chunks past the segments`);
  });

  it('bounds what it keeps for pre-1.18 binaries', () => {
    // a writable segment far larger than the window: the window slides, memory stays bounded
    const s = new GoBuildInfoScanner(1 << 30);
    const hdr = Buffer.from(file('not-go.elf').subarray(0, 64 + 3 * 56));
    // stretch the writable segment (index 2) to 64 MiB
    hdr.writeBigUInt64LE(BigInt(64 * 1024 * 1024), 64 + 2 * 56 + 32);
    s.push(hdr);
    const chunk = Buffer.alloc(1024 * 1024, 0x61);
    for (let i = 0; i < 70; i++) if (s.push(chunk)) break;
    const kept = (s as unknown as { windowBytes: number }).windowBytes;
    assert.ok(kept <= LIMITS.windowMax, `${kept}`);
    assert.deepEqual(s.end(), { kind: 'not-go' });
  });
});

describe('required()', () => {
  it('offers executable regular files that are not obviously something else', () => {
    const yes = ['/usr/bin/kubectl', '/app/server', '/usr/local/bin/kubectl.1.33', '/opt/x/terraform-provider-aws_v5.100.0_x5', '/usr/share/grafana/bin/grafana'];
    const no = ['/usr/lib/x86_64-linux-gnu/libc.so.6', '/usr/lib/libfoo.so', '/usr/bin/script.sh', '/usr/bin/tool.py', '/proc/1/exe', '/usr/share/doc/x/run', '/etc/notes.txt'];
    for (const p of yes) assert.ok(goBinaryExtractor.required(p, EXEC), p);
    for (const p of no) assert.ok(!goBinaryExtractor.required(p, EXEC), p);
    assert.ok(!goBinaryExtractor.required('/usr/bin/kubectl', 0o100644), 'not executable');
    assert.ok(!goBinaryExtractor.required('/usr/bin/kubectl', 0o120777), 'symlink');
    assert.equal(goBinaryExtractor.name, 'lang/go-binary');
    assert.equal(goBinaryExtractor.scanType, 'SCA');
    assert.equal(goBinaryExtractor.input, 'stream');
  });
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { zipSync } from 'fflate';
import { DEFAULT_PLATFORM } from '../../../image/sources/oci-manifest.js';
import { sourceForTarget } from '../../../image/sources/target.js';
import { scanImage } from '../../../scan.js';
import { writeOciLayout, type EntrySpec } from '../../../testing/image-builder.js';
import { validateReport } from '../../../testing/report-schema.js';
import { S_IFREG, type ExtractContext, type ExtractOutput } from '../../extractor.js';
import { dpkgExtractor } from '../../os/dpkg/index.js';
import { HEADER_CAP, pythonDistExtractor } from './index.js';

const testdata = (name: string): Buffer => readFileSync(new URL(`./testdata/${name}`, import.meta.url));

let tempDir: string;
before(async () => {
  tempDir = await mkdtemp(join(tmpdir(), 'tally-python-dist-'));
});
after(async () => {
  await rm(tempDir, { recursive: true, force: true });
});

interface Run {
  readonly out: ExtractOutput;
  readonly issues: string[];
  /** Bytes the extractor pulled from the stream. */
  readonly read: number;
}

/** Run the extractor on bytes delivered in `chunk`-sized pieces, as the tar stream would, and count what it read. */
async function run(path: string, bytes: Buffer, opts: { chunk?: number; size?: number; signal?: AbortSignal } = {}): Promise<Run> {
  const chunk = opts.chunk ?? 64 * 1024;
  let read = 0;
  function* pieces(): Generator<Buffer> {
    for (let i = 0; i < bytes.length; i += chunk) {
      const piece = bytes.subarray(i, i + chunk);
      read += piece.length;
      yield piece;
    }
  }
  const stream = Readable.from(pieces(), { objectMode: false, highWaterMark: chunk });
  const issues: string[] = [];
  const ctx: ExtractContext = {
    tempDir,
    signal: opts.signal ?? new AbortController().signal,
    isLanguageArtifact: null,
    issue: (message, member) => issues.push(member ? `${member}: ${message}` : message),
  };
  const out = await pythonDistExtractor.extractStream(stream, { path, size: opts.size ?? bytes.length, mode: S_IFREG | 0o644 }, ctx).catch(async (err: unknown) => {
    await drain(stream);
    throw err;
  });
  const pulled = read;
  await drain(stream);
  return { out, issues, read: pulled };
}

/** What the runner does after the extractor: the stream must still drain to its end. */
async function drain(stream: Readable): Promise<void> {
  if (stream.readableEnded) return;
  const ended = new Promise<void>((resolve) => stream.once('end', resolve));
  stream.resume();
  await ended;
}

describe('pythonDistExtractor.required', () => {
  it('asks for metadata files, eggs and interpreter binaries only', () => {
    const yes = [
      '/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA',
      '/usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO',
      '/usr/lib/python3/dist-packages/pycairo-1.20.1.egg-info',
      '/x/toml-0.10.2-py3.11.egg',
      '/x/toml-0.10.2-py3.11.egg/EGG-INFO/PKG-INFO',
      '/usr/bin/python3.11',
      '/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0',
    ];
    const no = ['/usr/lib/python3/dist-packages/six.py', '/usr/bin/python3', '/etc/os-release', '/var/lib/dpkg/status'];
    for (const p of yes) assert.equal(pythonDistExtractor.required(p, S_IFREG | 0o644), true, p);
    for (const p of no) assert.equal(pythonDistExtractor.required(p, S_IFREG | 0o644), false, p);
  });
});

describe('pythonDistExtractor on real files', () => {
  it('reads a dist-info METADATA, keeping the original spelling of the name', async () => {
    const { out, issues } = await run('/usr/lib/python3/dist-packages/PyYAML-6.0.dist-info/METADATA', testdata('PyYAML-6.0.dist-info.METADATA'), { chunk: 7 });
    assert.deepEqual(out.packages, [
      { type: 'pypi', name: 'pyyaml', version: '6.0', evidence: 'installed', identifiedBy: 'dist-info', licenses: ['MIT'], metadata: { originalName: 'PyYAML' } },
    ]);
    assert.deepEqual(issues, []);
  });

  it('reads egg-info directories and the plain-file egg-info form', async () => {
    const dir = await run('/usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO', testdata('six-1.16.0.egg-info.PKG-INFO'));
    assert.deepEqual(dir.out.packages, [{ type: 'pypi', name: 'six', version: '1.16.0', evidence: 'installed', identifiedBy: 'egg-info', licenses: ['MIT'] }]);
    const file = await run('/usr/lib/python3/dist-packages/pycairo-1.20.1.egg-info', testdata('pycairo-1.20.1.egg-info'));
    assert.deepEqual(file.out.packages, [
      { type: 'pypi', name: 'pycairo', version: '1.20.1', evidence: 'installed', identifiedBy: 'egg-info', licenses: ['LGPL-2.1-only OR MPL-1.1'] },
    ]);
  });

  it('reads an unzipped egg directory', async () => {
    const { out } = await run('/opt/eggs/six-1.16.0-py3.11.egg/EGG-INFO/PKG-INFO', testdata('six-1.16.0.egg-info.PKG-INFO'));
    assert.equal(out.packages[0]?.identifiedBy, 'egg');
  });

  it('reads a zipped egg, in memory and through a temp file that it removes', async () => {
    const egg = testdata('toml-0.10.2-py3.11.egg');
    const expected = [{ type: 'pypi', name: 'toml', version: '0.10.2', evidence: 'installed', identifiedBy: 'egg', licenses: ['MIT'] }];
    assert.deepEqual((await run('/usr/local/lib/python3.11/dist-packages/toml-0.10.2-py3.11.egg', egg)).out.packages, expected);
    // a declared size over the in-memory limit takes the temp-file path
    assert.deepEqual((await run('/x/toml-0.10.2-py3.11.egg', egg, { size: 17 * 1024 * 1024 })).out.packages, expected);
    assert.deepEqual(await readdir(tempDir), []);
  });

  it('reads the interpreter version from the binary and from libpython', async () => {
    const runtime = { type: 'generic', name: 'python', version: '3.11.2', evidence: 'binary', identifiedBy: 'binary', metadata: { role: 'runtime' } };
    assert.deepEqual((await run('/usr/bin/python3.11', testdata('python3.11.excerpt'), { chunk: 1000 })).out.packages, [runtime]);
    assert.deepEqual((await run('/usr/lib/x86_64-linux-gnu/libpython3.11.so.1.0', testdata('libpython3.11.so.1.0.excerpt'))).out.packages, [runtime]);
  });

  it('reports nothing for a thin launcher or a shell-script shim, and stops reading the script', async () => {
    const launcher = Buffer.concat([Buffer.from([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1, 0]), Buffer.alloc(16 * 1024)]);
    assert.deepEqual((await run('/usr/local/bin/python3.12', launcher)).out.packages, []);
    const shim = Buffer.concat([Buffer.from('#!/usr/bin/env bash\nexec pyenv exec "$0" "$@"\n'), Buffer.alloc(1024 * 1024, 0x20)]);
    const { out, read } = await run('/root/.pyenv/shims/bin/python3.11', shim, { chunk: 4096 });
    assert.deepEqual(out.packages, []);
    assert.ok(read <= 2 * 4096, `read ${read} bytes of a shell script`);
  });
});

describe('pythonDistExtractor on hostile input', () => {
  const yaml = testdata('PyYAML-6.0.dist-info.METADATA');

  it('reads only the headers of a 10 MB METADATA (the body is the description)', async () => {
    const big = Buffer.concat([yaml, Buffer.alloc(10 * 1024 * 1024, 0x78)]);
    const { out, issues, read } = await run('/x/PyYAML-6.0.dist-info/METADATA', big);
    assert.equal(out.packages[0]?.name, 'pyyaml');
    assert.deepEqual(issues, []);
    assert.ok(read <= 2 * 64 * 1024, `read ${read} bytes`); // the chunk holding the blank line, plus read-ahead
  });

  it('stops at the header cap of 10 MB of headers, keeping what it read', async () => {
    const headers = Buffer.concat([Buffer.from('Metadata-Version: 2.1\nName: big\nVersion: 1.0\n'), Buffer.from('Classifier: Topic :: Utilities\n'.repeat(350_000))]);
    const { out, issues, read } = await run('/x/big-1.0.dist-info/METADATA', headers);
    assert.equal(out.packages[0]?.version, '1.0');
    assert.deepEqual(issues, [`metadata header section is longer than ${HEADER_CAP} bytes: only its first ${HEADER_CAP} bytes were read`]);
    assert.ok(read <= HEADER_CAP + 64 * 1024);
  });

  it('throws on 10 MB of headers that never name the distribution', async () => {
    const junk = Buffer.from('X-Junk: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n'.repeat(220_000));
    await assert.rejects(run('/x/cryptography.egg-info/PKG-INFO', junk), /no Name header/);
  });

  it('takes a truncated file\'s version from its directory name, with an issue', async () => {
    const truncated = yaml.subarray(0, yaml.indexOf('\nVersion:') + 5);
    const { out, issues } = await run('/x/PyYAML-6.0.dist-info/METADATA', truncated);
    assert.equal(out.packages[0]?.version, '6.0');
    assert.equal(issues.length, 2);
  });

  it('throws on binary junk and on an empty file', async () => {
    await assert.rejects(run('/x/a-1.dist-info/METADATA', Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3, 0x0a, 0x0a])), /binary data/);
    await assert.rejects(run('/x/a-1.dist-info/METADATA', Buffer.alloc(0)), /empty metadata file/);
  });

  it('throws on an egg that is not a zip or has no metadata', async () => {
    await assert.rejects(run('/x/a-1-py3.11.egg', Buffer.from('not a zip at all')), /not a readable zip/);
    await assert.rejects(run('/x/a-1-py3.11.egg', Buffer.from(zipSync({ 'a/__init__.py': new Uint8Array(0) }))), /no EGG-INFO\/PKG-INFO/);
  });

  it('survives a zip-bomb egg', async () => {
    const bomb = Buffer.from(zipSync({ 'EGG-INFO/PKG-INFO': Buffer.concat([Buffer.from('Name: bomb\nVersion: 1\nX-Pad: '), Buffer.alloc(8 * 1024 * 1024, 0x61)]) }));
    const { out, issues } = await run('/x/bomb-1-py3.11.egg', bomb);
    assert.equal(out.packages[0]?.name, 'bomb');
    assert.equal(issues.length, 1);
  });

  it('stops when the scan is aborted', async () => {
    const ac = new AbortController();
    ac.abort(new Error('stop'));
    await assert.rejects(run('/x/PyYAML-6.0.dist-info/METADATA', yaml, { signal: ac.signal }), /stop/);
  });
});

describe('pythonDistExtractor in a scan', () => {
  const SITE = 'usr/lib/python3/dist-packages';
  const status = (...pkgs: [string, string][]): string =>
    pkgs.map(([n, v]) => `Package: ${n}\nStatus: install ok installed\nVersion: ${v}\nArchitecture: all\n`).join('\n');

  it('reports distributions with their layer, location, purl and owning deb; whiteouts remove them', async () => {
    const base: EntrySpec[] = [
      { name: 'usr/lib/os-release', content: 'ID=debian\nVERSION_ID="12"\n' },
      { name: 'var/lib/dpkg/status', content: status(['python3-six', '1.16.0-4'], ['python3-yaml', '6.0-3+b2']) },
      { name: 'var/lib/dpkg/info/python3-six.list', content: `/.\n/${SITE}/six-1.16.0.egg-info\n/${SITE}/six-1.16.0.egg-info/PKG-INFO\n/${SITE}/six.py\n` },
      // read only up to its blank line: the rest of the entry is drained by the runner, and the next entry follows
      { name: `${SITE}/big-2.0.dist-info/METADATA`, content: Buffer.concat([Buffer.from('Metadata-Version: 2.1\nName: Big\nVersion: 2.0\n\n'), Buffer.alloc(3 * 1024 * 1024, 0x62)]) },
      { name: `${SITE}/six-1.16.0.egg-info/PKG-INFO`, content: testdata('six-1.16.0.egg-info.PKG-INFO') },
      { name: `${SITE}/PyYAML-6.0.dist-info/METADATA`, content: testdata('PyYAML-6.0.dist-info.METADATA') },
      { name: 'usr/bin/python3.11', content: testdata('python3.11.excerpt'), mode: 0o755 },
      { name: 'usr/bin/python3', type: 'symlink', linkname: 'python3.11' },
    ];
    const app: EntrySpec[] = [
      { name: 'usr/local/lib/python3.11/dist-packages/toml-0.10.2-py3.11.egg', content: testdata('toml-0.10.2-py3.11.egg') },
      { name: `${SITE}/PyYAML-6.0.dist-info/.wh..wh..opq`, content: '' },
      { name: `${SITE}/.wh.PyYAML-6.0.dist-info`, content: '' },
    ];
    const dir = join(tempDir, 'image');
    await writeOciLayout(dir, { layers: [{ entries: base, createdBy: 'apt-get install python3-six' }, { entries: app, createdBy: 'easy_install toml' }] });
    const source = await sourceForTarget(`oci:${dir}`, { platform: DEFAULT_PLATFORM, platformExplicit: false });
    const report = await scanImage(source, { tempRoot: tempDir, performScaScan: true, extractors: [dpkgExtractor, pythonDistExtractor] });
    validateReport(report);
    const lang = report.packages.filter((p) => p.class === 'lang').map((p) => ({ purl: p.purl, layer: p.layer.index, locations: p.locations, ownedBy: p.ownedBy?.name ?? null }));
    assert.deepEqual(lang, [
      { purl: 'pkg:pypi/big@2.0', layer: 0, locations: [`/${SITE}/big-2.0.dist-info/METADATA`], ownedBy: null },
      { purl: 'pkg:generic/python@3.11.2', layer: 0, locations: ['/usr/bin/python3.11'], ownedBy: null },
      { purl: 'pkg:pypi/six@1.16.0', layer: 0, locations: [`/${SITE}/six-1.16.0.egg-info/PKG-INFO`], ownedBy: 'python3-six' },
      { purl: 'pkg:pypi/toml@0.10.2', layer: 1, locations: ['/usr/local/lib/python3.11/dist-packages/toml-0.10.2-py3.11.egg'], ownedBy: null },
    ]);
    assert.deepEqual(report.issues, []);
  });
});

import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { zipSync } from 'fflate';
import { S_IFREG, type ExtractContext, type FileInput } from '../../extractor.js';
import { dotnetExtractor } from './index.js';
import { nuspecOfNupkg } from './nupkg.js';

const bytes = (name: string): Buffer => readFileSync(new URL(`./testdata/${name}`, import.meta.url));
const tempDir = mkdtempSync(join(tmpdir(), 'tally-dotnet-'));
after(() => rmSync(tempDir, { recursive: true, force: true }));

function context(issues: string[]): ExtractContext {
  return { tempDir, signal: new AbortController().signal, isLanguageArtifact: null, issue: (m) => issues.push(m) };
}

function input(path: string, data: Buffer, spill = false): FileInput {
  if (!spill) return { path, size: data.length, mode: S_IFREG | 0o644, content: { kind: 'buffer', data } };
  const file = join(tempDir, `spill-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, data);
  return { path, size: data.length, mode: S_IFREG | 0o644, content: { kind: 'file', path: file } };
}

const nuspec = (id: string, version: string): Uint8Array =>
  new TextEncoder().encode(`<?xml version="1.0"?><package><metadata><id>${id}</id><version>${version}</version></metadata></package>`);

describe('lang/dotnet extractor', () => {
  it('is named after its folder and asks only for .NET files', () => {
    assert.equal(dotnetExtractor.name, 'lang/dotnet');
    assert.equal(dotnetExtractor.scanType, 'SCA');
    const mode = S_IFREG | 0o644;
    assert.ok(dotnetExtractor.required('/app/App.deps.json', mode));
    assert.ok(dotnetExtractor.required('/usr/share/dotnet/shared/Microsoft.NETCore.App/8.0.11/Microsoft.NETCore.App.deps.json', mode));
    assert.ok(dotnetExtractor.required('/src/packages.lock.json', mode));
    assert.ok(!dotnetExtractor.required('/app/App.dll', mode));
    assert.ok(!dotnetExtractor.required('/usr/share/dotnet/shared/Microsoft.NETCore.App/8.0.11/.version', mode));
  });

  it('extracts an app deps.json and reports its problems as issues', async () => {
    const issues: string[] = [];
    const out = await dotnetExtractor.extract(input('/app/Sarif.Multitool.deps.json', bytes('Sarif.Multitool.deps.json')), context(issues));
    assert.equal(out.packages.filter((p) => p.metadata?.['deployed'] !== 'false').length, 61);
    assert.deepEqual(issues, []);
    const odd = await dotnetExtractor.extract(input('/app/x.deps.json', Buffer.from('{"libraries":{"a":{}}}')), context(issues));
    assert.deepEqual(odd.packages, []);
    assert.equal(issues.length, 2);
  });

  it('extracts the shared framework, lock files, packages.config and nuspec files', async () => {
    const ctx = context([]);
    const shared = await dotnetExtractor.extract(
      input('/opt/dotnet/shared/Microsoft.NETCore.App/2.0.0/Microsoft.NETCore.App.deps.json', bytes('netcoreapp-2.0.0-linux-x64.deps.json')),
      ctx,
    );
    assert.deepEqual(shared.packages.slice(0, 1).map((p) => `${p.name}@${p.version} ${p.identifiedBy}`), ['Microsoft.NETCore.App@2.0.0 shared-framework']);
    const lock = await dotnetExtractor.extract(input('/src/packages.lock.json', bytes('packages.lock.json')), ctx);
    assert.equal(lock.packages.length, 5);
    const config = await dotnetExtractor.extract(input('/src/packages.config', bytes('packages.config')), ctx);
    assert.equal(config.packages.length, 4);
    const spec = await dotnetExtractor.extract(input('/root/.nuget/packages/serilog/3.1.1/serilog.nuspec', bytes('serilog.nuspec')), ctx);
    assert.deepEqual(spec.packages.map((p) => `${p.name}@${p.version} ${p.licenses?.join()}`), ['Serilog@3.1.1 Apache-2.0']);
  });

  it('throws on malformed files, which the runner turns into issues', async () => {
    const ctx = context([]);
    await assert.rejects(dotnetExtractor.extract(input('/app/App.deps.json', Buffer.from('{"libraries": {')), ctx), /deps\.json: invalid JSON/);
    await assert.rejects(dotnetExtractor.extract(input('/app/App.deps.json', Buffer.from('\u0000\u0001')), ctx), /invalid JSON/);
  });
});

describe('nupkg', () => {
  it('reads the nuspec of a real .nupkg (Debian nupkg-nunit.2.6.4), in memory or spilled to disk', async () => {
    for (const spill of [false, true]) {
      const out = await dotnetExtractor.extract(input('/usr/share/nupkg/NUnit.2.6.4.nupkg', bytes('NUnit.2.6.4.nupkg'), spill), context([]));
      assert.deepEqual(out.packages, [
        {
          type: 'nuget',
          name: 'NUnit',
          version: '2.6.4',
          evidence: 'installed',
          identifiedBy: 'nupkg',
          metadata: { licenseUrl: 'http://nunit.org/nuget/license.html' },
        },
      ]);
    }
  });

  it('takes only the root-level nuspec', async () => {
    const zip = Buffer.from(zipSync({ 'content/Other.nuspec': nuspec('Wrong', '1.0.0'), 'lib/a.dll': new Uint8Array(10), 'Right.nuspec': nuspec('Right', '2.0.0') }));
    assert.equal((await nuspecOfNupkg(zip)).name, 'Right.nuspec');
  });

  it('rejects archives that are no nupkg, and nuspecs too big to be real', async () => {
    await assert.rejects(nuspecOfNupkg(Buffer.from('not a zip at all')), /not a readable zip/);
    await assert.rejects(nuspecOfNupkg(Buffer.from(zipSync({ 'lib/a.dll': new Uint8Array(4) }))), /no \.nuspec/);
    const bomb = Buffer.from(zipSync({ 'Big.nuspec': new Uint8Array(2 * 1024 * 1024) }, { level: 9 }));
    assert.ok(bomb.length < 10_000);
    await assert.rejects(nuspecOfNupkg(bomb), /declares 2097152 bytes/);
  });

  it('does not trust a central directory that understates the size', async () => {
    const zip = Buffer.from(zipSync({ 'Big.nuspec': new Uint8Array(2 * 1024 * 1024) }, { level: 9 }));
    // patch the declared uncompressed size (central directory and local header) down to 100 bytes
    const central = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    zip.writeUInt32LE(100, central + 24);
    zip.writeUInt32LE(100, 22);
    await assert.rejects(nuspecOfNupkg(zip), /too many bytes|size|inflates past/i);
  });
});

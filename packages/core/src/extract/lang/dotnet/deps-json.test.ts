import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseDepsJson } from './deps-json.js';

const testdata = (name: string): unknown => JSON.parse(readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8'));
/** The libraries the host loads; asset-less ones are reported separately as declared, not deployed. */
function parseDeployed(...args: Parameters<typeof parseDepsJson>): ReturnType<typeof parseDepsJson> {
  const r = parseDepsJson(...args);
  return { ...r, packages: r.packages.filter((p) => p.metadata?.['deployed'] !== 'false') };
}

const names = (r: ReturnType<typeof parseDeployed>): string[] => r.packages.map((p) => `${p.name}@${p.version}`);

describe('deps.json: real self-contained app (Sarif.Multitool 5.7.0, linux-x64)', () => {
  const result = parseDeployed(testdata('Sarif.Multitool.deps.json'), 'Sarif.Multitool.deps.json');

  it('reports the bundled runtime pack under its advisory id, with the runtime version', () => {
    assert.deepEqual(result.problems, []);
    const runtime = result.packages.find((p) => p.metadata?.['role'] === 'runtime');
    assert.deepEqual(runtime, {
      type: 'nuget',
      name: 'Microsoft.NETCore.App.Runtime.linux-x64',
      version: '8.0.30',
      evidence: 'installed',
      identifiedBy: 'deps.json',
      metadata: { role: 'runtime', framework: 'Microsoft.NETCore.App', rid: 'linux-x64', dependency: 'direct' },
    });
  });

  it('reports package libraries with loaded assets, keeping the case of the NuGet id', () => {
    assert.equal(result.packages.length, 61);
    const all = names(result);
    for (const n of ['Newtonsoft.Json@13.0.3', 'YamlDotNet@11.2.0', 'System.Data.SqlClient@4.8.6', 'Microsoft.Data.SqlClient@5.2.2']) {
      assert.ok(all.includes(n), n);
    }
    const nj = result.packages.find((p) => p.name === 'Newtonsoft.Json');
    assert.equal(nj?.metadata?.['dependency'], 'transitive');
    assert.match(nj?.metadata?.['sha512'] ?? '', /^sha512-HrC5B/);
    assert.equal(result.packages.find((p) => p.name === 'CommandLineParser')?.metadata?.['dependency'], 'direct');
  });

  it('reports asset-less libraries as declared and not deployed, so nothing is hidden and nothing is matched', () => {
    const all = parseDepsJson(JSON.parse(readFileSync(new URL('./testdata/Sarif.Multitool.deps.json', import.meta.url), 'utf8')), 'Sarif.Multitool.deps.json');
    const stj = all.packages.find((p) => p.name === 'System.Text.Json' && p.version === '6.0.10');
    assert.equal(stj?.evidence, 'declared');
    assert.equal(stj?.metadata?.['deployed'], 'false');
  });

  it('leaves out build-only packages and facades whose code the runtime pack supplies', () => {
    const all = names(result);
    // no runtime/native assets in the linux-x64 target: build tasks, trimmed 4.3.x facades, Windows-only natives
    for (const n of [
      'Microsoft.NET.ILLink.Tasks@8.0.30',
      'System.Private.Uri@4.3.2',
      'runtime.unix.System.Private.Uri@4.3.0',
      'System.Text.Json@6.0.10',
      'Microsoft.Win32.Registry@4.7.0',
      'Microsoft.Data.SqlClient.SNI.runtime@5.2.0',
    ]) {
      assert.ok(!all.includes(n), n);
    }
  });

  it('does not report projects or bare assembly references', () => {
    const all = result.packages.map((p) => p.name);
    for (const n of ['Sarif.Multitool', 'Sarif.Driver', 'Sarif', 'WorkItems', 'Octokit']) assert.ok(!all.includes(n), n);
  });
});

describe('deps.json: real framework-dependent app (Azure.Generator, portable net10.0)', () => {
  it('reads the portable target and tells direct from transitive', () => {
    const result = parseDeployed(testdata('Azure.Generator.deps.json'), 'Azure.Generator.deps.json');
    assert.deepEqual(result.problems, []);
    assert.equal(result.packages.length, 47);
    assert.ok(!names(result).includes('System.Composition@7.0.0'), 'meta-package without assets');
    assert.equal(result.packages.find((p) => p.name === 'Azure.Core')?.metadata?.['dependency'], 'direct');
    assert.equal(result.packages.find((p) => p.name === 'NuGet.Versioning')?.version, '6.14.3');
    assert.ok(result.packages.every((p) => p.metadata?.['role'] === undefined), 'a framework-dependent app bundles no runtime');
  });
});

describe('deps.json: edge cases', () => {
  const lib = { type: 'package', serviceable: true, sha512: '' };
  const runtime = { runtime: { 'lib/net8.0/A.dll': {} } };

  it('falls back to the RID-specific target when runtimeTarget names a missing one, and says so', () => {
    const doc = {
      runtimeTarget: { name: '.NETCoreApp,Version=v8.0/linux-arm64' },
      targets: {
        '.NETCoreApp,Version=v8.0': { 'A/1.0.0': runtime, 'B/1.0.0': runtime },
        '.NETCoreApp,Version=v8.0/linux-x64': { 'A/1.0.0': runtime, 'B/1.0.0': {} },
      },
      libraries: { 'A/1.0.0': lib, 'B/1.0.0': lib },
    };
    const result = parseDeployed(doc, 'x.deps.json');
    assert.deepEqual(names(result), ['A@1.0.0']);
    assert.match(result.problems.join(), /linux-arm64.*missing.*linux-x64/);
  });

  it('reports every package library when there is no target, and says so', () => {
    const result = parseDeployed({ libraries: { 'A/1.0.0': lib, 'P/1.0.0': { type: 'project' } } }, 'x.deps.json');
    assert.deepEqual(names(result), ['A@1.0.0']);
    assert.match(result.problems.join(), /no "targets"/);
  });

  it('matches target keys case-insensitively, keeps libraries the target does not mention, drops compileOnly', () => {
    const doc = {
      runtimeTarget: { name: 't' },
      targets: { t: { 'newtonsoft.json/13.0.1': runtime, 'C/2.0.0': { compileOnly: true, runtime: { 'C.dll': {} } } } },
      libraries: { 'Newtonsoft.Json/13.0.1': lib, 'C/2.0.0': lib, 'NotInTarget/3.0.0': lib },
    };
    assert.deepEqual(names(parseDeployed(doc, 'x.deps.json')), ['Newtonsoft.Json@13.0.1', 'NotInTarget@3.0.0']);
  });

  it('counts runtimeTargets (RID-specific assets) and native assets as loaded', () => {
    const doc = {
      runtimeTarget: { name: 't' },
      targets: {
        t: {
          'N/1.0.0': { native: { 'runtimes/linux-x64/native/libn.so': {} } },
          'R/1.0.0': { runtimeTargets: { 'runtimes/unix/lib/net8.0/R.dll': { rid: 'unix', assetType: 'runtime' } } },
          'S/1.0.0': { resources: { 'de/S.resources.dll': { locale: 'de' } } },
        },
      },
      libraries: { 'N/1.0.0': lib, 'R/1.0.0': lib, 'S/1.0.0': lib },
    };
    assert.deepEqual(names(parseDeployed(doc, 'x.deps.json')), ['N@1.0.0', 'R@1.0.0']);
  });

  it('makes a distro RID of a bundled runtime portable and keeps the RID as built', () => {
    const doc = {
      runtimeTarget: { name: '.NETCoreApp,Version=v8.0/alpine.3.19-x64' },
      targets: {
        '.NETCoreApp,Version=v8.0/alpine.3.19-x64': {
          'runtimepack.Microsoft.AspNetCore.App.Runtime.alpine.3.19-x64/8.0.5': runtime,
        },
      },
      libraries: { 'runtimepack.Microsoft.AspNetCore.App.Runtime.alpine.3.19-x64/8.0.5': { type: 'runtimepack', serviceable: false, sha512: '' } },
    };
    const [p] = parseDeployed(doc, 'x.deps.json').packages;
    assert.equal(p?.name, 'Microsoft.AspNetCore.App.Runtime.linux-musl-x64');
    assert.deepEqual(p?.metadata, {
      role: 'runtime',
      framework: 'Microsoft.AspNetCore.App',
      rid: 'linux-musl-x64',
      ridAsBuilt: 'alpine.3.19-x64',
    });
  });

  it('strips the runtimepack prefix only from runtimepack libraries', () => {
    const doc = { libraries: { 'runtimepack.Some.Package/1.0.0': lib } };
    assert.deepEqual(names(parseDeployed(doc, 'x.deps.json')), ['runtimepack.Some.Package@1.0.0']);
  });

  it('survives hostile keys and shapes', () => {
    const text =
      '{"runtimeTarget":{"name":"__proto__"},"targets":{"__proto__":{"__proto__/1.0.0":{"runtime":{"a.dll":{}}}}},' +
      '"libraries":{"__proto__/1.0.0":{"type":"package"},"constructor/1.0.0":{"type":"package"},"bad":{"type":"package"},' +
      '"x/":{"type":"package"},"y/1":"string","z/1.0.0":{"type":"unknown"}}}';
    const result = parseDeployed(JSON.parse(text), 'x.deps.json');
    assert.deepEqual(names(result), ['__proto__@1.0.0', 'constructor@1.0.0']);
    assert.equal(result.problems.length, 3, result.problems.join('\n'));
    assert.equal(({} as Record<string, unknown>)['runtime'], undefined);
  });

  it('throws on documents that are no deps.json', () => {
    assert.throws(() => parseDeployed([], 'x.deps.json'), /not a JSON object/);
    assert.throws(() => parseDeployed({ name: 'x' }, 'x.deps.json'), /no "libraries"/);
  });
});

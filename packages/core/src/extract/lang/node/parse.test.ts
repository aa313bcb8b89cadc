import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import type { NodeRecord, ParseResult } from './common.js';
import { cleanVersion, licensesOf, resolvedSource, sourceKind, validName } from './common.js';
import { parseNpmLock } from './npm-lock.js';
import { parseInstalledPackageJson } from './package-json.js';
import { parsePnpmLock, splitDocuments } from './pnpm-lock.js';
import { parseNodeVersionHeader } from './runtime.js';
import { parseYarnLock } from './yarn-lock.js';

const text = (name: string): string => readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8');

function parseLock(file: string): ParseResult {
  if (file.endsWith('package-lock.json')) return parseNpmLock(text(file));
  if (file.endsWith('yarn.lock')) return parseYarnLock(text(file));
  return parsePnpmLock(text(file));
}

const ids = (records: readonly NodeRecord[]): string[] => records.map((r) => `${r.name}@${r.version}`).sort();
const withMeta = (records: readonly NodeRecord[], key: string): string[] => ids(records.filter((r) => r.metadata[key] !== undefined));
const find = (records: readonly NodeRecord[], id: string): NodeRecord | undefined => records.find((r) => `${r.name}@${r.version}` === id);

const APP_LOCKS = [
  'npm6.package-lock.json',
  'npm8.package-lock.json',
  'npm11.package-lock.json',
  'yarn1.yarn.lock',
  'yarn4.yarn.lock',
  'pnpm7.pnpm-lock.yaml',
  'pnpm8.pnpm-lock.yaml',
  'pnpm9.pnpm-lock.yaml',
];

describe('lock files of one app, written by every tool', () => {
  const reference = ids(parseLock('app/npm11.package-lock.json').records);

  it('all give the same 80 packages (the file: dependency left out)', () => {
    assert.equal(reference.length, 80);
    assert.ok(!reference.some((id) => id.startsWith('local-lib@')));
    for (const file of APP_LOCKS) {
      const { records, problems } = parseLock(`app/${file}`);
      assert.deepEqual(problems, [], file);
      assert.deepEqual(ids(records), reference, file);
    }
  });

  it('keeps nested copies of other versions and merges copies of one version', () => {
    for (const id of ['debug@2.6.9', 'debug@4.3.4', 'ms@2.0.0', 'ms@2.1.2', 'ms@2.1.3', 'minimist@0.0.8', 'lodash@4.17.15', '@types/node@20.11.0']) {
      assert.ok(reference.includes(id), id);
    }
    assert.equal(new Set(reference).size, reference.length);
  });

  it('marks dev-only packages where the lockfile says so (npm, pnpm 5/6 flags, pnpm 9 graph)', () => {
    for (const file of APP_LOCKS.filter((f) => !f.startsWith('yarn'))) {
      assert.deepEqual(withMeta(parseLock(`app/${file}`).records, 'dev'), ['debug@4.3.4', 'is-number@7.0.0', 'ms@2.1.2'], file);
    }
    // yarn records no dev flag
    assert.deepEqual(withMeta(parseLock('app/yarn1.yarn.lock').records, 'dev'), []);
    assert.deepEqual(withMeta(parseLock('app/yarn4.yarn.lock').records, 'dev'), []);
  });

  it('takes licences from v2/v3 package-locks', () => {
    const { records } = parseLock('app/npm11.package-lock.json');
    assert.deepEqual(find(records, 'express@4.18.2')?.licenses, ['MIT']);
    assert.ok(records.every((r) => r.licenses.length > 0));
  });
});

describe('lock files with aliases, workspaces, platform packages, peers and patches', () => {
  const files = APP_LOCKS.filter((f) => f !== 'npm8.package-lock.json');

  it('agree on the packages (npm 6 knows no workspaces: it misses the workspace dependency)', () => {
    const reference = ids(parseLock('edge/npm11.package-lock.json').records);
    assert.equal(reference.length, 39);
    for (const file of files) {
      const { records, problems } = parseLock(`edge/${file}`);
      assert.deepEqual(problems, [], file);
      const expected = file.startsWith('npm6') ? reference.filter((id) => !id.startsWith('is-odd@') && !id.startsWith('is-number@')) : reference;
      assert.deepEqual(ids(records), expected, file);
    }
    assert.ok(reference.includes('is-odd@3.0.1'), 'the workspace package depends on it');
    assert.ok(!reference.some((id) => id.startsWith('ws-a@') || id.startsWith('edge-app@')), 'workspaces are the app itself');
  });

  it('names aliased packages by their real name', () => {
    for (const file of files) {
      const records = parseLock(`edge/${file}`).records;
      assert.ok(find(records, 'lodash@4.17.21'), file);
      assert.ok(!records.some((r) => r.name === 'my-lodash'), file);
    }
    assert.equal(find(parseLock('edge/npm11.package-lock.json').records, 'lodash@4.17.21')?.metadata['installedAs'], 'my-lodash');
    assert.equal(find(parseLock('edge/npm6.package-lock.json').records, 'lodash@4.17.21')?.metadata['installedAs'], 'my-lodash');
  });

  it('strips pnpm peer suffixes (v5 `_react@18.2.0`, v6/v9 `(react@18.2.0)`)', () => {
    assert.match(text('edge/pnpm7.pnpm-lock.yaml'), /\/react-dom\/18\.2\.0_react@18\.2\.0:/);
    assert.match(text('edge/pnpm8.pnpm-lock.yaml'), /\/react-dom@18\.2\.0\(react@18\.2\.0\):/);
    assert.match(text('edge/pnpm9.pnpm-lock.yaml'), /react-dom@18\.2\.0\(react@18\.2\.0\):/);
    for (const v of [7, 8, 9]) assert.ok(find(parseLock(`edge/pnpm${v}.pnpm-lock.yaml`).records, 'react-dom@18.2.0'));
  });

  it('marks platform-specific optional packages with their platform', () => {
    for (const file of ['npm11.package-lock.json', 'yarn4.yarn.lock', 'pnpm7.pnpm-lock.yaml', 'pnpm8.pnpm-lock.yaml', 'pnpm9.pnpm-lock.yaml']) {
      const records = parseLock(`edge/${file}`).records;
      assert.equal(withMeta(records, 'platform').length, 23, file);
      assert.equal(find(records, '@esbuild/darwin-arm64@0.19.12')?.metadata['platform'], 'os=darwin & cpu=arm64', file);
      assert.equal(find(records, 'esbuild@0.19.12')?.metadata['platform'], undefined, file);
    }
    for (const file of ['npm11.package-lock.json', 'npm6.package-lock.json', 'pnpm7.pnpm-lock.yaml', 'pnpm8.pnpm-lock.yaml', 'pnpm9.pnpm-lock.yaml']) {
      const records = parseLock(`edge/${file}`).records;
      assert.equal(find(records, '@esbuild/linux-x64@0.19.12')?.metadata['optional'], 'true', file);
      assert.equal(find(records, 'esbuild@0.19.12')?.metadata['optional'], undefined, file);
      assert.deepEqual(withMeta(records, 'dev'), ['minimist@1.2.8'], file);
    }
  });

  it('marks yarn berry patches (resolve is patched by yarn itself)', () => {
    const records = parseLock('edge/yarn4.yarn.lock').records;
    assert.equal(records.filter((r) => r.name === 'resolve').length, 1);
    assert.equal(find(records, 'resolve@1.22.8')?.metadata['patched'], 'true');
  });
});

describe('package-lock details', () => {
  it('reads the hidden lockfile (what npm put on disk: no dev packages)', () => {
    const { records, problems } = parseNpmLock(text('installed/hidden.package-lock.json'));
    assert.deepEqual(problems, []);
    assert.equal(records.length, 80);
    assert.ok(find(records, 'lodash@4.17.15') && find(records, 'lodash@4.17.21') && find(records, 'minimist@0.0.8'));
    assert.deepEqual(withMeta(records, 'dev'), []);
  });

  it('skips links, workspace folders and file: packages; marks git sources', () => {
    const lock = JSON.stringify({
      lockfileVersion: 3,
      packages: {
        '': { name: 'app', version: '1.0.0' },
        'packages/ws': { name: 'ws', version: '1.0.0' },
        'node_modules/ws': { resolved: 'packages/ws', link: true },
        'node_modules/tgz': { version: '1.0.0', resolved: 'file:../tgz-1.0.0.tgz' },
        'node_modules/forked': { version: '2.0.0', resolved: 'git+ssh://git@github.com/u/forked.git#0123456789abcdef' },
        'node_modules/tarball': { version: '3.0.0', resolved: 'https://example.com/tarball-3.0.0.tgz' },
        'packages/ws/node_modules/dep': { version: '4.0.0', resolved: 'https://registry.npmjs.org/dep/-/dep-4.0.0.tgz' },
        'node_modules/@scope/pkg': { version: '5.0.0', dev: true, optional: true, os: ['linux'], cpu: ['x64', 'arm64'] },
      },
    });
    const { records, problems } = parseNpmLock(lock);
    assert.deepEqual(problems, []);
    assert.deepEqual(ids(records), ['@scope/pkg@5.0.0', 'dep@4.0.0', 'forked@2.0.0', 'tarball@3.0.0']);
    assert.equal(find(records, 'forked@2.0.0')?.metadata['source'], 'git');
    assert.equal(find(records, 'tarball@3.0.0')?.metadata['source'], 'url');
    assert.deepEqual(find(records, '@scope/pkg@5.0.0')?.metadata, { dev: 'true', optional: 'true', platform: 'os=linux & cpu=x64|arm64' });
  });

  it('a package is dev only if every copy is', () => {
    const lock = JSON.stringify({
      lockfileVersion: 3,
      packages: {
        'node_modules/a/node_modules/ms': { version: '2.0.0', dev: true },
        'node_modules/b/node_modules/ms': { version: '2.0.0' },
        'node_modules/c/node_modules/ms': { version: '2.0.0', dev: true },
      },
    });
    assert.deepEqual(parseNpmLock(lock).records, [{ name: 'ms', version: '2.0.0', licenses: [], metadata: {} }]);
  });

  it('reads v1 aliases and skips v1 git/file versions', () => {
    const lock = JSON.stringify({
      lockfileVersion: 1,
      dependencies: {
        alias: { version: 'npm:@scope/real@1.2.3' },
        local: { version: 'file:../local' },
        gitdep: { version: 'github:user/repo#abcdef', from: 'github:user/repo' },
        plain: { version: '1.0.0', dev: true, dependencies: { nested: { version: '2.0.0', optional: true } } },
      },
    });
    const { records, problems } = parseNpmLock(lock);
    assert.deepEqual(problems, []);
    assert.deepEqual(ids(records), ['@scope/real@1.2.3', 'nested@2.0.0', 'plain@1.0.0']);
    assert.equal(find(records, '@scope/real@1.2.3')?.metadata['installedAs'], 'alias');
    assert.equal(find(records, 'nested@2.0.0')?.metadata['optional'], 'true');
  });
});

describe('yarn.lock details', () => {
  it('classic: aliases by real name, local and git sources', () => {
    const lock = [
      '# yarn lockfile v1',
      '',
      '"string-width-cjs@npm:string-width@^4.2.0", string-width@^4.1.0:',
      '  version "4.2.3"',
      '  resolved "https://registry.yarnpkg.com/string-width/-/string-width-4.2.3.tgz#269c7117d27b05ad2e536830a8ec895ef9c6d010"',
      '',
      '"local@file:./local":',
      '  version "0.1.0"',
      '',
      '"forked@git+https://github.com/u/forked.git#abc":',
      '  version "2.0.0"',
      '  resolved "git+https://github.com/u/forked.git#abc"',
      '',
      'fromgithub@user/repo:',
      '  version "3.0.0"',
      '  resolved "https://codeload.github.com/user/repo/tar.gz/0123456"',
      '',
    ].join('\n');
    const { records, problems } = parseYarnLock(lock);
    assert.deepEqual(problems, []);
    assert.deepEqual(ids(records), ['forked@2.0.0', 'fromgithub@3.0.0', 'string-width@4.2.3']);
    assert.equal(find(records, 'forked@2.0.0')?.metadata['source'], 'git');
    assert.equal(find(records, 'fromgithub@3.0.0')?.metadata['source'], 'url');
  });

  it('berry: skips workspaces, file and link entries, keeps the platform condition', () => {
    const { records } = parseYarnLock(text('edge/yarn4.yarn.lock'));
    assert.ok(!records.some((r) => r.name === 'edge-app' || r.name === 'ws-a'));
    const app = parseYarnLock(text('app/yarn4.yarn.lock')).records;
    assert.ok(!app.some((r) => r.name === 'local-lib' || r.name === 'fixture-app'));
  });

  it('throws on text that is neither form', () => {
    assert.throws(() => parseYarnLock('# yarn lockfile v1\n\nfoo@^1:\n  version 1.10\n'), /yarn\.lock \(classic\)/);
    assert.throws(() => parseYarnLock('__metadata:\n  version: 6\n"a@npm:1": [[[\n'), /yarn\.lock \(berry\)/);
  });
});

describe('pnpm-lock details', () => {
  it('reads every document of a two-document lockfile and marks the env document', () => {
    const env = "---\nlockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    configDependencies: {}\n    packageManagerDependencies:\n      pnpm:\n        specifier: 12.0.0\n        version: 12.0.0\n\npackages:\n\n  pnpm@12.0.0:\n    resolution: {integrity: sha512-x}\n\nsnapshots:\n\n  pnpm@12.0.0: {}\n";
    const main = "---\nlockfileVersion: '9.0'\n\nimporters:\n\n  .:\n    dependencies:\n      is-odd:\n        specifier: 3.0.1\n        version: 3.0.1\n\npackages:\n\n  is-odd@3.0.1:\n    resolution: {integrity: sha512-y}\n\nsnapshots:\n\n  is-odd@3.0.1: {}\n";
    assert.equal(splitDocuments(env + main).length, 2);
    const { records, problems } = parsePnpmLock(env + main);
    assert.deepEqual(problems, []);
    assert.deepEqual(ids(records), ['is-odd@3.0.1', 'pnpm@12.0.0']);
    assert.equal(find(records, 'pnpm@12.0.0')?.metadata['pnpmEnv'], 'true');
    assert.equal(find(records, 'is-odd@3.0.1')?.metadata['pnpmEnv'], undefined);
  });

  it('keeps versions as strings and identifies git and tarball packages by their name/version fields', () => {
    const lock = [
      "lockfileVersion: '6.0'",
      'packages:',
      '  /a@1.10.0:',
      '    resolution: {integrity: sha512-x}',
      '    dev: false',
      '  github.com/user/forked/0123456:',
      '    resolution: {tarball: https://codeload.github.com/user/forked/tar.gz/0123456}',
      '    name: forked',
      '    version: 2.0.0',
      '    dev: true',
      '  file:local:',
      '    resolution: {directory: local, type: directory}',
      '    name: local',
      '    version: 0.1.0',
      '',
    ].join('\n');
    const { records, problems } = parsePnpmLock(lock);
    assert.deepEqual(problems, []);
    assert.deepEqual(ids(records), ['a@1.10.0', 'forked@2.0.0']);
    assert.deepEqual(find(records, 'forked@2.0.0')?.metadata, { dev: 'true', source: 'url' });
  });

  it('reads a v9 lockfile in which an alias points at the real package', () => {
    const lock = [
      "lockfileVersion: '9.0'",
      'importers:',
      '  .:',
      '    devDependencies:',
      '      sw:',
      '        specifier: npm:string-width@4.2.3',
      '        version: string-width@4.2.3',
      'packages:',
      '  string-width@4.2.3:',
      '    resolution: {integrity: sha512-x}',
      'snapshots:',
      '  string-width@4.2.3: {}',
      '',
    ].join('\n');
    assert.deepEqual(parsePnpmLock(lock).records, [{ name: 'string-width', version: '4.2.3', licenses: [], metadata: { dev: 'true' } }]);
  });
});

describe('installed package.json', () => {
  it('reads name, version and licence in their current and legacy forms', () => {
    const cases: [string, string | null, string, string[]][] = [
      ['installed/lodash.package.json', 'lodash', 'lodash@4.17.15', ['MIT']],
      ['installed/types-node.package.json', '@types/node', '@types/node@20.11.0', ['MIT']],
      ['installed/utils-merge.package.json', 'utils-merge', 'utils-merge@1.0.1', ['MIT']],
      ['installed/npm6-minimist.package.json', 'minimist', 'minimist@0.0.8', ['MIT']],
    ];
    for (const [file, pathName, id, licenses] of cases) {
      const { records, problems } = parseInstalledPackageJson(text(file), pathName);
      assert.deepEqual(problems, [], file);
      assert.deepEqual(ids(records), [id], file);
      assert.deepEqual(records[0]?.licenses, licenses, file);
    }
  });

  it('names an aliased install by its real name', () => {
    const { records } = parseInstalledPackageJson(text('installed/my-lodash.package.json'), 'my-lodash');
    assert.deepEqual(records, [{ name: 'lodash', version: '4.17.21', licenses: ['MIT'], metadata: { installedAs: 'my-lodash' } }]);
  });

  it('falls back to the directory name, skips non-packages, reports bad JSON and odd versions', () => {
    assert.deepEqual(ids(parseInstalledPackageJson('{"version":"1.0.0"}', '@s/x').records), ['@s/x@1.0.0']);
    const badName = parseInstalledPackageJson('{"name":"has space","version":"1.0.0"}', 'x');
    assert.deepEqual(ids(badName.records), ['x@1.0.0']);
    assert.match(badName.problems[0] ?? '', /unusable name/);
    assert.deepEqual(parseInstalledPackageJson('{"type":"module"}', 'x'), { records: [], problems: [] });
    assert.deepEqual(parseInstalledPackageJson('{"name":"x","private":true}', 'x'), { records: [], problems: [] });
    assert.match(parseInstalledPackageJson('{"name":"x",', 'x').problems[0] ?? '', /invalid JSON/);
    assert.match(parseInstalledPackageJson('[1]', 'x').problems[0] ?? '', /not a JSON object/);
    const numeric = parseInstalledPackageJson('{"name":"x","version":1.1}', 'x');
    assert.deepEqual(numeric.records, []);
    assert.match(numeric.problems[0] ?? '', /unusable version of type number/);
    assert.deepEqual(ids(parseInstalledPackageJson('\ufeff{"name":"bom","version":"1.0.0"}', null).records), ['bom@1.0.0']);
  });

  it('licence forms', () => {
    assert.deepEqual(licensesOf('MIT', undefined), ['MIT']);
    assert.deepEqual(licensesOf({ type: 'BSD', url: 'x' }, undefined), ['BSD']);
    assert.deepEqual(licensesOf(undefined, [{ type: 'MIT' }, 'Apache-2.0', { type: 'MIT' }, 7]), ['MIT', 'Apache-2.0']);
    assert.deepEqual(licensesOf(' ', null), []);
  });
});

describe('names, versions, sources', () => {
  it('validates npm names and versions', () => {
    for (const ok of ['lodash', '@types/node', 'JSONStream', 'lodash.merge', '@a/b-c_d']) assert.ok(validName(ok), ok);
    for (const bad of ['', '@types', '@/x', 'a/b', '@a/b/c', 'has space', 'x\n', '.', '..', 'a'.repeat(300)]) assert.ok(!validName(bad), bad);
    assert.equal(cleanVersion(' 1.0.0 '), '1.0.0');
    for (const bad of [1, null, {}, '', '1.0 beta', 'a\u0000b', 'x'.repeat(300)]) assert.equal(cleanVersion(bad), null);
  });

  it('tells registry, local, git and URL sources apart', () => {
    assert.equal(sourceKind('npm:4.17.21'), 'registry');
    assert.equal(sourceKind('^1.0.0'), 'registry');
    assert.equal(sourceKind('patch:resolve@npm%3A1.22.8#~builtin<compat/resolve>'), 'registry');
    for (const local of ['workspace:.', 'file:./x', 'link:../x', 'portal:../x', 'exec:./gen.js', './x']) assert.equal(sourceKind(local), 'local', local);
    assert.equal(sourceKind('https://github.com/u/r.git#commit=abc'), 'git');
    assert.equal(sourceKind('github:u/r'), 'git');
    assert.equal(sourceKind('https://example.com/x.tgz'), 'url');
    assert.equal(resolvedSource('https://registry.npmjs.org/@types/node/-/node-20.11.0.tgz'), 'registry');
    assert.equal(resolvedSource('https://artifactory.example.com/api/npm/npm/x/-/x-1.0.0.tgz'), 'registry');
    assert.equal(resolvedSource(''), 'registry');
    assert.equal(resolvedSource('file:../x.tgz'), 'local');
    assert.equal(resolvedSource('git+ssh://git@github.com/u/r.git#abc'), 'git');
  });
});

describe('node_version.h', () => {
  it('reads the official build and Debian headers', () => {
    assert.deepEqual(parseNodeVersionHeader(text('runtime/official-20.11.0.node_version.h')), { version: '20.11.0', ltsCodename: 'Iron' });
    assert.deepEqual(parseNodeVersionHeader(text('runtime/debian-18.20.4.node_version.h')), { version: '18.20.4', ltsCodename: 'Hydrogen' });
  });

  it('marks pre-release builds and rejects other headers', () => {
    const pre = text('runtime/official-20.11.0.node_version.h').replace('#define NODE_VERSION_IS_RELEASE 1', '#define NODE_VERSION_IS_RELEASE 0');
    assert.equal(parseNodeVersionHeader(pre)?.version, '20.11.0-pre');
    assert.equal(parseNodeVersionHeader('#define NODE_MAJOR_VERSION 20\n#define NODE_MINOR_VERSION x\n'), null);
    assert.equal(parseNodeVersionHeader(''), null);
  });
});

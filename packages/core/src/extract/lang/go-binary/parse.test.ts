import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { goScheme } from '../../../version/go.js';
import { goPackages, ldflagsAssignments, ldflagsVersion, parseModInfo, quotedPrefix, splitFlags, stdlibVersion, vcsPseudoVersion } from './parse.js';

const line = (...f: string[]): string => f.join('\t');

describe('module info', () => {
  it('reads path, main module, deps with sums, replacements and build settings', () => {
    const text = [
      line('path', 'example.com/app/cmd/app'),
      line('mod', 'example.com/app', 'v1.2.3', 'h1:main='),
      line('dep', 'github.com/a/b', 'v0.1.0', 'h1:ab='),
      line('dep', 'github.com/c/d', 'v0.2.0'),
      line('=>', 'github.com/e/d', 'v0.2.1', 'h1:ed='),
      line('build', '-compiler=gc'),
      line('build', '-ldflags="-s -w"'),
      line('build', '"quoted key"=`raw value`'),
      '',
    ].join('\n');
    const info = parseModInfo(text);
    assert.deepEqual(info.problems, []);
    assert.equal(info.path, 'example.com/app/cmd/app');
    assert.deepEqual(info.main, { path: 'example.com/app', version: 'v1.2.3', sum: 'h1:main=', replace: null });
    assert.deepEqual(info.deps, [
      { path: 'github.com/a/b', version: 'v0.1.0', sum: 'h1:ab=', replace: null },
      { path: 'github.com/c/d', version: 'v0.2.0', sum: '', replace: { path: 'github.com/e/d', version: 'v0.2.1', sum: 'h1:ed=' } },
    ]);
    assert.deepEqual(info.settings, [
      ['-compiler', 'gc'],
      ['-ldflags', '-s -w'],
      ['quoted key', 'raw value'],
    ]);
  });

  it('ignores an unterminated last line and unknown kinds, as Go does', () => {
    const info = parseModInfo(`${line('path', 'x')}\n${line('future', 'thing')}\n\n${line('dep', 'a.b/c', 'v1.0.0')}`);
    assert.equal(info.path, 'x');
    assert.deepEqual(info.deps, []);
    assert.deepEqual(info.problems, []);
  });

  it('reports malformed lines and keeps the rest', () => {
    const info = parseModInfo(
      [line('dep', 'ok.com/x', 'v1.0.0'), line('dep', 'too', 'many', 'cols', 'here'), line('=>', 'orphan', 'v1', ''), line('dep', 'has space', 'v1'), line('build', 'noequals'), line('build', '=v'), line('build', 'k="unterminated'), line('dep', 'ok.com/y', 'v2.0.0'), ''].join('\n'),
    );
    assert.deepEqual(info.deps.map((d) => d.path), ['ok.com/x', 'ok.com/y']);
    assert.equal(info.problems.length, 6, info.problems.join('\n'));
    assert.match(info.problems[0]!, /line 2: expected 2 or 3 columns, got 4/);
    assert.match(info.problems[1]!, /line 3: replacement with no module above it/);
  });

  it('does not choke on binary junk', () => {
    const info = parseModInfo('\u0000\u0001\t\t\n\udc00dep\t\t\n=>\n');
    assert.deepEqual(info.deps, []);
  });
});

describe('Go quoting', () => {
  it('unquotes Go string literals', () => {
    assert.deepEqual(quotedPrefix('"a\\tb\\"c\\\\"=rest'), { length: 11, value: 'a\tb"c\\' });
    assert.deepEqual(quotedPrefix('"\\x41\\101\\u00e9\\U0001F600"'), { length: 26, value: 'AAé😀' });
    assert.deepEqual(quotedPrefix('`raw \\n`x'), { length: 8, value: 'raw \\n' });
    assert.equal(quotedPrefix('"open'), null);
    assert.equal(quotedPrefix('"bad \\q"'), null);
    assert.equal(quotedPrefix('"\\ud800"'), null);
  });
});

describe('main module version from -ldflags', () => {
  it('splits flags the way the go command does', () => {
    assert.deepEqual(splitFlags(` \t-s  -w -X "a.b=c d" -X 'e.f=g'`), ['-s', '-w', '-X', 'a.b=c d', '-X', 'e.f=g']);
    assert.deepEqual(ldflagsAssignments('-X=main.version=1.0.0 --X main.commit=abc -X main.v=\'2\' -X'), [
      { name: 'main.version', value: '1.0.0' },
      { name: 'main.commit', value: 'abc' },
      { name: 'main.v', value: '2' },
    ]);
  });

  it('takes a version-named variable with a semantic version, preferring the main module and main package', () => {
    // real: kpt (gcloud SDK), docker CLI, cbt
    assert.deepEqual(ldflagsVersion('-s -w -X github.com/GoogleContainerTools/kpt/run.version=1.0.0-beta.56 -extldflags "-z noexecstack"', 'github.com/GoogleContainerTools/kpt', 'github.com/GoogleContainerTools/kpt'), {
      version: 'v1.0.0-beta.56',
      variable: 'github.com/GoogleContainerTools/kpt/run.version',
    });
    assert.deepEqual(ldflagsVersion(' -X "github.com/docker/cli/cli/version.GitCommit=e6534b4" -X "github.com/docker/cli/cli/version.Version=28.2.2" -extldflags -static', 'github.com/docker/cli', 'github.com/docker/cli/cmd/docker')?.version, 'v28.2.2');
    assert.deepEqual(ldflagsVersion('-X "main.version=1.23.2" -X "main.revision=9eeb4a7" -X "main.revisionDate=2025-04-22 20:49:45"', 'cloud.google.com/go/cbt', 'cloud.google.com/go/cbt')?.version, 'v1.23.2');
    // a dependency's version variable loses to the main package's
    assert.deepEqual(ldflagsVersion('-X github.com/lib/x.Version=9.9.9 -X main.appVersion=v1.0.1', 'example.com/app', 'example.com/app'), { version: 'v1.0.1', variable: 'main.appVersion' });
    // gitTag is taken only when nothing better exists
    assert.equal(ldflagsVersion('-X anthoscli/pkg/commands/version.anthoscliVersion=beta -X anthoscli/pkg/commands/version.gitTag=0.2.56', 'x', 'command-line-arguments')?.version, 'v0.2.56');
  });

  it('rejects values that are not versions and names that are not version variables', () => {
    assert.equal(ldflagsVersion('-X main.version=dev -X main.version=1.2 -X main.commit=1.2.3 -X main.goVersion=1.21.0', 'a', 'a'), null);
    assert.equal(ldflagsVersion('', 'a', 'a'), null);
  });
});

describe('pseudo-version from VCS stamps', () => {
  it('formats v0.0.0-UTC timestamp-12 hex', () => {
    assert.equal(vcsPseudoVersion('04ef75fd7ff534a636962f14e11d224c84aa2020', '2022-08-08T14:19:30Z'), 'v0.0.0-20220808141930-04ef75fd7ff5');
    assert.equal(vcsPseudoVersion('ABCDEF0123456789', '2024-01-01T01:00:00+02:00'), 'v0.0.0-20231231230000-abcdef012345');
    assert.equal(vcsPseudoVersion('1234', '2024-01-01T00:00:00Z'), null); // svn-style revision
    assert.equal(vcsPseudoVersion('abcdefabcdefabcdef', 'yesterday'), null);
  });
});

describe('stdlib version', () => {
  it('maps toolchain versions to v-prefixed SemVer', () => {
    assert.equal(stdlibVersion('go1.21.3'), 'v1.21.3');
    assert.equal(stdlibVersion('go1.19'), 'v1.19.0');
    assert.equal(stdlibVersion('go1.21rc2'), 'v1.21.0-rc.2');
    assert.equal(stdlibVersion('go1.22.1 X:boringcrypto'), 'v1.22.1');
    assert.equal(stdlibVersion('go1.22-20231128-RC02 cl/586117301 +6111acc8e6 X:fieldtrack,boringcrypto'), 'v1.22.0');
    assert.equal(stdlibVersion('devel go1.23-abcdef Tue Jan 1'), null);
    assert.equal(stdlibVersion('go1.2x'), null);
    assert.equal(stdlibVersion(''), null);
  });

  it('compares equal to the Go vulndb spelling under the golang scheme', () => {
    assert.equal(goScheme.compare(stdlibVersion('go1.21.3')!, '1.21.3'), 0);
    assert.equal(goScheme.compare(stdlibVersion('go1.21rc2')!, '1.21.0-0'), 1);
    assert.equal(goScheme.compare(stdlibVersion('go1.21rc2')!, '1.21.0'), -1);
  });
});

describe('packages of a binary', () => {
  const info = (lines: string[]): ReturnType<typeof parseModInfo> => parseModInfo(lines.join('\n') + '\n');

  it('reports main module, deps with replacements applied and stdlib, all with goVersion', () => {
    const pkgs = goPackages(
      'go1.21.3',
      info([
        line('path', 'example.com/app'),
        line('mod', 'example.com/app', 'v1.0.0', ''),
        line('dep', 'github.com/old/x', 'v1.0.0', 'h1:old='),
        line('=>', 'github.com/new/x', 'v1.0.5', 'h1:new='),
        line('dep', 'example.com/app/internal', 'v0.0.0-00010101000000-000000000000'),
        line('=>', './internal', '(devel)', ''),
        line('dep', 'github.com/plain/y', 'v2.0.0+incompatible', 'h1:y='),
      ]),
    );
    assert.deepEqual(pkgs, [
      { type: 'golang', name: 'example.com/app', version: 'v1.0.0', evidence: 'binary', identifiedBy: 'buildinfo', metadata: { goVersion: 'go1.21.3' } },
      { type: 'golang', name: 'github.com/new/x', version: 'v1.0.5', evidence: 'binary', identifiedBy: 'buildinfo', metadata: { goVersion: 'go1.21.3', originalPath: 'github.com/old/x', originalVersion: 'v1.0.0', sum: 'h1:new=' } },
      { type: 'golang', name: 'example.com/app/internal', version: '(devel)', evidence: 'binary', identifiedBy: 'buildinfo', metadata: { goVersion: 'go1.21.3', originalVersion: 'v0.0.0-00010101000000-000000000000', replacedBy: './internal' } },
      { type: 'golang', name: 'github.com/plain/y', version: 'v2.0.0+incompatible', evidence: 'binary', identifiedBy: 'buildinfo', metadata: { goVersion: 'go1.21.3', sum: 'h1:y=' } },
      { type: 'golang', name: 'stdlib', version: 'v1.21.3', evidence: 'binary', identifiedBy: 'buildinfo', metadata: { goVersion: 'go1.21.3' } },
    ]);
  });

  it('derives a (devel) main version from -ldflags first, then VCS, else keeps (devel)', () => {
    const vcs = [line('build', 'vcs=git'), line('build', 'vcs.revision=0123456789abcdef0123456789abcdef01234567'), line('build', 'vcs.time=2024-03-01T10:20:30Z'), line('build', 'vcs.modified=true')];
    const main = [line('path', 'example.com/app/cmd/app'), line('mod', 'example.com/app', '(devel)', '')];
    const both = goPackages('go1.22.0', info([...main, line('build', '-ldflags="-X example.com/app/version.Version=2.1.0"'), ...vcs]))[0]!;
    assert.equal(both.version, 'v2.1.0');
    assert.equal(both.identifiedBy, 'ldflags');
    assert.equal(both.metadata?.['versionFrom'], 'ldflags');
    assert.equal(both.metadata?.['ldflagsVariable'], 'example.com/app/version.Version');
    assert.equal(both.metadata?.['vcsRevision'], '0123456789abcdef0123456789abcdef01234567');
    const fromVcs = goPackages('go1.22.0', info([...main, ...vcs]))[0]!;
    assert.deepEqual([fromVcs.version, fromVcs.identifiedBy, fromVcs.metadata?.['versionFrom'], fromVcs.metadata?.['vcsModified']], ['v0.0.0-20240301102030-0123456789ab', 'vcs', 'vcs', 'true']);
    const devel = goPackages('go1.22.0', info(main))[0]!;
    assert.deepEqual([devel.version, devel.identifiedBy, devel.metadata?.['versionFrom']], ['(devel)', 'buildinfo', undefined]);
  });

  it('reports no main module for GOPATH builds and no stdlib for development toolchains', () => {
    assert.deepEqual(goPackages('go1.19.8', info([line('path', 'github.com/opencontainers/runc'), line('build', '-compiler=gc')])).map((p) => `${p.name}@${p.version}`), ['stdlib@v1.19.8']);
    assert.deepEqual(goPackages('devel go1.23-abc', info([line('path', 'x'), line('mod', 'x', 'v1.0.0')])).map((p) => p.name), ['x']);
  });
});

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sourceForTarget } from '../image/sources/target.js';
import { DEFAULT_PLATFORM } from '../image/sources/oci-manifest.js';
import type { ScanReport } from '../model/report.js';
import { scanImage } from '../scan.js';
import { writeDockerArchive, type EntrySpec } from '../testing/image-builder.js';
import { validateReport } from '../testing/report-schema.js';
import { probeContainerBody, DEFAULT_CONTAINER_LIMITS, LABEL_DEADLINE, LABEL_DYNAMIC } from './container.js';
import { applyDynamicAnswers } from './merge.js';
import { parseApkInfo, parseDpkgQuery, parseProbeOutput, parseRpmQuery, PROBE_SCRIPT } from './probe.js';
import { answersOf } from './scan.js';

describe('the probe script and its output', () => {
  it('is valid POSIX sh and frames each tool with its exit status', () => {
    execFileSync('sh', ['-n', '-c', PROBE_SCRIPT]); // syntax check
    // run it on this machine (Debian: dpkg-query is here) with only dpkg-query on PATH
    const bin = execFileSync('sh', ['-c', 'command -v dpkg-query'], { encoding: 'utf8' }).trim();
    const out = execFileSync('sh', ['-c', PROBE_SCRIPT], { encoding: 'utf8', env: { PATH: bin.slice(0, bin.lastIndexOf('/')) + ':/bin' }, maxBuffer: 1 << 26 });
    const probe = parseProbeOutput(out);
    assert.equal(probe.done, true);
    assert.equal(probe.foundManager, true);
    const dpkg = probe.sections.find((s) => s.tool === 'dpkg');
    assert.equal(dpkg?.exitCode, 0);
    const { packages } = parseDpkgQuery(dpkg!.lines);
    assert.ok(packages.some((p) => p.name === 'dpkg' && p.type === 'deb'), 'the host lists dpkg itself');
  });

  it('recognises cut-off output and failing tools', () => {
    const cut = parseProbeOutput('@@tally begin dpkg\nbash\t5.2\tamd64\t\tinstall ok installed\n');
    assert.deepEqual(cut, { sections: [{ tool: 'dpkg', exitCode: null, lines: ['bash\t5.2\tamd64\t\tinstall ok installed'] }], done: false, foundManager: false });
    const failed = parseProbeOutput('@@tally begin rpm\n\n@@tally end rpm 1\n@@tally done 1\n');
    const { answers, issues } = answersOf(failed, 'error: rpmdb: cannot open Packages\n');
    assert.deepEqual(answers, []);
    assert.match(issues[0]!.message, /rpm failed in the container \(it exited with status 1\): error: rpmdb: cannot open Packages/);
    assert.deepEqual(parseProbeOutput('@@tally done 0\n'), { sections: [], done: true, foundManager: false });
  });

  it('parses dpkg-query lines: source, arch, and only installed states', () => {
    const { packages, problems } = parseDpkgQuery([
      'bash\t5.2.15-2+b13\tamd64\tbash (5.2.15-2)\tinstall ok installed',
      'libc6\t2.36-9+deb12u4\tamd64\tglibc\tinstall ok installed',
      'libc6\t2.36-9+deb12u4\ti386\tglibc\tinstall ok installed',
      'gone\t1.0\tamd64\t\tdeinstall ok config-files',
      'half\t1.0\tall\t\tinstall reinstreq half-installed',
      'broken',
    ]);
    assert.deepEqual(
      packages.map((p) => [p.name, p.version, p.arch, p.source?.name, p.source?.version]),
      [
        ['bash', '5.2.15-2+b13', 'amd64', 'bash', '5.2.15-2'],
        ['libc6', '2.36-9+deb12u4', 'amd64', 'glibc', '2.36-9+deb12u4'],
        ['libc6', '2.36-9+deb12u4', 'i386', 'glibc', '2.36-9+deb12u4'],
        ['half', '1.0', 'all', 'half', '1.0'],
      ],
    );
    assert.equal(problems.length, 1);
  });

  it('parses rpm query lines with epochs, source rpms, and without gpg-pubkey', () => {
    const { packages } = parseRpmQuery([
      'openssl-libs\t1\t3.0.7\t27.el9\tx86_64\topenssl-3.0.7-27.el9.src.rpm\tApache-2.0\tAlmaLinux',
      'tally-hello\t(none)\t1.0\t1.el9\tnoarch\ttally-hello-1.0-1.el9.src.rpm\tMIT\t(none)',
      'tally-zero\t0\t1.0\t1.el9\tnoarch\t(none)\t(none)\t(none)',
      'gpg-pubkey\t(none)\tfd431d51\t4ae0493b\t(none)\t(none)\tpubkey\t(none)',
    ]);
    assert.deepEqual(packages, [
      { type: 'rpm', name: 'openssl-libs', version: '1:3.0.7-27.el9', arch: 'x86_64', source: { name: 'openssl', version: '3.0.7-27.el9' }, licenses: ['Apache-2.0'], vendor: 'AlmaLinux', epoch: '1' },
      { type: 'rpm', name: 'tally-hello', version: '1.0-1.el9', arch: 'noarch', source: { name: 'tally-hello', version: '1.0-1.el9' }, licenses: ['MIT'] },
      { type: 'rpm', name: 'tally-zero', version: '0:1.0-1.el9', arch: 'noarch', source: null, epoch: '0' },
    ]);
  });

  it('parses apk info -vv, completed from the installed database', () => {
    const db = 'P:musl\nV:1.2.4-r2\nA:x86_64\nL:MIT\no:musl\n\nP:libcrypto3\nV:3.1.4-r5\nA:x86_64\nL:Apache-2.0\no:openssl\n\n';
    const { packages, problems } = parseApkInfo(['musl-1.2.4-r2 - the musl c library (libc) implementation', 'libcrypto3-3.1.4-r5 - Crypto library from openssl', 'py3-foo-bar-2.0-r0 - not in the db', 'WARNING: something'], db);
    assert.deepEqual(packages, [
      { type: 'apk', name: 'musl', version: '1.2.4-r2', arch: 'x86_64', source: { name: 'musl', version: '1.2.4-r2' }, licenses: ['MIT'] },
      { type: 'apk', name: 'libcrypto3', version: '3.1.4-r5', arch: 'x86_64', source: { name: 'openssl', version: '3.1.4-r5' }, licenses: ['Apache-2.0'] },
      { type: 'apk', name: 'py3-foo-bar', version: '2.0-r0', arch: null, source: { name: 'py3-foo-bar', version: '2.0-r0' } },
    ]);
    assert.deepEqual(problems, []);
  });
});

describe('the container', () => {
  it('is hardened: no network, read-only root, no capabilities, limits, our entrypoint, labels', () => {
    const body = probeContainerBody('sha256:abc', DEFAULT_CONTAINER_LIMITS, 1000);
    const host = body['HostConfig'] as Record<string, unknown>;
    assert.deepEqual(body['Entrypoint'], ['/bin/sh', '-c', PROBE_SCRIPT]);
    assert.deepEqual(body['Cmd'], []);
    assert.equal(body['User'], '65534:65534');
    assert.equal(body['NetworkDisabled'], true);
    assert.equal(host['NetworkMode'], 'none');
    assert.equal(host['ReadonlyRootfs'], true);
    assert.equal(host['Privileged'], false);
    assert.deepEqual(host['CapDrop'], ['ALL']);
    assert.deepEqual(host['SecurityOpt'], ['no-new-privileges']);
    assert.equal(host['Memory'], 256 * 1024 * 1024);
    assert.equal(host['MemorySwap'], host['Memory']);
    assert.equal(host['PidsLimit'], 64);
    assert.equal(host['NanoCpus'], 1e9);
    const labels = body['Labels'] as Record<string, string>;
    assert.equal(labels[LABEL_DYNAMIC], '1');
    assert.equal(labels[LABEL_DEADLINE], String(1000 + DEFAULT_CONTAINER_LIMITS.timeLimitMs));
  });
});

describe('Dynamic packages in the report', () => {
  let dir: string;
  let report: ScanReport;
  const status = (pkgs: [string, string][]): string => pkgs.map(([n, v]) => `Package: ${n}\nStatus: install ok installed\nVersion: ${v}\nArchitecture: amd64\nSource: src-${n}\n`).join('\n');
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'tally-dynamic-test-'));
    const base: EntrySpec[] = [
      { name: 'usr/lib/os-release', content: 'ID=debian\nVERSION_ID="12"\n' },
      { name: 'etc/os-release', type: 'symlink', linkname: '../usr/lib/os-release' },
      { name: 'var/lib/dpkg/status', content: status([['base-files', '12.4'], ['stale', '1.0']]) },
      { name: 'var/lib/dpkg/status.d/tzdata', content: 'Package: tzdata\nVersion: 2024a\nArchitecture: all\n' },
    ];
    await writeDockerArchive(join(dir, 'img.tar'), {
      layers: [{ entries: base }, { entries: [{ name: 'var/lib/dpkg/status', content: status([['base-files', '12.4'], ['stale', '1.0'], ['jq', '1.6']]) }] }],
    });
    report = await scanImage(await sourceForTarget(join(dir, 'img.tar'), { platform: DEFAULT_PLATFORM, platformExplicit: false }), { tempRoot: dir });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('replaces the Static packages of the database the manager reads, keeping their layer and identity', () => {
    const answers = [
      {
        type: 'deb' as const,
        tool: 'dpkg-query',
        packages: [
          { type: 'deb' as const, name: 'base-files', version: '12.4', arch: 'amd64', source: { name: 'src-base-files', version: '12.4' } },
          { type: 'deb' as const, name: 'jq', version: '1.6', arch: 'amd64', source: { name: 'src-jq', version: '1.6' } },
          { type: 'deb' as const, name: 'runtime-only', version: '2.0', arch: 'amd64', source: null },
        ],
      },
    ];
    const merged = applyDynamicAnswers(report, answers);
    validateReport(merged);
    const view = merged.packages.map((p) => [p.name, p.scanType, p.layer.index, p.locations[0]]);
    assert.deepEqual(view, [
      ['base-files', 'Dynamic', 0, '/var/lib/dpkg/status'],
      ['tzdata', 'Static', 0, '/var/lib/dpkg/status.d/tzdata'],
      ['jq', 'Dynamic', 1, '/var/lib/dpkg/status'],
      ['runtime-only', 'Dynamic', 1, '/var/lib/dpkg/status'],
    ]);
    const jq = merged.packages.find((p) => p.name === 'jq')!;
    const staticJq = report.packages.find((p) => p.name === 'jq')!;
    assert.deepEqual({ ...jq, scanType: 'Static' }, staticJq, 'a confirmed package keeps everything but its scanType');
    const extra = merged.packages.find((p) => p.name === 'runtime-only')!;
    assert.equal(extra.purl, 'pkg:deb/debian/runtime-only@2.0?arch=amd64&distro=debian-12');
    assert.equal(extra.identifiedBy, 'dpkg-query');
    assert.deepEqual(merged.scanTypes, ['Dynamic', 'Static']);
    assert.ok(merged.issues.some((i) => /runtime-only 2\.0 \(amd64\), which no layer's package database holds: attributed to the top layer/.test(i.message) && i.layer === 1));
    assert.ok(merged.issues.some((i) => /1 package\(s\) .* not listed by dpkg-query .*: stale 1\.0/.test(i.message)));
    assert.deepEqual(merged.summary.packages, { total: 4, os: 4, lang: 0 });
    assert.deepEqual(
      merged.image.layers.map((l) => l.packages),
      [
        { os: 2, lang: 0 },
        { os: 2, lang: 0 },
      ],
    );
  });

  it('only Dynamic when every OS package was confirmed', async () => {
    const answers = [
      {
        type: 'deb' as const,
        tool: 'dpkg-query',
        packages: report.packages.filter((p) => p.locations[0] === '/var/lib/dpkg/status').map((p) => ({ type: 'deb' as const, name: p.name, version: p.version, arch: p.arch ?? null, source: null })),
      },
    ];
    const merged = applyDynamicAnswers({ ...report, packages: report.packages.filter((p) => p.name !== 'tzdata') }, answers);
    assert.deepEqual(merged.scanTypes, ['Dynamic']);
    assert.ok(merged.packages.every((p) => p.scanType === 'Dynamic'));
    assert.equal(merged.issues.length, report.issues.length);
  });
});


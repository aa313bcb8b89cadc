import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import type { LayerEntry } from '../../../image/layer-stream.js';
import { MiB, S_IFREG, type ExtractContext, type FileInput } from '../../extractor.js';
import { runLayer } from '../../run-layer.js';
import { nodeExtractor } from './index.js';

const bytes = (name: string): Buffer => readFileSync(new URL(`./testdata/${name}`, import.meta.url));
const tempDir = mkdtempSync(join(tmpdir(), 'tally-node-'));
after(() => rmSync(tempDir, { recursive: true, force: true }));

function context(issues: string[]): ExtractContext {
  return { tempDir, signal: new AbortController().signal, isLanguageArtifact: null, issue: (m) => issues.push(m) };
}

function input(path: string, data: Buffer | string, spill = false): FileInput {
  const buf = typeof data === 'string' ? Buffer.from(data) : data;
  if (!spill) return { path, size: buf.length, mode: S_IFREG | 0o644, content: { kind: 'buffer', data: buf } };
  const file = join(tempDir, `spill-${Math.random().toString(36).slice(2)}`);
  writeFileSync(file, buf);
  return { path, size: buf.length, mode: S_IFREG | 0o644, content: { kind: 'file', path: file } };
}

async function extract(path: string, data: Buffer | string, spill = false): Promise<{ ids: string[]; issues: string[]; packages: Awaited<ReturnType<typeof nodeExtractor.extract>>['packages'] }> {
  const issues: string[] = [];
  const out = await nodeExtractor.extract(input(path, data, spill), context(issues));
  return { ids: out.packages.map((p) => `${p.name}@${p.version}`).sort(), issues, packages: out.packages };
}

describe('lang/node extractor', () => {
  it('is named after its folder and asks only for Node.js files', () => {
    assert.equal(nodeExtractor.name, 'lang/node');
    assert.equal(nodeExtractor.scanType, 'SCA');
    const mode = S_IFREG | 0o644;
    assert.ok(nodeExtractor.required('/app/node_modules/@types/node/package.json', mode));
    assert.ok(nodeExtractor.required('/app/yarn.lock', mode));
    assert.ok(nodeExtractor.required('/app/package.json', mode));
    assert.ok(!nodeExtractor.required('/app/node_modules/lodash/lodash.js', mode));
  });

  it('reports installed packages with installed evidence and their licences', async () => {
    const { packages, issues } = await extract('/app/node_modules/@types/node/package.json', bytes('installed/types-node.package.json'));
    assert.deepEqual(issues, []);
    assert.deepEqual(packages, [{ type: 'npm', name: '@types/node', version: '20.11.0', evidence: 'installed', identifiedBy: 'package.json', licenses: ['MIT'] }]);
  });

  it('reports the hidden lockfile as installed and app lockfiles as declared', async () => {
    const hidden = await extract('/app/node_modules/.package-lock.json', bytes('installed/hidden.package-lock.json'));
    assert.equal(hidden.packages.length, 80);
    assert.ok(hidden.packages.every((p) => p.evidence === 'declared' && p.identifiedBy === 'hidden-lockfile'));
    const kinds: [string, string, string][] = [
      ['/app/package-lock.json', 'app/npm11.package-lock.json', 'package-lock'],
      ['/app/npm-shrinkwrap.json', 'app/npm6.package-lock.json', 'package-lock'],
      ['/app/yarn.lock', 'app/yarn1.yarn.lock', 'yarn.lock'],
      ['/app/yarn.lock', 'app/yarn4.yarn.lock', 'yarn.lock'],
      ['/app/pnpm-lock.yaml', 'app/pnpm9.pnpm-lock.yaml', 'pnpm-lock'],
    ];
    for (const [path, fixture, identifiedBy] of kinds) {
      const { packages, issues } = await extract(path, bytes(fixture), true);
      assert.deepEqual(issues, [], fixture);
      assert.equal(packages.length, 80, fixture);
      assert.ok(packages.every((p) => p.type === 'npm' && p.evidence === 'declared' && p.identifiedBy === identifiedBy), fixture);
    }
    const dev = (await extract('/app/package-lock.json', bytes('app/npm11.package-lock.json'))).packages.find((p) => p.name === 'is-number');
    assert.deepEqual(dev?.metadata, { dev: 'true' });
  });

  it('reports the node runtime from node_version.h', async () => {
    const { packages } = await extract('/usr/local/include/node/node_version.h', bytes('runtime/official-20.11.0.node_version.h'));
    assert.deepEqual(packages, [
      { type: 'generic', name: 'node', version: '20.11.0', evidence: 'installed', identifiedBy: 'node_version.h', metadata: { role: 'runtime', lts: 'Iron' } },
    ]);
    const odd = await extract('/usr/local/include/node/node_version.h', '/* nothing */');
    assert.deepEqual(odd.packages, []);
    assert.equal(odd.issues.length, 1);
  });
});

describe('lang/node on hostile input', () => {
  it('malformed JSON/YAML lockfiles fail with a clear message (the runner makes it an issue)', async () => {
    await assert.rejects(extract('/app/package-lock.json', '{"lockfileVersion": 3, "packages": {'), /invalid JSON/);
    await assert.rejects(extract('/app/package-lock.json', '"just a string"'), /not a JSON object/);
    await assert.rejects(extract('/app/pnpm-lock.yaml', "lockfileVersion: '9.0'\npackages: [unclosed\n"), /pnpm-lock\.yaml/);
    await assert.rejects(extract('/app/pnpm-lock.yaml', '- a\n- b\n'), /pnpm-lock\.yaml: .*array/);
    await assert.rejects(extract('/app/yarn.lock', '# yarn lockfile v1\n\n"a@1":\n  version "1\n'), /unterminated string on line 4/);
    // the parser library would loop for seconds on these two; the guard answers at once
    const started = performance.now();
    await assert.rejects(extract('/app/yarn.lock', '# yarn lockfile v1\n\n"a@1":\n  version "1.0.0\\"'), /unterminated string on line 4/);
    const comment = await extract('/app/yarn.lock', '# yarn lockfile v1\n\n"a@1":\n  version "1.0.0"\n# trailing "comment');
    assert.deepEqual(comment.ids, ['a@1.0.0']);
    assert.ok(performance.now() - started < 500);
    const truncated = bytes('app/npm11.package-lock.json').subarray(0, 5000);
    await assert.rejects(extract('/app/package-lock.json', truncated), /invalid JSON/);
  });

  it('a malformed installed package.json is an issue, not an error', async () => {
    const { packages, issues } = await extract('/app/node_modules/x/package.json', '{"name": "x", "version": ');
    assert.deepEqual(packages, []);
    assert.match(issues[0] ?? '', /invalid JSON/);
  });

  it('__proto__ keys are plain names, and pollute nothing', async () => {
    const npm = await extract(
      '/app/package-lock.json',
      '{"lockfileVersion":3,"packages":{"__proto__":{"version":"1"},"node_modules/__proto__":{"version":"1.0.0"},"node_modules/ok":{"version":"2.0.0","__proto__":{"dev":true}}}}',
    );
    assert.deepEqual(npm.ids, ['__proto__@1.0.0', 'ok@2.0.0']);
    assert.equal(npm.packages.find((p) => p.name === 'ok')?.metadata, undefined);
    const v1 = await extract('/app/package-lock.json', '{"lockfileVersion":1,"dependencies":{"__proto__":{"version":"1.0.0","dependencies":{"constructor":{"version":"2.0.0"}}}}}');
    assert.deepEqual(v1.ids, ['__proto__@1.0.0', 'constructor@2.0.0']);
    const pnpm = await extract('/app/pnpm-lock.yaml', "lockfileVersion: '6.0'\npackages:\n  __proto__:\n    dev: true\n  /constructor@1.0.0:\n    dev: true\n");
    assert.deepEqual(pnpm.ids, ['constructor@1.0.0']);
    const berry = await extract('/app/yarn.lock', '__metadata:\n  version: 6\n"__proto__@npm:1.0.0":\n  version: 1.0.0\n  resolution: "__proto__@npm:1.0.0"\n');
    assert.deepEqual(berry.ids, ['__proto__@1.0.0']);
    const classic = await extract('/app/yarn.lock', '# yarn lockfile v1\n\n"__proto__@^1":\n  version "1.0.0"\n\nok@^1:\n  version "1.0.0"\n');
    assert.ok(classic.ids.includes('ok@1.0.0'));
    const pj = await extract('/app/node_modules/x/package.json', '{"__proto__":{"version":"9.9.9"},"name":"x"}');
    assert.deepEqual(pj.packages, []);
    assert.equal(({} as Record<string, unknown>)['version'], undefined);
    assert.equal(({} as Record<string, unknown>)['dev'], undefined);
  });

  it('non-string versions and names are problems, not packages', async () => {
    const npm = await extract('/app/package-lock.json', '{"lockfileVersion":3,"packages":{"node_modules/a":{"version":1.1},"node_modules/b":{"version":["1"]},"node_modules/c":7,"node_modules/d":{"name":{"x":1},"version":"1.0.0"},"node_modules/e":{"version":"1.0.0"}}}');
    // a name that is no string is ignored: the folder names the package
    assert.deepEqual(npm.ids, ['d@1.0.0', 'e@1.0.0']);
    assert.equal(npm.issues.length, 3);
    const classic = await extract('/app/yarn.lock', '# yarn lockfile v1\n\na@^1:\n  version 110\n\nb@^1:\n  version "1.0.0"\n');
    assert.deepEqual(classic.ids, ['b@1.0.0']);
    assert.equal(classic.issues.length, 1);
    const berry = await extract('/app/yarn.lock', '__metadata:\n  version: 6\n"a@npm:1":\n  version: [1]\n  resolution: "a@npm:1"\n"b@npm:1":\n  version: 1.10\n  resolution: "b@npm:1.10"\n');
    assert.deepEqual(berry.ids, ['b@1.10']);
  });

  it('deep nesting is bounded', async () => {
    let v1 = '';
    for (let i = 0; i < 5000; i++) v1 += `{"version":"1.0.${i}","dependencies":{"p${i}":`;
    v1 += '{"version":"9.9.9"}' + '}}'.repeat(5000);
    const deep = await extract('/app/package-lock.json', `{"lockfileVersion":1,"dependencies":{"root":${v1}}}`);
    assert.ok(deep.ids.length > 200 && deep.ids.length < 300, String(deep.ids.length));
    assert.ok(deep.issues.some((i) => /deeper than/.test(i)));
    const flow = '['.repeat(100_000) + ']'.repeat(100_000);
    await assert.rejects(extract('/app/pnpm-lock.yaml', `lockfileVersion: '9.0'\npackages: ${flow}\n`), /pnpm-lock\.yaml/);
    await assert.rejects(extract('/app/yarn.lock', `__metadata:\n  version: 6\nx: ${flow}\n`), /yarn\.lock \(berry\)/);
    let block = '# yarn lockfile v1\n';
    for (let i = 0; i < 5000; i++) block += `${' '.repeat(i * 2)}k${i}:\n`;
    await assert.rejects(extract('/app/yarn.lock', block), /yarn\.lock \(classic\)/);
    const json = '['.repeat(1_000_000) + ']'.repeat(1_000_000);
    await assert.rejects(extract('/app/package-lock.json', json), /not a JSON object/);
  });

  it('floods of bad entries are summarised', async () => {
    const entries = Array.from({ length: 1000 }, (_, i) => `"node_modules/p${i}": {"version": ${i}}`).join(',');
    const { issues } = await extract('/app/package-lock.json', `{"lockfileVersion":3,"packages":{${entries}}}`);
    assert.equal(issues.length, 21);
    assert.match(issues[20] ?? '', /980 more problems/);
  });

  it('an installed package.json over its cap is refused', async () => {
    const big = `{"name":"x","version":"1.0.0","readme":"${'a'.repeat(5 * MiB)}"}`;
    await assert.rejects(extract('/app/node_modules/x/package.json', big), /over the 4194304-byte limit/);
  });

  it('a 50 MB lockfile is skipped by the runner with an issue, without being read', async () => {
    let opened = false;
    const entry: LayerEntry = {
      path: '/app/pnpm-lock.yaml',
      kind: 'file',
      mode: S_IFREG | 0o644,
      size: 50 * MiB,
      linkTarget: null,
      open: () => {
        opened = true;
        return Readable.from([]);
      },
      skip: () => undefined,
    };
    async function* entries(): AsyncGenerator<LayerEntry> {
      yield entry;
    }
    const result = await runLayer(entries(), { extractors: [nodeExtractor], inMemoryLimit: MiB }, { tempDir, signal: new AbortController().signal });
    assert.equal(opened, false);
    assert.equal(result.issues.length, 1);
    assert.match(result.issues[0]?.message ?? '', /over the 33554432-byte limit/);
    assert.equal(result.issues[0]?.extractor, 'lang/node');
  });
});

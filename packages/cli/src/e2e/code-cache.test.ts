/**
 * The launcher's V8 code cache (packages/cli/launcher/tally.mjs), through the built `tally` as a user runs it: the
 * first runs of a command add what they compiled, then the file stays as it is; a damaged file is replaced.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tally } from './support.js';

const work = mkdtempSync(join(tmpdir(), 'tally-code-cache-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

/** The code cache files of a cache directory (`other`: runs whose first argument is not a command). */
function cacheFile(dir: string): string {
  const files = readdirSync(join(dir, 'code-cache')).filter((f) => f.endsWith('-other.bin'));
  assert.equal(files.length, 1, `one cache file for the runs without a command: ${files.join(', ')}`);
  return join(dir, 'code-cache', files[0] as string);
}

function run(dir: string, args: readonly string[]): void {
  const r = tally(args, { TALLY_CACHE_DIR: dir });
  assert.equal(r.code, 0, r.stderr);
}

describe('code cache', () => {
  it('grows over the first four runs of a command with what each compiled, then stays as it is', () => {
    const dir = join(work, 'grow');
    run(dir, ['--version']);
    const file = cacheFile(dir);
    const first = readFileSync(file);
    assert.equal(first[0], 1, 'made by one run');
    // --help runs commander's help formatting, which --version never compiled
    run(dir, ['--help']);
    const second = readFileSync(file);
    assert.equal(second[0], 2);
    assert.ok(second.length > first.length, `the second run added its functions (${first.length} → ${second.length} bytes)`);
    run(dir, ['--version']);
    run(dir, ['--version']);
    const fourth = readFileSync(file);
    assert.equal(fourth[0], 4);
    assert.ok(fourth.length >= second.length, 'nothing the earlier runs compiled was dropped');
    const mtime = statSync(file).mtimeMs;
    run(dir, ['--help']);
    assert.deepEqual(readFileSync(file), fourth, 'a fifth run leaves the file alone');
    assert.equal(statSync(file).mtimeMs, mtime);
  });

  it('replaces a cache V8 rejects, and the command runs all the same', () => {
    const dir = join(work, 'damaged');
    run(dir, ['--version']);
    const file = cacheFile(dir);
    writeFileSync(file, Buffer.concat([Buffer.from([3]), Buffer.from('not a V8 code cache'.repeat(100))]));
    const r = tally(['--version'], { TALLY_CACHE_DIR: dir });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^\d+\.\d+\.\d+/);
    const replaced = readFileSync(file);
    assert.equal(replaced[0], 1, 'counted from one again');
    assert.ok(!replaced.subarray(1).toString('latin1').includes('not a V8 code cache'));
  });
});

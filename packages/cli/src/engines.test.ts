/**
 * Every package the lockfile installs accepts the Node.js versions Tally claims (package.json `engines`). npm only
 * warns (EBADENGINE) about one that does not, and such a package can fail at run time: content-disposition 3, pulled
 * in by @fastify/static, is an ES module that @fastify/static `require()`s, which Node 20 does before 20.19 only with
 * a flag; package.json's `overrides` keep it (and light-my-request's cookie) on the releases that support Node 20.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import semver from 'semver';

const root = new URL('../../../', import.meta.url);
const readJson = (name: string): unknown => JSON.parse(readFileSync(new URL(name, root), 'utf8'));

interface LockEntry {
  readonly version?: string;
  readonly optional?: boolean;
  /** An object with `node`, or the long-dead npm 2 array form (no `node`). */
  readonly engines?: { readonly node?: unknown };
}

test('every installed package supports the lowest Node.js of each line package.json claims, and this one', () => {
  const claimed = (readJson('package.json') as { engines: { node: string } }).engines.node;
  // The lowest version of each alternative (`^20.19.0 || >=22.13.0` → 20.19.0, 22.13.0).
  const floors = new semver.Range(claimed).set.map((alternative) => semver.minVersion(alternative.map((c) => c.value).join(' '))?.version);
  assert.ok(floors.length >= 1 && floors.every((v) => v !== undefined), `cannot read the floors of ${claimed}`);
  assert.ok(semver.satisfies(process.version, claimed), `this Node.js (${process.version}) is outside ${claimed}`);
  const lock = readJson('package-lock.json') as { packages: Record<string, LockEntry> };
  const refused: string[] = [];
  for (const [path, entry] of Object.entries(lock.packages)) {
    // Optional platform builds (wasm, other CPUs) are not installed here.
    const range = entry.engines?.node;
    if (typeof range !== 'string' || entry.optional === true) continue;
    for (const v of [...floors, process.version]) {
      if (!semver.satisfies(v as string, range)) refused.push(`${path}@${entry.version ?? '?'} needs node ${range}, refuses ${v}`);
    }
  }
  assert.deepEqual(refused, []);
});

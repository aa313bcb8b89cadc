#!/usr/bin/env node
// Matching speed against the SQLite database built from all of ../shared/vulndb: 10,000 packages whose names the
// data covers (AlmaLinux 9 rpms, npm, PyPI, Maven, Go, NuGet), once with versions spread over the advisories'
// ranges (most are vulnerable: the worst case) and once at their newest version (a patched image).
// Usage: node bench/match.mjs
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { register } from 'tsx/esm/api';

register();
const repoRoot = new URL('..', import.meta.url).pathname;
const vdb = await import(join(repoRoot, 'packages/core/src/vulndb/index.ts'));
const work = mkdtempSync(join(tmpdir(), 'tally-bench-match-'));
try {
  const dbPath = join(work, 'tally.db');
  await vdb.importIntoVulnDb(dbPath, [join(repoRoot, '..', 'shared', 'vulndb')]);
  const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', join(repoRoot, 'packages/core/src/match/testdata/bench.ts')], {
    stdio: 'inherit',
    env: { ...process.env, TALLY_BENCH_VULNDB: dbPath },
  });
  process.exitCode = r.status ?? 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}

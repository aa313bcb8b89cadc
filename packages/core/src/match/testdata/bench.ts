/**
 * Matching speed: matchPackages over 10,000 realistic packages against every OSV record of ../shared/vulndb held in
 * a MemoryVulnDb (the lead benches the SQLite store separately). Run:
 *   node --import tsx packages/core/src/match/testdata/bench.ts
 *
 * Packages: every (ecosystem, name) that the data names for AlmaLinux:9 (rpm, the image's distro), npm, PyPI,
 * Maven, Go and NuGet, plus Go stdlib builds, each with a version taken round-robin from the bounds the data gives
 * for that package (introduced / fixed / last_affected / listed versions), so packages land before, inside, at the
 * end of and after ranges; repeated with the next version until there are 10,000.
 */
import { performance } from 'node:perf_hooks';
import type { Package, PackageType } from '../../model/package.js';
import { schemeFor } from '../../version/registry.js';
import { MemoryVulnDb } from '../../vulndb/memory.js';
import type { VulnDb } from '../../vulndb/model.js';
import { SqliteVulnDb } from '../../vulndb/store.js';
import { matchPackages } from '../match.js';
import { distro, loadAllOsv, pkg } from './fixtures.js';

const TYPE_OF: Readonly<Record<string, PackageType>> = { 'AlmaLinux:9': 'rpm', npm: 'npm', PyPI: 'pypi', Maven: 'maven', Go: 'golang', NuGet: 'nuget' };

const t0 = performance.now();
const advisories = await loadAllOsv();
// TALLY_BENCH_VULNDB=path: match against that SQLite database (bench/match.mjs builds it) instead of memory
const sqlitePath = process.env['TALLY_BENCH_VULNDB'];
const db: VulnDb = sqlitePath ? SqliteVulnDb.open(sqlitePath) : new MemoryVulnDb(advisories);
const loadMs = performance.now() - t0;

const versions = new Map<string, Set<string>>();
for (const a of advisories) {
  for (const e of a.affected) {
    if (!(e.ecosystem in TYPE_OF)) continue;
    const key = `${e.ecosystem}\0${e.package}`;
    const set = versions.get(key) ?? new Set<string>();
    for (const r of e.ranges) {
      if (r.type === 'GIT') continue;
      for (const ev of r.events) for (const v of Object.values(ev)) if (v !== '0') set.add(v);
    }
    for (const v of e.versions.slice(0, 5)) set.add(v);
    versions.set(key, set);
  }
}
const pool = [...versions].map(([key, set]) => ({ key, list: [...set] })).filter((x) => x.list.length > 0);
const packages: Package[] = [];
for (let round = 0; packages.length < 10_000; round++) {
  for (const { key, list } of pool) {
    if (packages.length >= 10_000) break;
    const [ecosystem = '', name = ''] = key.split('\0');
    const type = TYPE_OF[ecosystem]!;
    const version = list[(round + packages.length) % list.length]!;
    const stdlib = name === 'stdlib' || name === 'toolchain';
    packages.push(
      type === 'rpm'
        ? pkg('rpm', name, version, { source: { name, version } })
        : stdlib
          ? pkg('golang', 'stdlib', `v${version}`)
          : pkg(type, name, version),
    );
  }
}

const d = distro('almalinux', '9.4');

interface Timing {
  readonly wallMs: number;
  readonly cpuMs: number;
}
function timed(list: readonly Package[]): { t: Timing; r: ReturnType<typeof matchPackages> } {
  const c = process.cpuUsage();
  const s = performance.now();
  const r = matchPackages(list, d, db);
  const wallMs = performance.now() - s;
  const u = process.cpuUsage(c);
  return { t: { wallMs, cpuMs: (u.user + u.system) / 1000 }, r };
}
function summary(ts: readonly Timing[]): Record<string, number> {
  const w = ts.map((x) => x.wallMs).sort((a, b) => a - b);
  const c = ts.map((x) => x.cpuMs).sort((a, b) => a - b);
  const med = (a: number[]): number => +a[Math.floor(a.length / 2)]!.toFixed(1);
  return { wallMin: +w[0]!.toFixed(1), wallMedian: med(w), cpuMedian: med(c) };
}

// Collect the garbage of loading first, so the first call is not charged for it.
(globalThis as { gc?: () => void }).gc?.();
let result = timed(packages);
const first = result.t;
const runs: Timing[] = [];
for (let i = 0; i < 6; i++) {
  result = { t: first, r: matchPackages([], d, db) }; // drop the previous result before the next run
  result = timed(packages);
  runs.push(result.t);
}

// The same 10,000 names at the highest version the data names for each: the per-package cost of a patched image,
// where almost every advisory is evaluated and found not to apply.
const patched: Package[] = [];
const highest = new Map<string, string>();
for (const { key, list } of pool) {
  const scheme = schemeFor(TYPE_OF[key.split('\0')[0] ?? '']!)!;
  let best: string | null = null;
  for (const v of list) {
    if (!scheme.valid(v)) continue;
    if (best === null || scheme.compare(v, best) > 0) best = v;
  }
  if (best !== null) highest.set(key, best);
}
for (const p of packages) {
  const eco = p.type === 'rpm' ? 'AlmaLinux:9' : Object.keys(TYPE_OF).find((k) => TYPE_OF[k] === p.type)!;
  const name = p.name;
  const v = highest.get(`${eco}\0${name}`) ?? p.version;
  patched.push(p.type === 'rpm' ? pkg('rpm', p.name, v, { source: { name: p.name, version: v } }) : p.type === 'golang' && p.name === 'stdlib' ? pkg('golang', 'stdlib', `v${v}`) : pkg(p.type, p.name, v));
}
const patchedRuns: Timing[] = [];
let patchedResult = timed(patched).r;
for (let i = 0; i < 6; i++) {
  patchedResult = matchPackages([], d, db);
  const x = timed(patched);
  patchedRuns.push(x.t);
  patchedResult = x.r;
}

const byType = new Map<string, number>();
for (const p of packages) byType.set(p.type, (byType.get(p.type) ?? 0) + 1);
console.log(
  JSON.stringify(
    {
      advisories: advisories.length,
      loadMs: Math.round(loadMs),
      packages: packages.length,
      packagesByType: Object.fromEntries(byType),
      assorted: {
        findings: result.r.findings.length,
        unknownFindings: result.r.findings.filter((f) => f.match.by === 'unknown-version').length,
        issues: result.r.issues.length,
        firstCall: { wallMs: +first.wallMs.toFixed(1), cpuMs: +first.cpuMs.toFixed(1) },
        next6: summary(runs),
      },
      patched: { findings: patchedResult.findings.length, next6: summary(patchedRuns) },
    },
    null,
    2,
  ),
);

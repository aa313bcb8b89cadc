#!/usr/bin/env node
// SCA scan: Tally vs Trivy on the per-ecosystem test images (tools/build-test-images.sh), in one run.
// 1. Coverage: every language package Trivy reports (by purl type, name, version) must be in Tally's report;
//    a table per ecosystem lists counts and anything Trivy finds that Tally misses.
// 2. Cost: Tally's Static scan vs Static+SCA on each image (medians of N alternating cold runs), and Trivy's time.
// Usage: node bench/sca-vs-trivy.mjs [--runs 5]
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshDir, median, removeDir, repoRoot, table, tallyInventory, trivyBinary, trivyCacheDir, trivyInventory } from './lib.mjs';

const args = process.argv.slice(2);
const runs = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 5;
const images = execFileSync('bash', [join(repoRoot, 'tools/build-test-images.sh')], { encoding: 'utf8' }).trim().split('\n').pop();
trivyBinary(); // installs it before the first timed run
const LANG_TYPES = new Set(['maven', 'pypi', 'golang', 'npm', 'nuget']);

/** type/name@version with the ecosystem's case rules, from a purl (Trivy) or a Tally package. */
function keyOf(type, name, version) {
  const n = type === 'pypi' ? name.toLowerCase().replace(/[-_.]+/g, '-') : type === 'nuget' ? name.toLowerCase() : name;
  return `${type}/${n}@${version}`;
}

function purlKey(purl) {
  const m = /^pkg:([a-z]+)\/(.+?)@([^?#]+)/.exec(purl);
  if (!m) return null;
  const [, type, path, version] = m;
  const name = decodeURIComponent(type === 'maven' ? path.replace('/', ':') : path);
  return keyOf(type, name, decodeURIComponent(version));
}

const tallyScan = (image, out, sca) => tallyInventory(`docker-archive:${image}`, { sca, out });

async function trivyScan(image, out) {
  const cache = await trivyCacheDir();
  try {
    return trivyInventory(image, cache, out);
  } finally {
    removeDir(cache);
  }
}

const coverage = [['ecosystem', 'tally lang pkgs', 'trivy lang pkgs', 'trivy ∖ tally', 'tally ∖ trivy']];
const cost = [['image', 'static s', 'static+SCA s', 'SCA adds', 'trivy s', 'static+SCA / trivy', 'RSS static MB', 'RSS SCA MB', 'RSS trivy MB']];
const missed = [];
for (const eco of ['java', 'python', 'go', 'node', 'dotnet']) {
  const image = join(images, `sca-${eco}`, 'docker-archive.tar');
  const work = freshDir('bench-sca-');
  const t = { static: [], sca: [], trivy: [] };
  for (let i = 0; i < runs; i++) {
    const order = [['static', 'sca', 'trivy'], ['trivy', 'sca', 'static'], ['sca', 'static', 'trivy']][i % 3];
    for (const tool of order) {
      if (tool === 'trivy') t.trivy.push(await trivyScan(image, join(work, 'trivy.json')));
      else t[tool].push(tallyScan(image, join(work, `${tool}.json`), tool === 'sca'));
    }
  }
  const tally = JSON.parse(readFileSync(join(work, 'sca.json'), 'utf8'));
  const tallyKeys = new Set(tally.packages.filter((p) => LANG_TYPES.has(p.type)).map((p) => keyOf(p.type, p.name, p.version)));
  const trivyKeys = new Set(
    (JSON.parse(readFileSync(join(work, 'trivy.json'), 'utf8')).components ?? [])
      .map((c) => (c.purl ? purlKey(c.purl) : null))
      .filter((k) => k && LANG_TYPES.has(k.split('/')[0])),
  );
  removeDir(work);
  const onlyTrivy = [...trivyKeys].filter((k) => !tallyKeys.has(k));
  missed.push(...onlyTrivy.map((k) => `${eco}: ${k}`));
  coverage.push([eco, tallyKeys.size, trivyKeys.size, onlyTrivy.length, [...tallyKeys].filter((k) => !trivyKeys.has(k)).length]);
  const m = (xs, f) => median(xs.map(f));
  const [s, a, v] = [m(t.static, (r) => r.seconds), m(t.sca, (r) => r.seconds), m(t.trivy, (r) => r.seconds)];
  cost.push([eco, s.toFixed(2), a.toFixed(2), `${(((a - s) / s) * 100).toFixed(0)}%`, v.toFixed(2), `${(a / v).toFixed(2)}x`, m(t.static, (r) => r.rssMB).toFixed(0), m(t.sca, (r) => r.rssMB).toFixed(0), m(t.trivy, (r) => r.rssMB).toFixed(0)]);
  console.error(`done: ${eco}`);
}
console.log('Language packages found (distinct type/name@version; Trivy run with an empty Java index: its SHA-1 DB is unreachable here)');
console.log(table(coverage));
if (missed.length > 0) console.log('\nFound by Trivy, not by Tally:\n  ' + missed.join('\n  '));
console.log(`\nCost of the SCA scan, medians of ${runs} alternating cold runs`);
console.log(table(cost));

#!/usr/bin/env node
// Static scan (OS inventory) of docker-archives: Tally vs Trivy, side by side in one run.
// Usage: node bench/static-vs-trivy.mjs [--runs 5] IMAGE.tar [IMAGE.tar ...]
// Both start cold every run: Tally with --no-cache, Trivy with a fresh --cache-dir (holding an empty Java index). Trivy runs in its inventory
// mode (`--format cyclonedx`: no vulnerability DB), which is what Tally's Static scan produces.
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { freshDir, median, removeDir, table, tallyBin, timed, trivyBinary, trivyCacheDir } from './lib.mjs';

const args = process.argv.slice(2);
let runs = 5;
const images = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--runs') runs = Number(args[++i]);
  else images.push(args[i]);
}
if (images.length === 0) {
  console.error('usage: node bench/static-vs-trivy.mjs [--runs N] IMAGE.tar ...');
  process.exit(2);
}
const trivy = trivyBinary();

function runTally(image, out) {
  return timed(process.execPath, [tallyBin, 'scan', `docker-archive:${image}`, '--no-cache', '--quiet', '--format', 'json', '--output', out]);
}

async function runTrivy(image, out) {
  const cache = await trivyCacheDir();
  try {
    return timed(trivy, ['image', '--quiet', '--input', image, '--format', 'cyclonedx', '--cache-dir', cache, '--skip-java-db-update', '--output', out]);
  } finally {
    removeDir(cache);
  }
}

const rows = [['image', 'size MB', 'tally s', 'trivy s', 'time ratio', 'tally RSS MB', 'trivy RSS MB', 'RSS ratio', 'pkgs tally/trivy']];
for (const image of images) {
  const work = freshDir('bench-out-');
  const t = { tally: [], trivy: [] };
  for (let i = 0; i < runs; i++) {
    // alternate which tool goes first, so drift on a shared machine hits both alike
    const order = i % 2 === 0 ? ['tally', 'trivy'] : ['trivy', 'tally'];
    for (const tool of order) t[tool].push(tool === 'tally' ? runTally(image, join(work, 'tally.json')) : await runTrivy(image, join(work, 'trivy.json')));
  }
  const tallyPkgs = JSON.parse(readFileSync(join(work, 'tally.json'), 'utf8')).packages.length;
  const trivyPkgs = (JSON.parse(readFileSync(join(work, 'trivy.json'), 'utf8')).components ?? []).filter((c) => c.type === 'library').length;
  removeDir(work);
  const ts = median(t.tally.map((r) => r.seconds));
  const vs = median(t.trivy.map((r) => r.seconds));
  const tr = median(t.tally.map((r) => r.rssMB));
  const vr = median(t.trivy.map((r) => r.rssMB));
  rows.push([image.split('/').slice(-2).join('/'), (statSync(image).size / 1e6).toFixed(0), ts.toFixed(2), vs.toFixed(2), (ts / vs).toFixed(2) + 'x', tr.toFixed(0), vr.toFixed(0), (tr / vr).toFixed(2) + 'x', `${tallyPkgs}/${trivyPkgs}`]);
  console.error(`done: ${image}`);
}
console.log(`Static scan, medians of ${runs} alternating cold runs (ratio = Tally / Trivy; < 1 means Tally is faster or smaller)`);
console.log(table(rows));

#!/usr/bin/env node
// Inventory (Static + SCA, no matching) of every image tools/build-test-images.sh builds: Tally vs Trivy, cold and
// with a warm layer cache, against the physical floor (reading and decompressing the image's layer blobs once).
//
//   node bench/inventory.mjs [--runs 5] [--big] [--only NAME[,NAME]]
//
// Each image is scanned in its OCI-layout form (gzip layers, or zstd for debian12/oci-zstd), so the floor is
// `gzip -dc` / `zstd -dc` over exactly the layer blobs of the image the scanners pick (linux/amd64). --big adds the
// 1.9 GB image of bench/build-big-image.sh (a docker-archive of uncompressed layers: its floor is reading them).
// cold: a fresh cache directory per run, for both tools. warm: the same scan again with the cache the cold run left
// (Tally: per-layer results; Trivy: its layer cache). Medians of N runs; the four scans and the floor alternate
// order run by run so the machine's drift hits all alike. Ratios are what to read: this machine is shared.
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { freshDir, median, removeDir, repoRoot, table, tallyInventory, trivyBinary, trivyCacheDir, trivyInventory } from './lib.mjs';

const args = process.argv.slice(2);
const runs = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 5;
const only = args.includes('--only') ? args[args.indexOf('--only') + 1].split(',') : null;
const imagesRoot = execFileSync('bash', [join(repoRoot, 'tools/build-test-images.sh')], { encoding: 'utf8' }).trim().split('\n').pop();
trivyBinary(); // installs it before the first timed run

const IMAGES = ['debian12', 'debian12-layers', 'distroless', 'rpm-sqlite', 'rpm-bdb', 'multiarch', 'debian11-dsa', 'sca-java', 'sca-python', 'sca-go', 'sca-node', 'sca-dotnet'];
const targets = IMAGES.filter((n) => !only || only.includes(n)).map((name) => ({ name, kind: 'oci', path: join(imagesRoot, name, 'oci') }));
if (!only || only.includes('debian12-zstd')) targets.push({ name: 'debian12-zstd', kind: 'oci', path: join(imagesRoot, 'debian12', 'oci-zstd') });
if (args.includes('--big')) targets.push({ name: 'big (1.9 GB)', kind: 'docker-archive', path: execFileSync('bash', [join(repoRoot, 'bench/build-big-image.sh')], { encoding: 'utf8' }).trim() });

// ---- the floor: the layer blobs of the linux/amd64 image, decompressed once -------------------------------------

const readJson = (p) => JSON.parse(readFileSync(p, 'utf8'));
const blobPath = (layout, digest) => join(layout, 'blobs', ...digest.split(':'));

/** The layer descriptors of the image a scanner picks from an OCI layout (index → nested index → linux/amd64). */
function layersOf(layout) {
  let doc = readJson(join(layout, 'index.json'));
  for (;;) {
    if (doc.layers) return doc.layers;
    const pick = doc.manifests.find((m) => !m.platform || (m.platform.os === 'linux' && m.platform.architecture === 'amd64')) ?? doc.manifests[0];
    doc = readJson(blobPath(layout, pick.digest));
  }
}

function floorRun(target) {
  const started = performance.now();
  if (target.kind === 'docker-archive') {
    execFileSync('sh', ['-c', 'cat "$1" > /dev/null', 'sh', target.path]);
  } else {
    for (const layer of layersOf(target.path)) {
      const tool = layer.mediaType.endsWith('zstd') ? 'zstd' : layer.mediaType.endsWith('gzip') ? 'gzip' : 'cat';
      const cmd = tool === 'cat' ? 'cat "$1" > /dev/null' : `${tool} -dc "$1" > /dev/null`;
      const r = spawnSync('sh', ['-c', cmd, 'sh', blobPath(target.path, layer.digest)]);
      if (r.status !== 0) throw new Error(`${tool} failed on ${layer.digest}`);
    }
  }
  return { seconds: (performance.now() - started) / 1000, rssMB: NaN };
}

// ---- the scanners -------------------------------------------------------------------------------------------------

const tallyScan = (t, cacheDir, out) => tallyInventory(`${t.kind}:${t.path}`, { cacheDir, out });
const trivyScan = (t, cacheDir, out) => trivyInventory(t.path, cacheDir, out);

async function oneRound(t, work, i) {
  const res = {};
  const tallyCache = freshDir('bench-tally-cache-');
  const trivyCache = await trivyCacheDir();
  try {
    const steps = {
      tally: () => {
        res.tallyCold = tallyScan(t, tallyCache, join(work, 'tally.json'));
        res.tallyWarm = tallyScan(t, tallyCache, join(work, 'tally-warm.json'));
      },
      trivy: () => {
        res.trivyCold = trivyScan(t, trivyCache, join(work, 'trivy.json'));
        res.trivyWarm = trivyScan(t, trivyCache, join(work, 'trivy-warm.json'));
      },
      floor: () => (res.floor = floorRun(t)),
    };
    const order = [['tally', 'trivy', 'floor'], ['trivy', 'floor', 'tally'], ['floor', 'tally', 'trivy']][i % 3];
    for (const s of order) steps[s]();
  } finally {
    removeDir(tallyCache);
    removeDir(trivyCache);
  }
  return res;
}

const rows = [['image', 'MB', 'pkgs tally/trivy', 'tally cold s', 'trivy cold s', 'cold ratio', 'floor s', 'cold/floor', 'tally warm s', 'warm/cold', 'trivy warm s', 'RSS tally MB', 'RSS trivy MB']];
const verdicts = [];
for (const t of targets) {
  const work = freshDir('bench-inv-');
  const all = [];
  for (let i = 0; i < runs; i++) all.push(await oneRound(t, work, i));
  const tallyReport = readJson(join(work, 'tally.json'));
  const warmReport = readJson(join(work, 'tally-warm.json'));
  const trivyComponents = (readJson(join(work, 'trivy.json')).components ?? []).filter((c) => c.type === 'library' || c.purl);
  removeDir(work);
  if (JSON.stringify(warmReport.packages) !== JSON.stringify(tallyReport.packages)) throw new Error(`${t.name}: the warm scan's packages differ from the cold scan's`);
  const m = (key, f = (r) => r.seconds) => median(all.map((r) => f(r[key])));
  const [cold, warm, tcold, twarm, floor] = [m('tallyCold'), m('tallyWarm'), m('trivyCold'), m('trivyWarm'), m('floor')];
  const rss = Math.max(...all.flatMap((r) => [r.tallyCold.rssMB, r.tallyWarm.rssMB]));
  const size = t.kind === 'oci' ? layersOf(t.path).reduce((n, l) => n + l.size, 0) : statSync(t.path).size;
  rows.push([
    t.name,
    (size / 1e6).toFixed(0),
    `${tallyReport.packages.length}/${trivyComponents.length}`,
    cold.toFixed(2),
    tcold.toFixed(2),
    `${(cold / tcold).toFixed(2)}x`,
    floor.toFixed(2),
    `${(cold / floor).toFixed(2)}x`,
    warm.toFixed(2),
    `${(warm / cold).toFixed(2)}x`,
    twarm.toFixed(2),
    rss.toFixed(0),
    m('trivyCold', (r) => r.rssMB).toFixed(0),
  ]);
  verdicts.push({ name: t.name, coldVsTrivy: cold / tcold, coldVsFloor: cold / floor, warmVsCold: warm / cold, rss });
  console.error(`done: ${t.name}`);
}
console.log(`Inventory (Static + SCA), medians of ${runs} alternating runs; ratios are Tally / Trivy, Tally / floor, warm / cold`);
console.log(table(rows));
const worst = (k) => verdicts.reduce((a, b) => (b[k] > a[k] ? b : a));
console.log(
  `\nworst: cold/Trivy ${worst('coldVsTrivy').coldVsTrivy.toFixed(2)}x (${worst('coldVsTrivy').name}), cold/floor ${worst('coldVsFloor').coldVsFloor.toFixed(2)}x (${worst('coldVsFloor').name}), ` +
    `warm/cold ${worst('warmVsCold').warmVsCold.toFixed(2)}x (${worst('warmVsCold').name}), peak RSS ${worst('rss').rss.toFixed(0)} MB (${worst('rss').name})`,
);

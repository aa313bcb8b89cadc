/**
 * Fleet-scale test data from real reports: images whose package sets are drawn from the packages the real test
 * images contain (Debian 12 OS packages; npm, PyPI, Maven, Go, NuGet packages), with versions varied the way a
 * fleet varies (most images on common versions, a long tail on others) and a share of in-house packages, so the
 * dictionary, the searches and the matcher see a realistic mix. Deterministic for a seed.
 *
 * Also writes very large single reports as a stream (a million packages never exist as one object here either).
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import type { Package, ScanReport } from '@tally/core';

/** xorshift32: a fast deterministic generator (test data only). */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 0x9e3779b9;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

function sha256(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}

/** The same package at its k-th variant version (k = 0: unchanged). Debian: a `+benchK` suffix; others: patch + k. */
export function variant(p: Package, k: number): Package {
  if (k === 0) return p;
  let version: string;
  if (p.type === 'deb') version = `${p.version}+bench${k}`;
  else {
    const m = /(\d+)(?!.*\d)/.exec(p.version);
    version = m === null ? `${p.version}.${k}` : `${p.version.slice(0, m.index)}${Number(m[1]) + k}${p.version.slice(m.index + (m[1] as string).length)}`;
  }
  const purl = p.purl.includes(`@${p.version}`) ? p.purl.replace(`@${p.version}`, `@${version}`) : p.purl;
  return { ...p, version, purl, ...(p.source !== undefined && p.type === 'deb' ? { source: { name: p.source.name, version: `${p.source.version}+bench${k}` } } : {}) };
}

export interface Pool {
  readonly osBase: ScanReport;
  readonly os: readonly Package[];
  readonly lang: readonly Package[];
}

/** Distinct OS packages of the Debian 12 reports and distinct language packages of all reports. */
export function poolFrom(reports: readonly ScanReport[]): Pool {
  const os = new Map<string, Package>();
  const lang = new Map<string, Package>();
  let osBase: ScanReport | null = null;
  for (const r of reports) {
    if (r.image.os?.family === 'debian' && r.image.os.version === '12') {
      osBase ??= r;
      for (const p of r.packages) if (p.class === 'os') os.set(`${p.name}@${p.version}@${p.arch ?? ''}`, p);
    }
    for (const p of r.packages) if (p.class === 'lang') lang.set(`${p.type}/${p.name}@${p.version}`, p);
  }
  if (osBase === null) throw new Error('synth: no Debian 12 report in the pool');
  return { osBase, os: [...os.values()], lang: [...lang.values()] };
}

export interface SynthOptions {
  /** Target packages per image (about). */
  readonly packages?: number;
  /** Share of the image made of in-house packages (names not in any advisory database). */
  readonly inHouseShare?: number;
  readonly seed?: number;
  readonly sca?: boolean;
}

/** Version variant index, skewed to 0: most images share the common versions. */
function skewed(r: () => number, max: number): number {
  return Math.floor(max * r() ** 3);
}

/** One synthetic image report (a fresh imageId), Static + SCA unless `sca: false`. */
export function synthReport(pool: Pool, index: number, options: SynthOptions = {}): ScanReport {
  const r = rng((options.seed ?? 1) * 1_000_003 + index);
  const target = options.packages ?? 500;
  const sca = options.sca ?? true;
  const inHouse = sca ? Math.round(target * (options.inHouseShare ?? 0.1)) : 0;
  const osCount = Math.min(pool.os.length, sca ? Math.round(target * 0.4) : target);
  const langCount = sca ? Math.min(pool.lang.length, target - osCount - inHouse) : 0;
  const pick = <T>(list: readonly T[], n: number): T[] => {
    const idx = list.map((_, i) => i);
    for (let i = idx.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [idx[i], idx[j]] = [idx[j] as number, idx[i] as number];
    }
    return idx.slice(0, n).map((i) => list[i] as T);
  };
  const imageId = `sha256:${sha256(`bench-image-${options.seed ?? 1}-${index}`)}`;
  const base = pool.osBase;
  const layers = [
    { ...(base.image.layers[0] as ScanReport['image']['layers'][number]), index: 0 },
    {
      index: 1,
      digest: `sha256:${sha256(`layer-${index}`)}`,
      diffId: `sha256:${sha256(`layer-${index}`)}`,
      mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip',
      size: 1000 + Math.floor(r() * 1e8),
      createdBy: `/bin/sh -c npm ci && pip install -r requirements.txt # app ${index % 500}`,
      created: '2026-01-01T00:00:00Z',
      comment: null,
      packages: { os: 0, lang: 0 },
    },
  ];
  const app = `/srv/app-${index % 100}`;
  const id = (p: Pick<Package, 'type' | 'name' | 'version'>, loc: string) => sha256(`${p.type}\u0000${p.name}\u0000${p.version}\u0000${loc}`);
  const osPkgs: Package[] = pick(pool.os, osCount).map((p) => {
    const v = variant(p, skewed(r, 5));
    return { ...v, id: id(v, v.locations[0] ?? ''), scanType: 'Static', layer: { index: 0, diffId: layers[0]?.diffId ?? null, createdBy: layers[0]?.createdBy ?? null } };
  });
  const layer1 = { index: 1, diffId: layers[1]?.diffId ?? null, createdBy: layers[1]?.createdBy ?? null };
  const langPkgs: Package[] = pick(pool.lang, langCount).map((p) => {
    const v = variant(p, skewed(r, 30));
    const locations = v.locations.map((l) => `${app}${l}`);
    return { ...v, id: id(v, locations[0] ?? ''), scanType: 'SCA', layer: layer1, locations };
  });
  const inHousePkgs: Package[] = [];
  for (let k = 0; k < inHouse; k++) {
    const n = Math.floor(50_000 * r() ** 2);
    const name = `@corp/lib-${n}`;
    const version = `1.${n % 17}.${skewed(r, 10)}`;
    const loc = `${app}/node_modules/${name}/package.json`;
    inHousePkgs.push({
      id: id({ type: 'npm', name, version }, loc),
      name,
      version,
      type: 'npm',
      purl: `pkg:npm/%40corp/lib-${n}@${version}`,
      class: 'lang',
      scanType: 'SCA',
      layer: layer1,
      locations: [loc],
      evidence: 'installed',
      licenses: ['UNLICENSED'],
    });
  }
  // Duplicate ids (the same variant picked twice) would be one package twice: keep the first.
  const seen = new Set<string>();
  const packages = [...osPkgs, ...langPkgs, ...inHousePkgs].filter((p) => !seen.has(p.id) && seen.add(p.id) !== undefined);
  const os = packages.filter((p) => p.class === 'os').length;
  const lang = packages.length - os;
  layers[0] = { ...(layers[0] as (typeof layers)[number]), packages: { os, lang: 0 } };
  layers[1] = { ...(layers[1] as (typeof layers)[number]), packages: { os: 0, lang } };
  return {
    schemaVersion: 1,
    tool: { name: 'tally', version: base.tool.version },
    scannedAt: new Date(Date.UTC(2026, 0, 1) + index * 60_000).toISOString(),
    scanTypes: sca ? ['Static', 'SCA'] : ['Static'],
    sensor: { type: (['general', 'registry', 'cicd'] as const)[index % 3] as 'general' | 'registry' | 'cicd', performScaScan: sca },
    image: {
      ...base.image,
      ref: `registry.example/team-${index % 50}/app-${index % 500}:${index}`,
      source: 'registry',
      imageId,
      manifestDigest: `sha256:${sha256(`manifest-${options.seed ?? 1}-${index}`)}`,
      repoTags: [`registry.example/team-${index % 50}/app-${index % 500}:${index}`, ...(index % 7 === 0 ? [`registry.example/team-${index % 50}/app-${index % 500}:latest`] : [])],
      repoDigests: [],
      created: new Date(Date.UTC(2025, 0, 1) + index * 3_600_000).toISOString(),
      layers,
      history: layers.map((l) => ({ createdBy: l.createdBy, created: l.created, comment: null, emptyLayer: false })),
    },
    packages,
    issues: [],
    summary: { packages: { total: packages.length, os, lang } },
  };
}

/**
 * Writes one report with `count` packages to `path` as a stream: the real packages of `base`, then variants of
 * them named `<name>-synth<N>` until the count is reached. Returns the number of bytes written.
 */
export async function writeHugeReport(base: ScanReport, count: number, path: string, imageId: string): Promise<number> {
  const out = createWriteStream(path);
  let bytes = 0;
  const write = async (s: string): Promise<void> => {
    bytes += Buffer.byteLength(s);
    if (!out.write(s)) await once(out, 'drain');
  };
  const template = base.packages.filter((p) => p.class === 'lang');
  const head = {
    ...base,
    image: { ...base.image, imageId, layers: base.image.layers.map((l, i) => ({ ...l, packages: i === base.image.layers.length - 1 ? { os: 0, lang: count } : { os: 0, lang: 0 } })) },
    summary: { packages: { total: count, os: 0, lang: count } },
    scanTypes: ['Static', 'SCA'],
  };
  const { packages: _p, vulnerabilities: _v, ...rest } = head;
  void _p;
  void _v;
  await write(JSON.stringify(rest).slice(0, -1));
  await write(',"packages":[');
  for (let i = 0; i < count; i++) {
    const t = template[i % template.length] as Package;
    const name = `${t.name}-synth${Math.floor(i / template.length)}`;
    const loc = `/srv/huge/node_modules/${name}/package.json`;
    const p: Package = {
      ...t,
      id: sha256(`${i}`),
      name,
      purl: `pkg:${t.type}/${encodeURIComponent(name)}@${t.version}`,
      locations: [loc],
      layer: { index: base.image.layers.length - 1, diffId: base.image.layers[base.image.layers.length - 1]?.diffId ?? null, createdBy: null },
    };
    await write((i === 0 ? '' : ',') + JSON.stringify(p));
  }
  await write(']}');
  out.end();
  await once(out, 'finish');
  return bytes;
}

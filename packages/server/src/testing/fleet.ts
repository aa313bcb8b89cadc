/**
 * A registry full of images that share base layers, for the workers test and bench/workers.mjs: the real test
 * images under their own repositories, plus variants built by appending one small layer (umoci) to a test image, so
 * many manifests share a base (debian12, sca-python, debian12-layers, distroless). Pushed once with skopeo into a
 * cached storage root (cachedRegistryStorage); deterministic, so the cache key is the list of pushes.
 *
 * And a counting proxy in front of a registry: it sees every blob byte the workers pull, and can hold one blob's
 * download until the test lets it go (to kill a worker in the middle of a job).
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { cachedRegistryStorage } from '../../../core/src/testing/registry-server.js';
import { makeTar } from '../../../core/src/testing/image-builder.js';

const run = promisify(execFile);

/** Test images pushed as they are (repository fleet/<name>). */
export const FLEET_IMAGES = ['debian12', 'debian12-layers', 'distroless', 'debian11-dsa', 'rpm-sqlite', 'rpm-bdb', 'sca-python', 'sca-go', 'sca-node'] as const;
/** Bases of the variants, in turn. */
const VARIANT_BASES = ['debian12', 'sca-python', 'debian12-layers', 'distroless'] as const;

export interface FleetPush {
  readonly source: string;
  readonly repoTag: string;
}

/** `variants` images made by appending a layer with one small file to a base, in an OCI layout per base. */
async function buildVariants(images: string, dir: string, variants: number, prefix: string): Promise<FleetPush[]> {
  const pushes: FleetPush[] = [];
  for (let i = 0; i < variants; i++) {
    const base = VARIANT_BASES[i % VARIANT_BASES.length]!;
    const layout = join(dir, base);
    if (!existsSync(join(layout, 'index.json'))) {
      await mkdir(layout, { recursive: true });
      // Blobs are hard links (umoci only ever adds blob files); index.json is a real copy, since umoci rewrites it.
      await run('cp', ['-al', join(images, base, 'oci', 'blobs'), join(layout, 'blobs')]);
      await cp(join(images, base, 'oci', 'index.json'), join(layout, 'index.json'));
      await cp(join(images, base, 'oci', 'oci-layout'), join(layout, 'oci-layout'));
    }
    const tag = `${prefix}${i}`;
    const index = JSON.parse(await readFile(join(layout, 'index.json'), 'utf8')) as { manifests: { annotations?: Record<string, string> }[] };
    if (!index.manifests.some((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag)) {
      const tar = join(dir, `${tag}.tar`);
      await writeFile(tar, await makeTar([{ name: 'etc/', type: 'directory' }, { name: 'etc/tally-variant', content: `${prefix}${base} variant ${i}\n` }]));
      await run('umoci', ['raw', 'add-layer', '--image', `${layout}:latest`, '--tag', tag, '--history.created', '2024-01-01T00:00:00Z', '--history.created_by', `${prefix}variant ${i}`, tar]);
      await rm(tar);
    }
    pushes.push({ source: `oci:${layout}:${tag}`, repoTag: `${prefix.replace(/-$/, '')}/${base}:${i}` });
  }
  return pushes;
}

export interface Fleet {
  /** The registry storage root (serve it read-only). */
  readonly dataDir: string;
  readonly pushes: readonly FleetPush[];
}

/**
 * The storage root holding FLEET_IMAGES (each also tagged `latest` in a second repository: same digest, no second
 * scan), `variants` variants under `variants/<base>:<i>`, and `extra` more variants under `late/<base>:<i>` (for
 * a second sync).
 */
export async function fleetRegistry(images: string, cacheDir: string, variants: number, extra = 0): Promise<Fleet> {
  const dir = join(cacheDir, 'fleet-variants');
  await mkdir(dir, { recursive: true });
  const pushes: FleetPush[] = [];
  for (const name of FLEET_IMAGES) {
    pushes.push({ source: `oci:${images}/${name}/oci:latest`, repoTag: `fleet/${name}:1` });
    pushes.push({ source: `oci:${images}/${name}/oci:latest`, repoTag: `mirror/${name}:latest` });
  }
  pushes.push(...(await buildVariants(images, dir, variants, 'variants-')));
  if (extra > 0) pushes.push(...(await buildVariants(images, join(dir, 'late'), extra, 'late-')));
  const dataDir = await cachedRegistryStorage(cacheDir, `fleet v1 ${images}`, pushes);
  return { dataDir, pushes };
}

export interface BlobFacts {
  /** Layer blobs (digest → size) of every image manifest in the storage. */
  readonly layers: Map<string, number>;
  readonly configs: Map<string, number>;
  /** Distinct image manifests (what a sync scans; an index counts as its linux/amd64 manifest). */
  readonly manifests: number;
}

/** What the registry storage holds, read from its files (distribution's filesystem layout). */
export async function blobFacts(dataDir: string, include: (repository: string) => boolean = () => true): Promise<BlobFacts> {
  const root = join(dataDir, 'docker/registry/v2');
  const blob = async (digest: string): Promise<Buffer> => readFile(join(root, 'blobs/sha256', digest.slice(7, 9), digest.slice(7), 'data'));
  const size = async (digest: string): Promise<number> => (await stat(join(root, 'blobs/sha256', digest.slice(7, 9), digest.slice(7), 'data'))).size;
  const manifests = new Set<string>();
  const walkRepos = async (dir: string, name: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      if (!e.isDirectory()) continue;
      if (e.name === '_manifests') {
        if (!include(name)) continue;
        for (const t of await readdir(join(dir, '_manifests/tags'))) {
          const link = (await readFile(join(dir, '_manifests/tags', t, 'current/link'), 'utf8')).trim();
          manifests.add(link);
        }
      } else if (!e.name.startsWith('_')) await walkRepos(join(dir, e.name), name === '' ? e.name : `${name}/${e.name}`);
    }
  };
  await walkRepos(join(root, 'repositories'), '');
  const layers = new Map<string, number>();
  const configs = new Map<string, number>();
  let count = 0;
  for (const top of manifests) {
    const doc = JSON.parse((await blob(top)).toString('utf8')) as { manifests?: { digest: string; platform?: { architecture: string } }[]; config?: { digest: string }; layers?: { digest: string }[] };
    // an index: the scan takes linux/amd64
    const digest = doc.manifests ? doc.manifests.find((m) => m.platform?.architecture === 'amd64')!.digest : top;
    const m = doc.manifests ? (JSON.parse((await blob(digest)).toString('utf8')) as typeof doc) : doc;
    count++;
    configs.set(m.config!.digest, await size(m.config!.digest));
    for (const l of m.layers ?? []) layers.set(l.digest, await size(l.digest));
  }
  return { layers, configs, manifests: count };
}

export interface CountingProxy {
  readonly host: string;
  /** Blob digest → bytes sent, over every GET of it. */
  readonly blobBytes: Map<string, number>;
  readonly blobGets: Map<string, number>;
  /** Hold the next download of `digest`: resolves `reached` when a worker asks for it; `release()` lets it through. */
  hold(digest: string): { reached: Promise<void>; release(): void };
  close(): Promise<void>;
}

/** An HTTP proxy on 127.0.0.1 in front of `target` (`127.0.0.1:PORT`), counting blob bytes. */
export async function startCountingProxy(target: string): Promise<CountingProxy> {
  const [targetHost, targetPort] = target.split(':') as [string, string];
  const blobBytes = new Map<string, number>();
  const blobGets = new Map<string, number>();
  const holds = new Map<string, { reached: () => void; released: Promise<void> }>();
  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    const m = req.method === 'GET' ? /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(req.url ?? '') : null;
    const digest = m?.[1];
    const up = request({ host: targetHost, port: Number(targetPort), method: req.method, path: req.url, headers: req.headers }, (upRes) => {
      res.writeHead(upRes.statusCode ?? 502, upRes.headers);
      if (digest !== undefined) {
        blobGets.set(digest, (blobGets.get(digest) ?? 0) + 1);
        upRes.on('data', (c: Buffer) => blobBytes.set(digest, (blobBytes.get(digest) ?? 0) + c.length));
      }
      upRes.pipe(res);
    });
    up.on('error', () => res.destroy());
    res.on('close', () => up.destroy());
    req.pipe(up);
  };
  const server = createServer((req, res) => {
    const digest = /\/blobs\/(sha256:[0-9a-f]{64})$/.exec(req.url ?? '')?.[1];
    const held = digest !== undefined && req.method === 'GET' ? holds.get(digest) : undefined;
    if (held === undefined) {
      forward(req, res);
      return;
    }
    holds.delete(digest!);
    held.reached();
    void held.released.then(() => {
      if (!res.destroyed) forward(req, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${(server.address() as AddressInfo).port}`,
    blobBytes,
    blobGets,
    hold(digest) {
      let reached!: () => void;
      let release!: () => void;
      const reachedP = new Promise<void>((r) => (reached = r));
      const released = new Promise<void>((r) => (release = r));
      holds.set(digest, { reached, released });
      return { reached: reachedP, release };
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

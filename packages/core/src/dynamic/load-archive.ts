import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import { TallyError } from '../model/errors.js';
import { MAX_JSON_BLOB } from '../image/sources/blob-store.js';
import type { DockerEngineClient } from '../image/sources/docker-engine/client.js';
import { TarIndex } from '../image/sources/tar-index.js';
import { isObject, parseJson, str, strings } from '../util/json.js';

/**
 * Load one image of a docker-archive into the engine so it can be run, without side effects on the engine's
 * names: `docker load` would (re)tag whatever manifest.json and `repositories` name, silently moving a tag the user
 * has on another image. So the engine is sent a minimal archive instead, built on the fly from the file (members
 * streamed in place, nothing copied to disk): the image's config, its layers, and a manifest.json without RepoTags.
 * The image is then known by its id only.
 */
export async function loadArchiveImage(client: DockerEngineClient, file: string, imageId: string, signal: AbortSignal): Promise<void> {
  const index = await TarIndex.open(file);
  const manifestMember = index.get('/manifest.json');
  if (!manifestMember) throw new TallyError('UNKNOWN_FORMAT', `${file}: not a docker-archive (no manifest.json); a Dynamic scan can run docker-archives and docker: images`);
  const json = parseJson(await index.readMember(manifestMember, MAX_JSON_BLOB), `${file}: manifest.json`);
  let chosen: { config: string; layers: string[]; configBytes: Buffer } | null = null;
  for (const e of Array.isArray(json) ? json.filter(isObject) : []) {
    const config = str(e, 'Config');
    const member = config ? index.get(config) : undefined;
    if (!config || !member) continue;
    const bytes = await index.readMember(member, MAX_JSON_BLOB);
    if ('sha256:' + createHash('sha256').update(bytes).digest('hex') === imageId) {
      chosen = { config, layers: strings(e, 'Layers'), configBytes: bytes };
      break;
    }
  }
  if (!chosen) throw new TallyError('IMAGE_NOT_FOUND', `${file}: no image with config ${imageId}`);
  const { config, layers, configBytes } = chosen;

  const pack = tar.pack();
  const feed = async (): Promise<void> => {
    const write = (name: string, data: Buffer): Promise<void> =>
      new Promise((resolve, reject) => {
        pack.entry({ name, size: data.length, mode: 0o644, mtime: new Date(0) }, data, (err) => (err ? reject(err) : resolve()));
      });
    await write('manifest.json', Buffer.from(JSON.stringify([{ Config: config, RepoTags: [], Layers: layers }])));
    await write(config, configBytes);
    const done = new Set<string>();
    for (const name of layers) {
      if (done.has(name)) continue;
      done.add(name);
      const member = index.get(name);
      if (!member) throw new TallyError('MISSING_BLOB', `${file}: layer ${name} is missing`);
      const sink = pack.entry({ name, size: member.size, mode: 0o644, mtime: new Date(0) });
      const finished = new Promise<void>((resolve, reject) => {
        sink.once('finish', () => resolve());
        sink.once('error', (err: Error) => reject(err));
      });
      for await (const chunk of index.openMember(member, signal)) {
        if (!sink.write(chunk as Buffer)) await new Promise<void>((resolve) => sink.once('drain', () => resolve()));
      }
      sink.end(null);
      await finished;
    }
    pack.finalize();
  };
  const feeding = feed().catch((err: unknown) => {
    pack.destroy(err instanceof Error ? err : new Error(String(err)));
    throw err;
  });
  const body = Readable.from(pack, { objectMode: false });
  const [loaded] = await Promise.allSettled([client.loadImage(body, signal), feeding]);
  await feeding; // a read error of the archive is the better message
  if (loaded.status === 'rejected') throw loaded.reason;
}

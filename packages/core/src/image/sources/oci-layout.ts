import { TallyError } from '../../model/errors.js';
import type { Image, ImageSource } from '../../model/image.js';
import { parseJson } from '../../util/json.js';
import { DirectoryBlobStore, TarBlobStore, type BlobStore } from './blob-store.js';
import { imageFromManifest, parseIndex, resolveManifest, type PlatformSpec, type Selector } from './oci-manifest.js';
import { TarIndex } from './tar-index.js';

export interface OciOptions {
  readonly selector: Selector;
  readonly platform: PlatformSpec;
  readonly platformExplicit: boolean;
}

async function openFromStore(ref: string, store: BlobStore, opts: OciOptions, close: () => Promise<void>): Promise<Image> {
  const indexJson = await store.readIndexJson();
  if (!indexJson) throw new TallyError('UNKNOWN_FORMAT', `${store.where}: not an OCI image layout (no index.json)`);
  const top = parseIndex(parseJson(indexJson, `${store.where}/index.json`), `${store.where}/index.json`);
  const resolved = await resolveManifest(store, top, opts.selector, opts.platform, opts.platformExplicit);
  const repoTags = resolved.refName && resolved.refName.includes(':') ? [resolved.refName] : [];
  return imageFromManifest(store, resolved, { ref, source: 'oci-layout', repoTags, repoDigests: [] }, close);
}

/** An OCI image layout directory (`oci:DIR[:TAG|@DIGEST]`). */
export function ociLayoutDirSource(ref: string, dir: string, opts: OciOptions): ImageSource {
  return { ref, open: async () => openFromStore(ref, new DirectoryBlobStore(dir), opts, async () => undefined) };
}

/** An OCI image layout in a tar (`oci-archive:FILE[:TAG|@DIGEST]`): members are read in place, never extracted. */
export function ociArchiveSource(ref: string, file: string, opts: OciOptions): ImageSource {
  return {
    ref,
    open: async () => openFromStore(ref, new TarBlobStore(await TarIndex.open(file)), opts, async () => undefined),
  };
}

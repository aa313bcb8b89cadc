import { stat } from 'node:fs/promises';
import { TallyError } from '../../model/errors.js';
import type { ImageSource } from '../../model/image.js';

/** An unpacked root filesystem (`dir:PATH`): one layer, no config, no digests. */
export function rootfsSource(ref: string, dir: string): ImageSource {
  return {
    ref,
    async open() {
      const st = await stat(dir).catch(() => null);
      if (!st?.isDirectory()) throw new TallyError('TARGET_NOT_FOUND', `${dir}: no such directory`);
      return {
        ref,
        source: 'rootfs',
        imageId: null,
        manifestDigest: null,
        repoTags: [],
        repoDigests: [],
        config: null,
        layers: [{ index: 0, digest: null, digestKnown: false, diffId: null, mediaType: 'directory', size: null, content: { kind: 'directory', root: dir } }],
        close: async () => undefined,
      };
    },
  };
}

import { createReadStream } from 'node:fs';
import { lstat, opendir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { LayerEntry } from './layer-stream.js';
import { S_IFMT, S_IFREG, S_IFLNK, S_IFDIR } from '../extract/extractor.js';

/**
 * Entries of an unpacked root filesystem, depth first, as if it were one layer. Symlinks are reported, never
 * followed, so nothing outside `root` is read. Unreadable directories are reported through `onError`.
 */
export async function* walkRootfs(root: string, onError: (path: string, err: unknown) => void): AsyncGenerator<LayerEntry> {
  const stack: string[] = ['/'];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    let handle;
    try {
      handle = await opendir(join(root, dir));
    } catch (err) {
      onError(dir, err);
      continue;
    }
    for await (const dirent of handle) {
      const path = dir === '/' ? '/' + dirent.name : dir + '/' + dirent.name;
      const onDisk = join(root, path);
      let st;
      try {
        st = await lstat(onDisk);
      } catch (err) {
        onError(path, err);
        continue;
      }
      const type = st.mode & S_IFMT;
      if (type === S_IFDIR) {
        stack.push(path);
        yield entry(path, 'directory', st.mode, 0, null, onDisk);
      } else if (type === S_IFLNK) {
        let target: string;
        try {
          target = await readlink(onDisk);
        } catch (err) {
          onError(path, err);
          continue;
        }
        yield entry(path, 'symlink', st.mode, 0, target, onDisk);
      } else if (type === S_IFREG) {
        yield entry(path, 'file', st.mode, st.size, null, onDisk);
      } else {
        yield entry(path, 'other', st.mode, 0, null, onDisk);
      }
    }
  }
}

function entry(path: string, kind: LayerEntry['kind'], mode: number, size: number, linkTarget: string | null, onDisk: string): LayerEntry {
  return {
    path,
    kind,
    mode,
    size,
    linkTarget,
    open: () => createReadStream(onDisk),
    skip: () => undefined,
  };
}

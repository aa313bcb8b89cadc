import { basename, dirname } from './path.js';

/**
 * The only code that knows the OCI/AUFS whiteout names. They are recognised on the basename only: a full-path
 * regex such as /.wh./ would also match "node_modules/which/package.json" (a bug seen in a peer).
 */
const WHITEOUT_PREFIX = '.wh.';
const OPAQUE_MARKER = '.wh..wh..opq';

export type Whiteout =
  | { readonly kind: 'file'; readonly target: string } // remove `target` (and everything below it) from lower layers
  | { readonly kind: 'opaque'; readonly dir: string }; // hide everything lower layers put in `dir`

/** `path` must be normalised. Returns null for ordinary entries. */
export function parseWhiteout(path: string): Whiteout | null {
  const name = basename(path);
  if (!name.startsWith(WHITEOUT_PREFIX)) return null;
  const dir = dirname(path);
  if (name === OPAQUE_MARKER) return { kind: 'opaque', dir };
  const removed = name.slice(WHITEOUT_PREFIX.length);
  if (removed === '' || removed === '.' || removed === '..') return null;
  return { kind: 'file', target: dir === '/' ? '/' + removed : dir + '/' + removed };
}

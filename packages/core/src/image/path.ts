/**
 * In-image path handling. Every path Tally keeps is absolute and normalised: "/usr/lib/os-release".
 * `..` is resolved lexically and can never climb above "/", so a hostile tar name cannot point outside the image.
 */
export function normalizePath(raw: string): string {
  const out: string[] = [];
  for (const part of raw.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      out.pop();
      continue;
    }
    out.push(part);
  }
  return '/' + out.join('/');
}

export function dirname(path: string): string {
  const i = path.lastIndexOf('/');
  return i <= 0 ? '/' : path.slice(0, i);
}

export function basename(path: string): string {
  return path.slice(path.lastIndexOf('/') + 1);
}

/** Resolve a symlink target found at `linkPath` (relative targets are relative to the link's directory). */
export function resolveLinkTarget(linkPath: string, target: string): string {
  return target.startsWith('/') ? normalizePath(target) : normalizePath(dirname(linkPath) + '/' + target);
}

/** True when `path` is `dir` itself or lies below it. */
export function isWithin(path: string, dir: string): boolean {
  if (dir === '/') return true;
  return path === dir || (path.length > dir.length && path.startsWith(dir) && path.charCodeAt(dir.length) === 47);
}

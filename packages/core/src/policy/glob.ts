/**
 * Path globs for ignore rules, matched against a package's locations inside the image:
 *   `*`  any characters except `/`          `?`  one character except `/`
 *   `**` any characters, `/` included (`/app/**` is everything below /app; `a/**\/b` also matches `a/b`)
 *   `[abc]`, `[a-z]`, `[!abc]`  one character of (or not of) a set
 * A pattern without a leading `/` is taken from the image root (`app/**` = `/app/**`), as Trivy writes paths.
 * Everything else is literal. Written here rather than taken from node's path.matchesGlob, which is experimental
 * on Node 20 and would make the meaning of a committed ignore file depend on the Node version.
 */

export class GlobError extends Error {}

export function globToRegExp(glob: string): RegExp {
  const pattern = glob.startsWith('/') ? glob : `/${glob}`;
  let out = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') {
      if (pattern[i + 1] === '*') {
        // `/**/` may stand for a single `/`, so `a/**/b` matches `a/b` as well as `a/x/y/b`
        if (pattern[i + 2] === '/' && (i === 0 || pattern[i - 1] === '/')) {
          out += '(?:.*/)?';
          i += 2;
        } else {
          out += '.*';
          i += 1;
        }
      } else {
        out += '[^/]*';
      }
    } else if (c === '?') {
      out += '[^/]';
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) throw new GlobError(`unclosed [ in ${JSON.stringify(glob)}`);
      let set = pattern.slice(i + 1, end);
      const negate = set.startsWith('!');
      if (negate) set = set.slice(1);
      if (set === '') throw new GlobError(`empty [] in ${JSON.stringify(glob)}`);
      // inside a class only `\`, `]` and `^` mean something to RegExp; `-` keeps its range meaning
      out += `[${negate ? '^/' : ''}${set.replace(/[\\\]^]/g, '\\$&')}]`;
      i = end;
    } else {
      out += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
    }
  }
  try {
    return new RegExp(`^${out}$`, 'u');
  } catch {
    // only a character class can make it invalid (`[z-a]`): everything else was escaped
    throw new GlobError(`bad character class in ${JSON.stringify(glob)}`);
  }
}

/**
 * Whether a location matches: the location itself, or, for a file inside an archive (`/app/a.jar!/lib/b.jar`),
 * any of the archives around it, so a rule naming the jar that is on disk covers what is nested in it.
 */
export function locationMatches(re: RegExp, location: string): boolean {
  if (re.test(location)) return true;
  let at = location.indexOf('!/');
  while (at >= 0) {
    if (re.test(location.slice(0, at))) return true;
    at = location.indexOf('!/', at + 2);
  }
  return false;
}

import { homedir } from 'node:os';
import { join } from 'node:path';

/** `--cache-dir`, else TALLY_CACHE_DIR, else the user's cache dir (XDG_CACHE_HOME or ~/.cache) + /tally. */
export function resolveCacheDir(flag: string | undefined): string {
  if (flag) return flag;
  const env = process.env['TALLY_CACHE_DIR'];
  if (env) return env;
  const xdg = process.env['XDG_CACHE_HOME'];
  return join(xdg && xdg.startsWith('/') ? xdg : join(homedir(), '.cache'), 'tally');
}

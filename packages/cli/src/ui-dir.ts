/** Where the web UI built with Tally lives (packages/web/dist), if it was built. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function builtUiDir(): string | undefined {
  // The same relative path from the sources (packages/cli/src) and from the bundle (packages/cli/dist).
  const dir = fileURLToPath(new URL('../../web/dist/', import.meta.url));
  return existsSync(`${dir}index.html`) ? dir : undefined;
}

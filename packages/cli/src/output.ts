import { rename, rm } from 'node:fs/promises';
import { createWriteStream } from 'node:fs';
import { dirname, basename, join } from 'node:path';
import type { Writable } from 'node:stream';

/**
 * Write an output file atomically: into a temp file beside it, renamed into place when complete,
 * so a failed or interrupted run never leaves half a report where a pipeline expects a whole one.
 */
export async function writeFileAtomically(path: string, write: (out: Writable) => Promise<void>): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const out = createWriteStream(tmp, { mode: 0o644 });
  try {
    await write(out);
    await new Promise<void>((resolve, reject) => {
      out.once('error', reject);
      out.end(resolve);
    });
    await rename(tmp, path);
  } catch (err) {
    out.destroy();
    await rm(tmp, { force: true });
    throw err;
  }
}

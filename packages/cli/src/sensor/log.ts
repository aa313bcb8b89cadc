/**
 * What a sensor says on stderr: one line per image (scanned, skipped, re-tagged, failed, with its time), one line
 * per pass with the totals. Plain lines with a fixed prefix, so an operator can grep them and a log shipper can
 * split them.
 */
import { isTallyError } from '@tally/core';

export type Outcome = 'scanned' | 'skipped' | 're-tagged' | 'failed';

/** A pass's totals. `blobs` counts registry blob downloads; `bytes` the layer bytes read (pulled or exported). */
export interface PassStats {
  seen: number;
  scanned: number;
  skipped: number;
  retagged: number;
  failed: number;
  blobs: number;
  bytes: number;
  /** Containers reported (General sensor only). */
  containers: number | null;
}

export function emptyStats(): PassStats {
  return { seen: 0, scanned: 0, skipped: 0, retagged: 0, failed: 0, blobs: 0, bytes: 0, containers: null };
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** An error as one line: the message, and the code of a Tally error (`[DIGEST_MISMATCH]`). */
export function describe(err: unknown): string {
  const message = (err instanceof Error ? err.message : String(err)).replace(/\s*\n\s*/g, ' ');
  return isTallyError(err) ? `${message} [${err.code}]` : message;
}

export class SensorLog {
  private readonly warned = new Set<string>();

  constructor(
    private readonly out: NodeJS.WritableStream,
    readonly kind: 'general' | 'registry',
  ) {}

  line(text: string): void {
    this.out.write(`tally sensor ${this.kind}: ${text}\n`);
  }

  /** `scanned docker:app:1 (sha256:…) in 1234 ms: detail`; the counters are the caller's. */
  image(outcome: Outcome, ref: string, imageId: string | null, ms: number, detail: string): void {
    this.line(`${outcome} ${ref}${imageId ? ` (${imageId})` : ''} in ${Math.round(ms)} ms: ${detail}`);
  }

  /** The backend repeats some warnings on every answer (SCA disabled): say each once per process. */
  warnOnce(message: string): void {
    if (this.warned.has(message)) return;
    this.warned.add(message);
    this.line(`warning: ${message}`);
  }

  summary(pass: number, ms: number, s: PassStats, stopped = false): void {
    const transfer = this.kind === 'registry' ? `blobs pulled ${s.blobs} (${formatBytes(s.bytes)} of layers)` : `exported ${formatBytes(s.bytes)} of layers`;
    const containers = s.containers === null ? '' : `; ${s.containers} containers`;
    this.line(
      `pass ${pass} ${stopped ? 'stopped' : 'done'} after ${Math.round(ms)} ms: ${s.seen} images seen, ${s.scanned} scanned, ${s.skipped} skipped, ${s.retagged} re-tagged, ${s.failed} failed; ${transfer}${containers}`,
    );
  }
}

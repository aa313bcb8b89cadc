import type { Writable } from 'node:stream';
import type { ScanReport } from '../model/report.js';

export interface FormatOptions {
  /** ANSI colours (terminals only). */
  readonly color: boolean;
}

/** Writes a report in one format. */
export interface Formatter {
  readonly name: string;
  write(report: ScanReport, out: Writable, options: FormatOptions): Promise<void>;
}

/** Write text and wait for the stream to take it (honours backpressure on big reports). */
export function writeText(out: Writable, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    out.write(text, (err) => (err ? reject(err) : resolve()));
  });
}

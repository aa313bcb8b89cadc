import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { FORMATTERS, TallyError, type Formatter, type ScanReport } from '@tally/core';

export interface OutputPlan {
  readonly formatter: Formatter;
  /** null: stdout */
  readonly path: string | null;
}

/** Format implied by an output file's name when no --format is given for it. */
function formatOfPath(path: string): string {
  const name = path.toLowerCase();
  if (name.endsWith('.sarif') || name.endsWith('.sarif.json')) return 'sarif';
  if (name.endsWith('.cdx.json') || name.endsWith('.cyclonedx.json')) return 'cyclonedx';
  if (name.endsWith('.spdx.json')) return 'spdx';
  if (name.endsWith('.xml')) return 'junit';
  if (name.endsWith('.txt')) return 'table';
  return 'json';
}

function formatter(name: string): Formatter {
  const f = FORMATTERS.get(name);
  if (!f) throw new TallyError('USAGE', `unknown format ${JSON.stringify(name)} (expected ${[...FORMATTERS.keys()].join(', ')})`);
  return f;
}

/**
 * Pair `--format` and `--output` in order: `-f sarif -o a.sarif -f json -o a.json`. One format more than outputs
 * sends the last to stdout; outputs without a format take it from the file name (`.sarif`, `.cdx.json`,
 * `.spdx.json`, `.xml` → junit, else json). Nothing given: table on a terminal, json otherwise.
 */
export function planOutputs(formats: readonly string[], outputs: readonly string[], stdoutIsTerminal: boolean): OutputPlan[] {
  if (formats.length === 0 && outputs.length === 0) return [{ formatter: formatter(stdoutIsTerminal ? 'table' : 'json'), path: null }];
  if (formats.length === 0) return outputs.map((path) => ({ formatter: formatter(formatOfPath(path)), path }));
  if (formats.length < outputs.length || formats.length > outputs.length + 1) {
    throw new TallyError('USAGE', `${formats.length} --format for ${outputs.length} --output: give one format per output (plus at most one for stdout)`);
  }
  return formats.map((f, i) => ({ formatter: formatter(f), path: outputs[i] ?? null }));
}

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

export async function writeOutputs(report: ScanReport, plans: readonly OutputPlan[]): Promise<void> {
  for (const plan of plans) {
    if (plan.path) await writeFileAtomically(plan.path, (out) => plan.formatter.write(report, out, { color: false }));
    else await plan.formatter.write(report, process.stdout, { color: process.stdout.isTTY === true && plan.formatter.name === 'table' });
  }
}

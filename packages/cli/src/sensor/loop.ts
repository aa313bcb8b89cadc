/**
 * The sensor loop: a pass, then the interval, forever; `--once` for one pass. A pass that fails as a whole (the
 * backend or the engine/registry cannot be reached) is retried sooner, with exponential backoff: after
 * min(5 s, interval), doubling per failure up to max(interval, 5 min), with ±10% jitter so a fleet of sensors
 * does not retry in step. SIGTERM/SIGINT stop it: the image being scanned is abandoned through the abort signal
 * (its temp files and Dynamic-scan container are removed by the scan's own cleanup) and nothing half-done is
 * uploaded; a second signal exits at once.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { EXIT } from '../exit-codes.js';
import { describe, type PassStats, type SensorLog } from './log.js';

export type Pass = (n: number, signal: AbortSignal) => Promise<PassStats>;

export interface LoopOptions {
  readonly once: boolean;
  readonly intervalMs: number;
  readonly log: SensorLog;
}

const FIRST_RETRY_MS = 5_000;
const MAX_BACKOFF_MS = 5 * 60_000;

/** The wait after `failures` failed passes in a row. */
export function backoffMs(failures: number, intervalMs: number, random: () => number = Math.random): number {
  const first = Math.min(FIRST_RETRY_MS, intervalMs);
  const cap = Math.max(intervalMs, MAX_BACKOFF_MS);
  const base = Math.min(cap, first * 2 ** Math.min(30, failures - 1));
  return Math.round(base * (0.9 + 0.2 * random()));
}

/** Runs passes until stopped; returns the exit status (--once: 0 when every image went through, else 2). */
export async function runSensor(pass: Pass, opts: LoopOptions): Promise<number> {
  const { log } = opts;
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (name: NodeJS.Signals): void => {
    if (++signals > 1) {
      log.line(`${name} again: exiting now`);
      process.exit(EXIT.error);
    }
    log.line(`${name}: stopping (the current image is abandoned and cleaned up)`);
    controller.abort(new Error(`stopped by ${name}`));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const { signal } = controller;
  let failures = 0;
  try {
    for (let n = 1; ; n++) {
      const started = performance.now();
      let wait = opts.intervalMs;
      try {
        const stats = await pass(n, signal);
        log.summary(n, performance.now() - started, stats, signal.aborted);
        if (signal.aborted) break;
        failures = 0;
        if (opts.once) return stats.failed > 0 ? EXIT.error : EXIT.ok;
      } catch (err) {
        if (signal.aborted) {
          log.line(`pass ${n} stopped after ${Math.round(performance.now() - started)} ms`);
          break;
        }
        failures++;
        log.line(`pass ${n} failed after ${Math.round(performance.now() - started)} ms: ${describe(err)}`);
        if (opts.once) return EXIT.error;
        wait = backoffMs(failures, opts.intervalMs);
        log.line(`retrying in ${(wait / 1000).toFixed(1)} s (${failures} failed ${failures === 1 ? 'pass' : 'passes'} in a row)`);
      }
      try {
        await sleep(wait, undefined, { signal });
      } catch {
        break; // stopped while waiting
      }
    }
    log.line('stopped');
    return opts.once ? EXIT.error : EXIT.ok; // a --once pass that was cut short did not do its job
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

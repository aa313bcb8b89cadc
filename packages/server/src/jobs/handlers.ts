/** The code behind every job name, registered the same way on both queues (in `tally serve` and in `tally worker`). */
import { reevaluateAll } from '../evaluate/reevaluate.js';
import type { JobContext, JobQueue } from './queue.js';
import { scanManifest, syncRegistry, type RegistryJobDeps } from './registry-jobs.js';
import { enqueueDueSyncs } from './schedule.js';

export interface HandlerDeps extends RegistryJobDeps {
  readonly log?: (message: string, fields: Record<string, unknown>) => void;
}

/** The re-evaluation: every stored image against the current vulnerability database, in batches. */
async function reevaluate(deps: HandlerDeps, { signal, progress }: JobContext): Promise<unknown> {
  const { store, vulndb } = deps;
  vulndb.refresh();
  const probe = vulndb.acquire();
  const usable = probe.matcher !== null;
  probe.release();
  if (!usable) {
    // No usable database: keep the detections we have rather than wipe them.
    const state = vulndb.state();
    return { skipped: state.error ?? 'no vulnerability database' };
  }
  const result = await reevaluateAll(store, vulndb, { signal, onProgress: progress });
  deps.log?.('re-evaluation finished', { ...result });
  return result;
}

/** graphile-worker's crontab tick (PostgreSQL): the syncs due in the minute it was scheduled for. */
async function scheduleTick(deps: HandlerDeps, ctx: JobContext): Promise<unknown> {
  const cron = ctx.payload['_cron'] as { ts?: unknown } | undefined;
  const at = typeof cron?.ts === 'string' ? new Date(cron.ts) : new Date();
  const queued = await enqueueDueSyncs(deps.store, deps.queue, Number.isNaN(at.getTime()) ? new Date() : at);
  return { at: at.toISOString(), queued: queued.map((j) => j.subject) };
}

export function registerJobHandlers(queue: JobQueue, deps: HandlerDeps): void {
  queue.handle('reevaluate', (ctx) => reevaluate(deps, ctx));
  queue.handle('registry-sync', (ctx) => syncRegistry(deps, ctx));
  queue.handle('scan-manifest', (ctx) => scanManifest(deps, ctx));
  queue.handle('registry-schedule', (ctx) => scheduleTick(deps, ctx));
}

import { stat } from 'node:fs/promises';
import { DockerApiError, DockerEngineClient } from '../image/sources/docker-engine/client.js';
import { dockerEngineSource, parseDockerTarget, scanSource, type ExportMode } from '../image/sources/docker-engine/source.js';
import type { DockerClientOptions } from '../image/sources/docker-engine/client.js';
import { DEFAULT_PLATFORM } from '../image/sources/oci-manifest.js';
import { TarIndex } from '../image/sources/tar-index.js';
import { sourceForTarget } from '../image/sources/target.js';
import { TallyError } from '../model/errors.js';
import type { Issue } from '../model/issue.js';
import type { ScanReport } from '../model/report.js';
import type { ScanOptions } from '../scan.js';
import { cleanupDynamicContainers, DEFAULT_CONTAINER_LIMITS, runProbeContainer, type ContainerLimits, type ProbeRun } from './container.js';
import { loadArchiveImage } from './load-archive.js';
import { applyDynamicAnswers, type ManagerAnswer } from './merge.js';
import { parseApkInfo, parseDpkgQuery, parseProbeOutput, parseRpmQuery, type ProbeOutput } from './probe.js';

export type DynamicEvent =
  | { readonly kind: 'cleanup'; readonly removed: readonly string[] }
  | { readonly kind: 'image-loaded'; readonly imageId: string }
  | { readonly kind: 'container-created'; readonly id: string }
  | { readonly kind: 'container-removed'; readonly id: string }
  | { readonly kind: 'image-removed'; readonly imageId: string }
  | { readonly kind: 'fallback'; readonly reason: string };

export interface DynamicScanOptions extends ScanOptions, DockerClientOptions {
  readonly client?: DockerEngineClient;
  /** Time, memory, CPU, pids limits and user of the container. */
  readonly container?: Partial<ContainerLimits>;
  /** How the Static pass reads a docker: image (see docker-engine/source.ts). */
  readonly exportMode?: ExportMode;
  readonly onDynamicEvent?: (event: DynamicEvent) => void;
}

/** `docker-archive:FILE` or a bare FILE (the docker-archive form the engine can load); the tag part is left to sourceForTarget. */
async function archivePath(target: string): Promise<string | null> {
  const rest = target.startsWith('docker-archive:') ? target.slice('docker-archive:'.length) : target;
  for (let end = rest.length; end > 0; end = Math.max(rest.lastIndexOf(':', end - 1), rest.lastIndexOf('@', end - 1))) {
    const path = rest.slice(0, end);
    const st = await stat(path).catch(() => null);
    if (st?.isFile()) return path;
    if (end <= 0) break;
  }
  return null;
}

const TOOL_NAMES = { dpkg: 'dpkg-query', rpm: 'rpm', apk: 'apk info' } as const;

/** Package-manager answers out of the probe output; a tool that failed adds an issue and gives no answer. */
export function answersOf(probe: ProbeOutput, stderr: string): { answers: ManagerAnswer[]; issues: Issue[] } {
  const answers: ManagerAnswer[] = [];
  const issues: Issue[] = [];
  const apkDb = probe.sections.find((s) => s.tool === 'apk-db' && s.exitCode === 0);
  const stderrTail = stderr.trim().split('\n').slice(-5).join(' | ');
  for (const section of probe.sections) {
    if (section.tool === 'apk-db') continue;
    const tool = TOOL_NAMES[section.tool];
    if (section.exitCode !== 0) {
      const why = section.exitCode === null ? 'its output was cut off' : `it exited with status ${section.exitCode}`;
      issues.push({ layer: null, path: null, extractor: null, message: `Dynamic scan: ${tool} failed in the container (${why})${stderrTail ? `: ${stderrTail}` : ''}; its packages are reported from the Static scan` });
      continue;
    }
    const parsed =
      section.tool === 'dpkg' ? parseDpkgQuery(section.lines) : section.tool === 'rpm' ? parseRpmQuery(section.lines) : parseApkInfo(section.lines, apkDb ? apkDb.lines.join('\n') + '\n' : null);
    for (const p of parsed.problems) issues.push({ layer: null, path: null, extractor: null, message: `Dynamic scan: ${p}` });
    answers.push({ type: section.tool === 'dpkg' ? 'deb' : section.tool, tool, packages: parsed.packages });
  }
  return { answers, issues };
}

/** Why the probe gave nothing usable, or null when it did. */
function fallbackReason(run: ProbeRun, limits: ContainerLimits): string | null {
  switch (run.kind) {
    case 'no-shell':
      return 'the image has no shell (/bin/sh), so its package manager cannot be queried';
    case 'cannot-run':
      return `the image does not run on this engine's platform (${run.message.slice(-200)})`;
    case 'timeout':
      return `the container did not finish within the time limit of ${Math.round(limits.timeLimitMs / 1000)} s`;
    case 'exited': {
      if (run.oomKilled) return `the container ran out of memory (limit ${Math.round(limits.memoryBytes / 1024 / 1024)} MiB)`;
      const probe = parseProbeOutput(run.stdout);
      if (!probe.done) {
        const tail = run.stderr.trim().split('\n').slice(-3).join(' | ');
        return `the probe script stopped early (exit status ${run.exitCode}${run.truncated ? ', output over the limit' : ''})${tail ? `: ${tail}` : ''}`;
      }
      if (!probe.foundManager) return 'the image has no package manager Tally can query (dpkg-query, rpm, apk)';
      return null;
    }
  }
}

/**
 * Dynamic scan: run the image (hardened, see container.ts) and ask its own package manager what is installed.
 * A Static pass runs too: it attributes each package to a layer, and supplies the SCA packages when asked for
 * (SCA stays a pass over the image's files). Images that cannot answer (no shell, no package manager, time limit,
 * out of memory) get the Static report with an issue saying why.
 *
 * Targets: `docker:IMAGE` (already in the engine), or a docker-archive file, which is loaded into the engine under
 * no name for the scan and removed after (unless the engine already had the image).
 */
export async function dynamicScan(target: string, options: DynamicScanOptions = {}): Promise<ScanReport> {
  const signal = options.signal ?? new AbortController().signal;
  const client = options.client ?? DockerEngineClient.fromOptions(options);
  const limits: ContainerLimits = { ...DEFAULT_CONTAINER_LIMITS, ...options.container };
  const emit = options.onDynamicEvent ?? (() => undefined);
  const scanOptions: ScanOptions = { ...options, signal };

  // Containers of scans killed before they could clean up are removed here, before this scan adds its own.
  const removed = await cleanupDynamicContainers(client, { signal, fallbackMaxAgeMs: limits.timeLimitMs });
  if (removed.length > 0) emit({ kind: 'cleanup', removed });

  const run = async (imageId: string, runSignal: AbortSignal): Promise<ProbeRun> =>
    runProbeContainer(client, imageId, limits, runSignal, {
      onCreated: (id) => emit({ kind: 'container-created', id }),
      onRemoved: (id) => emit({ kind: 'container-removed', id }),
    });

  let staticReport: ScanReport;
  let probe: ProbeRun;
  if (target.startsWith('docker:')) {
    const image = parseDockerTarget(target);
    const inspect = await client.inspectImage(image, signal);
    const source = dockerEngineSource(target, image, { client, ...(options.exportMode ? { exportMode: options.exportMode } : {}), ...(options.tempRoot ? { tempRoot: options.tempRoot } : {}) });
    // Both passes at once (creating the container copies the rootfs with vfs); the first failure stops the other.
    const both = new AbortController();
    const stop = (): void => both.abort(signal.reason);
    signal.addEventListener('abort', stop, { once: true });
    const failFast = <T>(p: Promise<T>): Promise<T> =>
      p.catch((err: unknown) => {
        both.abort(err);
        throw err;
      });
    try {
      const [s, p] = await Promise.allSettled([failFast(scanSource(source, { ...scanOptions, signal: both.signal })), failFast(run(inspect.id, both.signal))]);
      if (s.status === 'rejected') throw s.reason;
      if (p.status === 'rejected') throw p.reason;
      staticReport = s.value;
      probe = p.value;
    } finally {
      signal.removeEventListener('abort', stop);
    }
  } else {
    const file = await archivePath(target);
    // Only a docker-archive can be loaded into the engine (checked before the Static pass does any work).
    const index = file ? await TarIndex.open(file).catch(() => null) : null;
    if (!file || !index?.get('/manifest.json')) throw new TallyError('USAGE', `${target}: a Dynamic scan runs docker:IMAGE or a docker-archive file`);
    const source = await sourceForTarget(target, { platform: DEFAULT_PLATFORM, platformExplicit: false });
    staticReport = await scanSource(source, scanOptions);
    const imageId = staticReport.image.imageId;
    if (!imageId) throw new TallyError('INVALID_IMAGE', `${target}: no image id`);
    const present = await client.inspectImage(imageId, signal).then(
      () => true,
      (err: unknown) => {
        if (err instanceof DockerApiError && err.status === 404) return false;
        throw err;
      },
    );
    if (!present) {
      await loadArchiveImage(client, file, imageId, signal);
      emit({ kind: 'image-loaded', imageId });
    }
    try {
      probe = await run(imageId, signal);
    } finally {
      if (!present) {
        // best effort: it has no name; another scan's container using it right now keeps it (409)
        const gone = await client.removeImage(imageId).then(
          () => true,
          () => false,
        );
        if (gone) emit({ kind: 'image-removed', imageId });
      }
    }
  }

  const reason = fallbackReason(probe, limits);
  if (reason !== null || probe.kind !== 'exited') {
    const why = reason ?? 'no answer';
    emit({ kind: 'fallback', reason: why });
    return {
      ...staticReport,
      issues: [...staticReport.issues, { layer: null, path: null, extractor: null, message: `Dynamic scan not possible: ${why}; the packages are from the Static scan` }],
    };
  }
  const { answers, issues } = answersOf(parseProbeOutput(probe.stdout), probe.stderr);
  if (answers.length === 0) {
    const why = 'no package manager in the image answered';
    emit({ kind: 'fallback', reason: why });
    return { ...staticReport, issues: [...staticReport.issues, ...issues, { layer: null, path: null, extractor: null, message: `Dynamic scan not possible: ${why}; the packages are from the Static scan` }] };
  }
  return applyDynamicAnswers(staticReport, answers, issues);
}

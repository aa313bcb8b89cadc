/**
 * One pass of the General sensor: the Docker engine's containers go to the backend (the complete list, so removed
 * ones are marked removed), then every image the backend lacks, or lacks a scan type of, is scanned through the
 * engine's streamed export (or run, for Dynamic) and uploaded. Images it has get their new tags recorded.
 */
import { dockerEngineSource, dynamicScan, scanSource, type DockerEngineClient, type LayerCache, type ScanOptions } from '@tally/core';
import type { ScanMode } from '../docker-options.js';
import type { SensorBackend } from './backend.js';
import { sensorContainers } from './containers.js';
import { KnownImages, missingScanTypes } from './known.js';
import { emptyStats, type PassStats, type SensorLog } from './log.js';
import { knownImage, scanAndUpload, type PassContext } from './step.js';

export interface GeneralSensor {
  readonly engine: DockerEngineClient;
  readonly backend: SensorBackend;
  readonly log: SensorLog;
  readonly cache: LayerCache | null;
  readonly performScaScan: boolean;
  readonly scanMode: ScanMode;
}

export async function generalPass(sensor: GeneralSensor, signal: AbortSignal): Promise<PassStats> {
  const { engine, backend, log } = sensor;
  const { scaEnabled, warnings } = await backend.heartbeat(signal);
  for (const w of warnings) log.warnOnce(w);
  const stats = emptyStats();

  // Containers first: cheap, and their list should not wait behind a long backlog of scans.
  const containers = sensorContainers(await engine.listContainers({ signal }));
  await backend.putContainers(containers, signal);
  stats.containers = containers.length;

  const images = await engine.listImages(signal);
  const known = new KnownImages();
  known.add(await backend.known({ imageIds: images.map((i) => i.id) }, signal));
  const ctx: PassContext = { backend, log, stats, known, signal };
  const needSca = sensor.performScaScan && scaEnabled;
  const options: ScanOptions = { performScaScan: sensor.performScaScan, sensor: 'general', cache: sensor.cache, signal };

  for (const image of images) {
    if (signal.aborted) break;
    stats.seen++;
    const ref = `docker:${image.repoTags[0] ?? image.id}`;
    if (missingScanTypes(known.byImageId(image.id), needSca).length === 0) {
      await knownImage(ctx, ref, image.id, image.repoTags, image.repoDigests);
      continue;
    }
    await scanAndUpload(ctx, ref, (onProgress) =>
      sensor.scanMode === 'dynamic'
        ? // by id: what was listed is what runs, even if the tag moves meanwhile
          dynamicScan(`docker:${image.id}`, { ...options, onProgress, client: engine })
        : scanSource(dockerEngineSource(ref, image.id, { client: engine }), { ...options, onProgress }),
    );
  }
  return stats;
}

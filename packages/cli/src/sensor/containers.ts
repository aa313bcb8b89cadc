import { LABEL_DYNAMIC, type EngineContainerSummary } from '@tally/core';
import type { SensorContainer } from './backend.js';

/**
 * The engine's container list as the backend takes it. Left out: our own Dynamic-scan containers (short-lived, not
 * the user's), and containers without an image id (nothing to attach vulnerabilities to).
 */
export function sensorContainers(list: readonly EngineContainerSummary[]): SensorContainer[] {
  const out: SensorContainer[] = [];
  for (const c of list) {
    if (c.labels[LABEL_DYNAMIC] !== undefined || c.imageId === null || c.imageId === '' || c.id === '') continue;
    out.push({
      id: c.id,
      name: c.names[0] ?? '',
      imageId: c.imageId,
      image: c.image,
      state: c.state,
      created: c.created === null ? null : new Date(c.created * 1000).toISOString(),
      ports: c.ports.map((p) => ({
        ...(p.ip !== null && p.ip !== '' ? { ip: p.ip } : {}),
        privatePort: p.privatePort,
        ...(p.publicPort !== null ? { publicPort: p.publicPort } : {}),
        type: p.type,
      })),
    });
  }
  return out;
}

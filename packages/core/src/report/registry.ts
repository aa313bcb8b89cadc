import type { Formatter } from './formatter.js';
import { jsonFormatter } from './json.js';

/**
 * A formatter whose module (and its libraries: the CycloneDX library alone is a large load) is imported on first
 * use, so a scan that writes JSON does not pay start-up time for SBOM and SARIF writers it never calls (nor for the
 * table's cli-table3 and picocolors).
 */
function lazy(name: string, load: () => Promise<Formatter>): Formatter {
  return { name, write: async (report, out, options) => (await load()).write(report, out, options) };
}

/** Output formats by name, explicitly. */
export const FORMATTERS: ReadonlyMap<string, Formatter> = new Map(
  [
    jsonFormatter,
    lazy('table', async () => (await import('./table.js')).tableFormatter),
    lazy('cyclonedx', async () => (await import('./cyclonedx.js')).cyclonedxFormatter),
    lazy('spdx', async () => (await import('./spdx.js')).spdxFormatter),
    lazy('sarif', async () => (await import('./sarif.js')).sarifFormatter),
    lazy('junit', async () => (await import('./junit.js')).junitFormatter),
  ].map((f) => [f.name, f]),
);

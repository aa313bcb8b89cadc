/**
 * The sensor ↔ backend protocol: what a sensor (`tally scan --upload`, `tally sensor …`) sends besides the report.
 * Imported by the CLI through `@tally/server/protocol` (this module has no dependencies, so a sensor, and every
 * CLI command, can use it without loading the server). Documented in docs/server.md.
 */

/** `tally serve` defaults, shared with the CLI commands that open the same data directory. */
export const DEFAULT_DATA_DIR = './tally-data';
export const DEFAULT_HOST = '127.0.0.1';
export const DEFAULT_PORT = 8080;

/** Token roles: sensor uploads only; viewer reads; admin does everything (tokens, settings, database). */
export const ROLES = ['sensor', 'viewer', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** The protocol this build speaks. Bump on an incompatible change to the upload contract. */
export const SENSOR_PROTOCOL = 1;
/** Versions the backend accepts; an upload declaring another one is refused with a message saying who must upgrade. */
export const SUPPORTED_SENSOR_PROTOCOLS: readonly number[] = [1];

/** Request headers (lower-case, as Node presents them). */
export const SENSOR_HEADERS = {
  /** Required on every sensor request: the integer protocol version. */
  protocol: 'x-tally-protocol',
  /** The sensor's tool version (`tally --version`). */
  version: 'x-tally-sensor-version',
  /** general | registry | cicd; for uploads the report's `sensor.type` wins. */
  type: 'x-tally-sensor-type',
  /** The host the sensor runs on (shown in the Sensors list; scopes container lists). */
  host: 'x-tally-sensor-host',
  /** Optional stable id of a long-running sensor (≤128 chars); default: derived from type, host and token. */
  id: 'x-tally-sensor-id',
  /** "true" when the sensor was launched with --perform-sca-scan (for requests without a report). */
  performSca: 'x-tally-perform-sca',
  /** Optional client idempotency key; default: the sha256 of the inflated body. */
  idempotencyKey: 'idempotency-key',
} as const;

/** `POST /api/v1/scans` response. */
export interface UploadResponse {
  readonly uploadId: number;
  readonly imageId: string;
  /** True when this body (or Idempotency-Key) was already ingested: nothing changed, the first response is replayed. */
  readonly duplicate: boolean;
  /** Scan types stored from this upload. */
  readonly scanTypes: readonly string[];
  /** Scan types in the report that were not stored (SCA while the SCA switch is off). */
  readonly droppedScanTypes: readonly string[];
  readonly packages: { readonly received: number; readonly stored: number; readonly dropped: number };
  /** The image's detections after this upload, all scan types. */
  readonly vulnerabilities: { readonly total: number; readonly bySeverity: Readonly<Record<string, number>> };
  /** False when the backend has no vulnerability database yet (inventory stored, matched once one is installed). */
  readonly evaluated: boolean;
  /** Messages for the sensor's operator (printed by the CLI), e.g. "SCA is disabled on this backend: …". */
  readonly warnings: readonly string[];
}

/** Error body of every 4xx/5xx. */
export interface ErrorResponse {
  readonly statusCode: number;
  readonly error: string;
  readonly message: string;
  readonly code?: string;
  readonly details?: readonly string[];
  /** Search syntax errors: 1-based column of the offending character. */
  readonly column?: number;
}

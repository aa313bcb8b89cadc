/** The sensor protocol headers (protocol.ts), checked on every sensor request before its body is read. */
import type { FastifyRequest } from 'fastify';
import { SENSOR_HEADERS, SENSOR_PROTOCOL, SUPPORTED_SENSOR_PROTOCOLS } from '../protocol.js';
import type { SensorInfo } from '../ingest/ingest.js';
import { ApiError } from './context.js';


function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A header value stored as-is (shown in the Sensors list), within a sane size and without NUL. */
function text(req: FastifyRequest, name: string, max: number): string | undefined {
  const v = header(req, name);
  if (v === undefined) return undefined;
  if (v.length > max) throw new ApiError(400, `header ${name} is longer than ${max} characters`, 'BAD_HEADER');
  return v;
}

export function sensorFromRequest(req: FastifyRequest): SensorInfo & { declaredType: string | undefined; performSca: boolean } {
  const raw = header(req, SENSOR_HEADERS.protocol);
  if (raw === undefined) {
    throw new ApiError(400, `missing ${SENSOR_HEADERS.protocol} header: sensors must declare their protocol version (this backend speaks ${SUPPORTED_SENSOR_PROTOCOLS.join(', ')})`, 'PROTOCOL_REQUIRED');
  }
  const protocol = /^\d{1,6}$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  if (!SUPPORTED_SENSOR_PROTOCOLS.includes(protocol)) {
    const newer = Number.isFinite(protocol) && protocol > SENSOR_PROTOCOL;
    throw new ApiError(
      400,
      `sensor protocol ${JSON.stringify(raw)} is not supported by this backend (supported: ${SUPPORTED_SENSOR_PROTOCOLS.join(', ')}); ${newer ? 'upgrade the backend or use an older sensor' : 'upgrade the sensor'}`,
      'UNSUPPORTED_PROTOCOL',
    );
  }
  const version = text(req, SENSOR_HEADERS.version, 64) ?? 'unknown';
  const host = text(req, SENSOR_HEADERS.host, 255) ?? '';
  const id = text(req, SENSOR_HEADERS.id, 128);
  const declaredType = text(req, SENSOR_HEADERS.type, 16);
  const tokenId = req.token?.id ?? null;
  const explicitId = id !== undefined && id !== '' ? `id:${id}` : null;
  if ([version, host, explicitId ?? ''].some((s) => s.includes('\u0000'))) throw new ApiError(400, 'sensor headers must not contain NUL', 'BAD_HEADER');
  return { explicitId, version, protocol, host, tokenId, declaredType, performSca: header(req, SENSOR_HEADERS.performSca) === 'true' };
}

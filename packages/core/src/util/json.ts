/**
 * Narrowing helpers for JSON from untrusted sources (image configs, manifests, package metadata):
 * parse to `unknown`, then read fields through these, never through casts.
 */
export type JsonObject = { readonly [key: string]: unknown };

export function isObject(v: unknown): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function str(o: JsonObject, key: string): string | null {
  const v = o[key];
  return typeof v === 'string' ? v : null;
}

export function num(o: JsonObject, key: string): number | null {
  const v = o[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

export function bool(o: JsonObject, key: string): boolean | null {
  const v = o[key];
  return typeof v === 'boolean' ? v : null;
}

export function obj(o: JsonObject, key: string): JsonObject | null {
  const v = o[key];
  return isObject(v) ? v : null;
}

export function arr(o: JsonObject, key: string): readonly unknown[] | null {
  const v = o[key];
  return Array.isArray(v) ? v : null;
}

export function strings(o: JsonObject, key: string): string[] {
  return (arr(o, key) ?? []).filter((x): x is string => typeof x === 'string');
}

/** JSON.parse that reports which document failed. */
export function parseJson(text: string | Buffer, what: string): unknown {
  try {
    return JSON.parse(typeof text === 'string' ? text : text.toString('utf8'));
  } catch (err) {
    throw new Error(`${what}: invalid JSON: ${(err as Error).message}`);
  }
}

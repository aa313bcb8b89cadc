/**
 * OSV records (https://ossf.github.io/osv-schema/) as they come from a single .json file, an NDJSON line, a JSON
 * array element or an osv.dev `all.zip` entry. The record → Advisory mapping itself is `../osv.ts`; this adds the
 * content test used by format detection and the key (the OSV id, unique by the schema's definition).
 */
import { isObject } from '../../util/json.js';
import { isSkip, parseOsvRecord } from '../osv.js';
import { ID_PATTERN, skip, type Parsed } from './types.js';

/** An object with a string `id` and an `affected` list or a `modified`/`withdrawn` timestamp. */
export function looksLikeOsv(v: unknown): boolean {
  if (!isObject(v) || typeof v['id'] !== 'string') return false;
  return Array.isArray(v['affected']) || typeof v['modified'] === 'string' || typeof v['withdrawn'] === 'string';
}

export function parseOsv(v: unknown): Parsed {
  const r = parseOsvRecord(v);
  if (isSkip(r)) return skip(r.skipped, r.reason, r.id);
  if (!ID_PATTERN.test(r.id)) return skip('invalid', `implausible OSV id ${JSON.stringify(r.id.slice(0, 60))}`);
  return { key: r.id, advisory: r };
}

/**
 * Value parsing for typed fields and LIKE-pattern construction. Regular expressions here only validate user
 * text; none of them (and nothing else in this folder) produces SQL text: patterns become bound parameters.
 */
import type { ValuePart } from './ast.js';

/** Decimal numbers as people type them: `7`, `7.5`, `-1`, `.5`. No exponents, hex or `Infinity`. */
const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)$/;

export function parseNumber(text: string): number | undefined {
  if (!NUMBER.test(text)) return undefined;
  const n = Number(text);
  // A 400-digit literal parses to Infinity; the drivers would then send 'Infinity', which SQLite and PostgreSQL
  // interpret differently, so it is refused here.
  return Number.isFinite(n) ? n : undefined;
}

/**
 * A date or date-time value is a range: the instant it names up to the next one at the precision written.
 * `2026-01-01` is [2026-01-01T00:00Z, 2026-01-02T00:00Z), `2026-03` is the whole of March, `…T10:00` one minute.
 * This is what makes `created:2026-01-01` match that day and `created>2026-01-01` mean "after that day".
 * Values without a zone are UTC: the server stores UTC and a query's meaning must not depend on its clock.
 */
export interface DateRange {
  readonly start: Date;
  readonly end: Date;
}

const DATE =
  /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|z|[+-]\d{2}:?\d{2})?)?)?)?$/;

export function parseDate(text: string): DateRange | undefined {
  const m = DATE.exec(text);
  if (m === null) return undefined;
  const [, y, mo, d, hh, mi, ss, frac, zone] = m;
  const year = Number(y);
  const month = mo === undefined ? 1 : Number(mo);
  const day = d === undefined ? 1 : Number(d);
  const hour = hh === undefined ? 0 : Number(hh);
  const minute = mi === undefined ? 0 : Number(mi);
  const second = ss === undefined ? 0 : Number(ss);
  const ms = frac === undefined ? 0 : Number(frac.slice(0, 3).padEnd(3, '0'));
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;

  let offsetMinutes = 0;
  if (zone !== undefined && zone.toUpperCase() !== 'Z') {
    const digits = zone.slice(1).replace(':', '');
    const zh = Number(digits.slice(0, 2));
    const zm = Number(digits.slice(2));
    if (zh > 23 || zm > 59) return undefined;
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (zh * 60 + zm);
  }

  const local = utc(year, month - 1, day, hour, minute, second, ms);
  const start = local - offsetMinutes * 60_000;
  let end: number;
  if (mo === undefined) end = utc(year + 1, 0, 1) - offsetMinutes * 60_000;
  else if (d === undefined) end = utc(year, month, 1) - offsetMinutes * 60_000;
  else if (hh === undefined) end = start + 86_400_000;
  else if (ss === undefined) end = start + 60_000;
  else if (frac === undefined) end = start + 1_000;
  else end = start + 1;
  return { start: new Date(start), end: new Date(end) };
}

/** Date.UTC maps years 0–99 to 1900–1999; setUTCFullYear does not, and `0099-01-01` must mean year 99. */
function utc(year: number, monthIndex: number, day: number, h = 0, m = 0, s = 0, ms = 0): number {
  const d = new Date(0);
  d.setUTCFullYear(year, monthIndex, day);
  d.setUTCHours(h, m, s, ms);
  return d.getTime();
}

function daysInMonth(year: number, month: number): number {
  return new Date(utc(year, month, 0)).getUTCDate();
}

/**
 * The LIKE pattern for a value, for use with `ESCAPE '\'`: the user's literal `%`, `_` and `\` are escaped so
 * they match themselves, and only `*` wildcards become `%`.
 */
export function likePattern(parts: readonly ValuePart[]): string {
  return parts.map((p) => (p.type === 'wildcard' ? '%' : p.text.replace(/[\\%_]/g, (c) => `\\${c}`))).join('');
}

/**
 * Case-insensitive glob match of a value against a known string (used to expand `scanType:S*` against an
 * enum's allowed values in JS, so the SQL is a plain IN list). Iterative with single backtrack point, the
 * classic linear-ish wildcard algorithm, so no input can make it exponential.
 */
export function globMatch(parts: readonly ValuePart[], candidate: string): boolean {
  const pattern: Array<string | null> = [];
  for (const p of parts) {
    if (p.type === 'wildcard') pattern.push(null);
    else for (const ch of p.text.toLowerCase()) pattern.push(ch);
  }
  const text = Array.from(candidate.toLowerCase());
  let pi = 0;
  let ti = 0;
  let starPi = -1;
  let starTi = 0;
  while (ti < text.length) {
    const p = pattern[pi];
    if (pi < pattern.length && p !== null && p === text[ti]) {
      pi += 1;
      ti += 1;
    } else if (pi < pattern.length && p === null) {
      starPi = pi;
      starTi = ti;
      pi += 1;
    } else if (starPi >= 0) {
      pi = starPi + 1;
      starTi += 1;
      ti = starTi;
    } else {
      return false;
    }
  }
  while (pi < pattern.length && pattern[pi] === null) pi += 1;
  return pi === pattern.length;
}

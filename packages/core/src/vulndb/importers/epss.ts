/**
 * FIRST EPSS daily CSV:
 *   #model_version:v2023.03.01,score_date:2025-02-20T00:00:00+0000
 *   cve,epss,percentile
 *   CVE-1999-0001,0.00383,0.73075
 * The metadata line gives the date every row is scored for. Parsed a line at a time (the full file has ~300k rows).
 */
import type { EpssEntry } from '../model.js';
import { CVE_PATTERN, skip, type Skip } from './types.js';

export function looksLikeEpss(head: string): boolean {
  const first = head.replace(/^\uFEFF/, '').trimStart();
  return first.startsWith('#model_version') || /^cve,epss,percentile\s*(\r?\n|$)/.test(first);
}

export class EpssParser {
  date: string | null = null;
  modelVersion: string | null = null;

  /** One line → an entry, a skip, or null for metadata/header/blank lines. */
  line(raw: string): EpssEntry | Skip | null {
    const line = raw.replace(/^\uFEFF/, '').trim();
    if (line === '') return null;
    if (line.startsWith('#')) {
      for (const part of line.slice(1).split(',')) {
        const at = part.indexOf(':');
        if (at < 0) continue;
        const k = part.slice(0, at).trim();
        const v = part.slice(at + 1).trim();
        if (k === 'score_date') this.date = /^\d{4}-\d{2}-\d{2}/.exec(v)?.[0] ?? null;
        if (k === 'model_version') this.modelVersion = v;
      }
      return null;
    }
    if (line.toLowerCase() === 'cve,epss,percentile') return null;
    const cols = line.split(',');
    if (cols.length !== 3) return skip('invalid', `expected 3 columns: ${JSON.stringify(line.slice(0, 60))}`);
    const [cve = '', e = '', p = ''] = cols;
    if (!CVE_PATTERN.test(cve)) return skip('invalid', `not a CVE id: ${JSON.stringify(cve.slice(0, 40))}`);
    const score = Number(e);
    const percentile = Number(p);
    if (e === '' || p === '' || !Number.isFinite(score) || !Number.isFinite(percentile) || score < 0 || score > 1 || percentile < 0 || percentile > 1) {
      return skip('invalid', `${cve}: score or percentile outside [0, 1]`, cve);
    }
    return { cve, score, percentile, date: this.date };
  }
}

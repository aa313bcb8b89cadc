/**
 * CISA Known Exploited Vulnerabilities catalog (JSON): { catalogVersion, dateReleased, count, vulnerabilities: [
 * { cveID, dateAdded, dueDate, knownRansomwareCampaignUse, ... } ] }. Joined to findings by CVE.
 */
import { arr, isObject, str } from '../../util/json.js';
import type { KevEntry } from '../model.js';
import { CVE_PATTERN, skip, type Skip } from './types.js';

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export function looksLikeKev(v: unknown): boolean {
  return isObject(v) && typeof v['catalogVersion'] === 'string' && Array.isArray(v['vulnerabilities']);
}

export interface KevDocument {
  readonly catalogVersion: string | null;
  readonly entries: (KevEntry | Skip)[];
}

export function parseKevEntry(v: unknown): KevEntry | Skip {
  if (!isObject(v)) return skip('invalid', 'KEV entry is not an object');
  const cve = str(v, 'cveID');
  if (cve === null || !CVE_PATTERN.test(cve)) return skip('invalid', `KEV entry with cveID ${JSON.stringify(v['cveID'])}`.slice(0, 120));
  const dateAdded = str(v, 'dateAdded');
  if (dateAdded === null || !DATE.test(dateAdded)) return skip('invalid', `${cve}: dateAdded is not a date`, cve);
  const due = str(v, 'dueDate');
  return {
    cve,
    dateAdded,
    dueDate: due !== null && DATE.test(due) ? due : null,
    knownRansomwareCampaignUse: str(v, 'knownRansomwareCampaignUse'),
  };
}

export function parseKev(doc: unknown): KevDocument {
  if (!isObject(doc)) return { catalogVersion: null, entries: [skip('invalid', 'KEV document is not an object')] };
  return { catalogVersion: str(doc, 'catalogVersion'), entries: (arr(doc, 'vulnerabilities') ?? []).map(parseKevEntry) };
}

/** The format tests' report fixture (report.json, written by make-report.mts) and the hostile string in it. */
import { readFileSync } from 'node:fs';
import type { ScanReport } from '../../model/report.js';

/** In names, versions, paths, createdBy, vendor, licenses and summaries of the fixture. */
export const HOSTILE = '<img src=x onerror=alert(1)> "quoted" \'single\' ]]> &amp;\nsecond line\u0007\u001b[31m\u0000';

export function loadReport(): ScanReport {
  return JSON.parse(readFileSync(new URL('./report.json', import.meta.url), 'utf8')) as ScanReport;
}

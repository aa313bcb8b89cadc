import { readFileSync } from 'node:fs';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import type { ScanReport } from '../model/report.js';

const schema: unknown = JSON.parse(readFileSync(new URL('../../../../docs/report.schema.json', import.meta.url), 'utf8'));
const ajv = new Ajv.default({ allErrors: true, strict: true });
addFormats.default(ajv);
const validate = ajv.compile(schema as object);

/** Throws unless `report` (as JSON) matches docs/report.schema.json, and checks the cross-references the schema cannot. */
export function validateReport(report: ScanReport): void {
  const json: unknown = JSON.parse(JSON.stringify(report));
  if (!validate(json)) throw new Error(`report does not match docs/report.schema.json: ${ajv.errorsText(validate.errors, { separator: '\n' })}`);
  const layers = report.image.layers.length;
  const ids = new Set(report.packages.map((p) => p.id));
  for (const p of report.packages) if (p.layer.index >= layers) throw new Error(`package ${p.name}: layer ${p.layer.index} out of range`);
  for (const v of report.vulnerabilities ?? []) {
    if (!ids.has(v.packageId)) throw new Error(`finding ${v.id}: packageId ${v.packageId} is not a package`);
    if (v.layer.index >= layers) throw new Error(`finding ${v.id}: layer out of range`);
  }
  if (report.image.layers.reduce((n, l) => n + l.packages.os + l.packages.lang, 0) !== report.packages.length) {
    throw new Error('per-layer package counts do not sum to the package count');
  }
}

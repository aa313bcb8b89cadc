/**
 * Test support: validators for the official CycloneDX 1.6, SPDX 2.3 and SARIF 2.1.0 JSON Schemas, read from the
 * team's copies in ../shared/schemas (see its README; override the folder with TALLY_SHARED_SCHEMAS). Nothing is
 * fetched. Each validator also checks what its schema cannot express (references between elements, id syntax,
 * SPDX license expressions, GitHub code scanning's extra rules), and throws with every problem listed.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Ajv from 'ajv';
import AjvDraft04 from 'ajv-draft-04';
import addFormats from 'ajv-formats';
import parseSpdxExpression from 'spdx-expression-parse';

const SCHEMAS_DIR = process.env['TALLY_SHARED_SCHEMAS'] ?? fileURLToPath(new URL('../../../../../shared/schemas/', import.meta.url));

function loadSchema(file: string): Record<string, unknown> {
  const path = join(SCHEMAS_DIR, file);
  if (!existsSync(path)) throw new Error(`official schema missing: ${path} (set TALLY_SHARED_SCHEMAS to the shared/schemas folder)`);
  return JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;
}

/** RFC 3987 IRI reference, loosely: parses as a URL relative to a base, with no spaces, controls or delimiters. */
function isIriReference(s: string): boolean {
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u0020\u007f<>"{}|\\^`]/.test(s)) return false;
  try {
    new URL(s, 'http://base.invalid/');
    return true;
  } catch {
    return false;
  }
}

type Validate = ((data: unknown) => boolean) & { errors?: unknown };

function compiled(make: () => { ajv: { errorsText(e: never): string }; validate: Validate }): (doc: unknown) => string[] {
  let cache: ReturnType<typeof make> | undefined;
  return (doc) => {
    cache ??= make();
    if (cache.validate(doc)) return [];
    return [cache.ajv.errorsText(cache.validate.errors as never)];
  };
}

const cyclonedxSchema = compiled(() => {
  // the SPDX id list carries a non-standard `meta:enum` keyword: strict mode would refuse it
  const ajv = new Ajv.default({ allErrors: true, strict: false });
  addFormats.default(ajv);
  ajv.addFormat('iri-reference', isIriReference);
  ajv.addFormat('idn-email', /^[^\s@]+@[^\s@]+$/u);
  ajv.addSchema(loadSchema('cyclonedx/spdx.schema.json'));
  ajv.addSchema(loadSchema('cyclonedx/jsf-0.82.schema.json'));
  return { ajv, validate: ajv.compile(loadSchema('cyclonedx/bom-1.6.schema.json')) };
});

const spdxSchema = compiled(() => {
  const ajv = new Ajv.default({ allErrors: true, strict: false });
  addFormats.default(ajv);
  return { ajv, validate: ajv.compile(loadSchema('spdx-schema-2.3.json')) };
});

const sarifSchema = compiled(() => {
  // draft-04 (`id`, not `$id`): Ajv 8 core cannot load it, ajv-draft-04 can
  const ajv = new AjvDraft04.default({ allErrors: true, strict: false });
  // ajv-formats is typed against the main Ajv class; the draft-04 class has the same addFormat API
  addFormats.default(ajv as unknown as Ajv.default);
  return { ajv, validate: ajv.compile(loadSchema('sarif-schema-2.1.0.json')) };
});

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const list = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
const objs = (v: unknown): Obj[] => list(v).filter(isObj);

function raise(kind: string, problems: string[]): void {
  if (problems.length > 0) throw new Error(`${kind} is not valid:\n${problems.slice(0, 50).join('\n')}`);
}

/** CycloneDX 1.6 schema, plus: bom-refs unique; every dependency and affects ref names a bom-ref. */
export function validateCycloneDx(doc: unknown): void {
  const problems = cyclonedxSchema(doc);
  if (isObj(doc)) {
    const refs = new Set<string>();
    const note = (ref: unknown): void => {
      if (typeof ref !== 'string') return;
      if (refs.has(ref)) problems.push(`duplicate bom-ref ${ref}`);
      refs.add(ref);
    };
    const meta = isObj(doc['metadata']) ? doc['metadata'] : {};
    if (isObj(meta['component'])) note(meta['component']['bom-ref']);
    const walk = (components: unknown): void => {
      for (const c of objs(components)) {
        note(c['bom-ref']);
        walk(c['components']);
      }
    };
    walk(doc['components']);
    for (const v of objs(doc['vulnerabilities'])) note(v['bom-ref']);
    for (const d of objs(doc['dependencies'])) {
      for (const r of [d['ref'], ...list(d['dependsOn'])]) if (typeof r === 'string' && !refs.has(r)) problems.push(`dependency names unknown bom-ref ${r}`);
    }
    for (const v of objs(doc['vulnerabilities'])) {
      for (const a of objs(v['affects'])) if (typeof a['ref'] !== 'string' || !refs.has(a['ref'])) problems.push(`vulnerability ${String(v['id'])} affects unknown ref ${String(a['ref'])}`);
    }
  }
  raise('CycloneDX', problems);
}

const SPDX_ID = /^SPDXRef-[A-Za-z0-9.-]+$/;
const LICENSE_REF = /^LicenseRef-[A-Za-z0-9.-]+$/;

function licenseRefsOf(node: parseSpdxExpression.Info, out: string[]): void {
  if ('license' in node) {
    if (node.license.startsWith('LicenseRef-')) out.push(node.license);
  } else {
    licenseRefsOf(node.left, out);
    licenseRefsOf(node.right, out);
  }
}

/**
 * SPDX 2.3 schema, plus what the spec requires and the schema does not check: element id syntax and uniqueness,
 * relationships between existing elements, `created` without fractional seconds, license fields that parse as
 * SPDX expressions, and a hasExtractedLicensingInfos entry for every LicenseRef used.
 */
export function validateSpdx(doc: unknown): void {
  const problems = spdxSchema(doc);
  if (isObj(doc)) {
    const created = isObj(doc['creationInfo']) ? doc['creationInfo']['created'] : undefined;
    if (typeof created !== 'string' || !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(created)) problems.push(`creationInfo.created ${String(created)} is not YYYY-MM-DDThh:mm:ssZ`);
    const ns = doc['documentNamespace'];
    if (typeof ns !== 'string' || ns.includes('#') || !/^[a-z][a-z0-9+.-]*:/i.test(ns) || !isIriReference(ns)) problems.push(`documentNamespace ${String(ns)} is not an absolute URI without '#'`);
    const ids = new Set<string>(['SPDXRef-DOCUMENT']);
    const extracted = new Set<string>();
    for (const e of objs(doc['hasExtractedLicensingInfos'])) {
      const id = e['licenseId'];
      if (typeof id !== 'string' || !LICENSE_REF.test(id)) problems.push(`bad extracted license id ${String(id)}`);
      else extracted.add(id);
    }
    for (const p of objs(doc['packages'])) {
      const id = p['SPDXID'];
      if (typeof id !== 'string' || !SPDX_ID.test(id)) problems.push(`bad SPDXID ${String(id)}`);
      else if (ids.has(id)) problems.push(`duplicate SPDXID ${id}`);
      else ids.add(id);
      for (const field of ['licenseDeclared', 'licenseConcluded']) {
        const v = p[field];
        if (v === undefined || v === 'NOASSERTION' || v === 'NONE') continue;
        try {
          const refs: string[] = [];
          licenseRefsOf(parseSpdxExpression(String(v)), refs);
          for (const r of refs) if (!extracted.has(r)) problems.push(`${String(id)} ${field} uses undeclared ${r}`);
        } catch {
          problems.push(`${String(id)} ${field} is not an SPDX expression: ${String(v)}`);
        }
      }
      for (const r of objs(p['externalRefs'])) {
        if (r['referenceType'] === 'purl' && !(typeof r['referenceLocator'] === 'string' && r['referenceLocator'].startsWith('pkg:'))) problems.push(`${String(id)} has a bad purl`);
      }
    }
    for (const r of objs(doc['relationships'])) {
      for (const end of [r['spdxElementId'], r['relatedSpdxElement']]) if (typeof end !== 'string' || !ids.has(end)) problems.push(`relationship names unknown element ${String(end)}`);
    }
  }
  raise('SPDX', problems);
}

/**
 * SARIF 2.1.0 schema, plus GitHub code scanning's reading of it: every result names a rule of the driver (ruleId
 * and ruleIndex agree), has a level, and at least one location with an artifact URI and a region startLine;
 * a rule's `security-severity` is a number 0–10 as a string, on a rule tagged "security".
 */
export function validateSarif(doc: unknown): void {
  const problems = sarifSchema(doc);
  if (isObj(doc)) {
    for (const run of objs(doc['runs'])) {
      const tool = isObj(run['tool']) ? run['tool'] : {};
      const driver = isObj(tool['driver']) ? tool['driver'] : {};
      const rules = objs(driver['rules']);
      const ruleIds = rules.map((r) => r['id']);
      if (new Set(ruleIds).size !== ruleIds.length) problems.push('duplicate rule ids');
      for (const r of rules) {
        const props = isObj(r['properties']) ? r['properties'] : {};
        const sev = props['security-severity'];
        if (sev !== undefined) {
          if (typeof sev !== 'string' || !/^\d+(\.\d+)?$/.test(sev) || Number(sev) > 10) problems.push(`rule ${String(r['id'])}: security-severity ${String(sev)}`);
          if (!list(props['tags']).includes('security')) problems.push(`rule ${String(r['id'])}: security-severity without the "security" tag`);
        }
        for (const f of ['shortDescription', 'fullDescription', 'help']) if (!isObj(r[f]) || typeof r[f]['text'] !== 'string') problems.push(`rule ${String(r['id'])}: no ${f}.text`);
      }
      for (const res of objs(run['results'])) {
        const idx = res['ruleIndex'];
        if (typeof idx !== 'number' || ruleIds[idx] !== res['ruleId']) problems.push(`result ${String(res['ruleId'])}: ruleIndex ${String(idx)} does not name it`);
        if (!['error', 'warning', 'note', 'none'].includes(String(res['level']))) problems.push(`result ${String(res['ruleId'])}: level ${String(res['level'])}`);
        const locs = objs(res['locations']);
        if (locs.length === 0 || locs.length > 10) problems.push(`result ${String(res['ruleId'])}: ${locs.length} locations (GitHub wants 1 to 10)`);
        for (const l of locs) {
          const phys = isObj(l['physicalLocation']) ? l['physicalLocation'] : {};
          const art = isObj(phys['artifactLocation']) ? phys['artifactLocation'] : {};
          const region = isObj(phys['region']) ? phys['region'] : {};
          if (typeof art['uri'] !== 'string' || art['uri'] === '' || art['uri'].startsWith('/')) problems.push(`result ${String(res['ruleId'])}: artifact uri ${String(art['uri'])}`);
          if (typeof region['startLine'] !== 'number' || region['startLine'] < 1) problems.push(`result ${String(res['ruleId'])}: no region.startLine`);
        }
      }
    }
  }
  raise('SARIF', problems);
}

/**
 * OpenVEX documents (`--vex FILE`, spec v0.2.0, https://github.com/openvex/spec): a supplier's statements that
 * their product is or is not affected by a vulnerability.
 *
 * What Tally reads:
 * - the document (`@context` https://openvex.dev/ns…, `statements`), bare or as the predicate of an in-toto
 *   statement (how `vexctl attest` ships it);
 * - each statement's `vulnerability` (`name`, `@id`, `aliases`; a bare string in pre-0.2 documents), `products`
 *   (`@id`, `identifiers.purl`, `hashes`, `subcomponents`; bare strings and statement-level `subcomponents` in
 *   pre-0.2 documents), `status`, `justification`, `impact_statement`, `action_statement`, `status_notes`, and the
 *   `timestamp` (inherited from the document when the statement has none).
 *
 * When a statement applies to a finding (one of its vulnerability names is the finding's id or an alias, and):
 * - a product names the finding's package by purl (OpenVEX purl matching: the product's version, qualifiers and
 *   subpath, where given, must be the package's; see purl-match.ts), and the product lists no subcomponents; or
 * - a product is the scanned image (a `pkg:oci` purl whose digest, a bare `sha256:` digest, a `name@sha256:`
 *   reference or a `sha-256` hash equal to the image id, manifest digest or a repo digest) and either lists no
 *   subcomponents (the statement covers every package of the image) or lists one that names the package; or
 * - a product names another package of the same image and a subcomponent names the finding's package (a library
 *   inside an application the supplier vouches for).
 * Among the statements that apply, the latest (timestamp, then position: later documents and later statements
 * win) decides, as OpenVEX statements are a history in which each overrides the ones before.
 *
 * Documents that break the spec's MUSTs a scanner relies on (no status, a status not in the list, `not_affected`
 * without justification or impact_statement, an unknown justification label, a statement naming no product) are
 * refused: a gate must not pass on a statement nobody can check.
 */
import { TallyError } from '../model/errors.js';
import type { Package } from '../model/package.js';
import { VEX_JUSTIFICATIONS, VEX_STATUSES, type Finding, type ReportImage, type VexJustification, type VexStatementRef } from '../model/report.js';
import { readCapped } from './ignore.js';
import { parsePurl, purlCovers, type PurlParts } from './purl-match.js';

/** VEX documents of whole product lines run to megabytes; this is generous and still bounds JSON.parse's memory. */
export const MAX_VEX_BYTES = 64 * 1024 * 1024;

export interface VexComponent {
  /** Package purls it is identified by (not pkg:oci). */
  readonly purls: readonly PurlParts[];
  /** Image digests (`sha256:…`) it is identified by. */
  readonly digests: readonly string[];
}

export interface VexProduct extends VexComponent {
  readonly subcomponents: readonly VexComponent[];
}

export interface VexStatement {
  readonly ref: VexStatementRef;
  /** Upper-cased vulnerability names: `name`, `aliases`, `@id` and the last segment of a URL `@id`. */
  readonly names: ReadonlySet<string>;
  readonly products: readonly VexProduct[];
  /** Effective timestamp in ms since the epoch; null when neither the statement nor the document has one. */
  readonly time: number | null;
}

export interface VexDocument {
  readonly source: string;
  readonly documentId: string | null;
  readonly statements: readonly VexStatement[];
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

const DATE_TIME = /^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;
const DIGEST = /^sha256:[0-9a-f]{64}$/;

class Problems {
  readonly list: string[] = [];
  constructor(private readonly source: string) {}
  add(where: string, message: string): void {
    this.list.push(`${where}: ${message}`);
  }
  raise(): void {
    if (this.list.length === 0) return;
    const shown = this.list.slice(0, 5).join('; ');
    throw new TallyError('USAGE', `VEX document ${this.source}: ${shown}${this.list.length > 5 ? ` (and ${this.list.length - 5} more problems)` : ''}`);
  }
}

export async function readVexFile(path: string, maxBytes = MAX_VEX_BYTES): Promise<VexDocument> {
  return parseOpenVex(await readCapped(path, maxBytes, 'VEX document'), path);
}

export function parseOpenVex(text: string, source: string): VexDocument {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TallyError('USAGE', `VEX document ${source}: not JSON (${(err as Error).message})`);
  }
  // `vexctl attest` wraps the document as the predicate of an in-toto statement
  if (isObj(json) && typeof json['predicateType'] === 'string' && json['predicateType'].startsWith('https://openvex.dev/ns') && isObj(json['predicate'])) {
    json = json['predicate'];
  }
  const problems = new Problems(source);
  if (!isObj(json)) throw new TallyError('USAGE', `VEX document ${source}: not an OpenVEX document (a JSON object is expected)`);
  const context = json['@context'];
  if (typeof context !== 'string' || !context.startsWith('https://openvex.dev/ns')) {
    throw new TallyError('USAGE', `VEX document ${source}: not an OpenVEX document (@context ${JSON.stringify(context ?? null)}, expected https://openvex.dev/ns/v0.2.0)`);
  }
  const documentId = optionalString(json, '@id', 'document', problems);
  optionalString(json, 'author', 'document', problems);
  optionalString(json, 'role', 'document', problems);
  optionalString(json, 'tooling', 'document', problems);
  const docTime = optionalTime(json, 'timestamp', 'document', problems);
  optionalTime(json, 'last_updated', 'document', problems);
  const version = json['version'];
  if (version !== undefined && !(Number.isInteger(version) || (typeof version === 'string' && /^\d+$/.test(version)))) problems.add('document', '"version" must be an integer');
  const rawStatements = json['statements'];
  if (!Array.isArray(rawStatements)) {
    problems.add('document', '"statements" must be a list');
    problems.raise();
  }
  const statements: VexStatement[] = [];
  (rawStatements as unknown[]).forEach((raw, i) => {
    const s = parseStatement(raw, `statements[${i}]`, source, documentId, docTime, problems);
    if (s) statements.push(s);
  });
  problems.raise();
  return { source, documentId, statements };
}

function optionalString(o: Obj, key: string, where: string, problems: Problems): string | null {
  const v = o[key];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') {
    problems.add(where, `"${key}" must be a string`);
    return null;
  }
  return v;
}

function optionalTime(o: Obj, key: string, where: string, problems: Problems): { text: string; ms: number } | null {
  const v = optionalString(o, key, where, problems);
  if (v === null) return null;
  const ms = DATE_TIME.test(v) ? Date.parse(v) : NaN;
  if (Number.isNaN(ms)) {
    problems.add(where, `"${key}" ${JSON.stringify(v)} is not an RFC 3339 date-time`);
    return null;
  }
  return { text: v, ms };
}

function stringList(o: Obj, key: string, where: string, problems: Problems): string[] {
  const v = o[key];
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x): x is string => typeof x === 'string')) {
    problems.add(where, `"${key}" must be a list of strings`);
    return [];
  }
  return v;
}

function parseStatement(
  raw: unknown,
  where: string,
  source: string,
  documentId: string | null,
  docTime: { text: string; ms: number } | null,
  problems: Problems,
): VexStatement | null {
  if (!isObj(raw)) {
    problems.add(where, 'a statement must be an object');
    return null;
  }
  const before = problems.list.length;
  const statementId = optionalString(raw, '@id', where, problems);

  const names = new Set<string>();
  const vuln = raw['vulnerability'];
  if (typeof vuln === 'string' && vuln.trim() !== '') {
    names.add(vuln.trim().toUpperCase()); // pre-0.2 documents: the id itself
  } else if (isObj(vuln)) {
    const name = optionalString(vuln, 'name', `${where}.vulnerability`, problems);
    if (name === null || name.trim() === '') problems.add(`${where}.vulnerability`, '"name" is required');
    else names.add(name.trim().toUpperCase());
    const id = optionalString(vuln, '@id', `${where}.vulnerability`, problems);
    if (id !== null) {
      names.add(id.toUpperCase());
      // an IRI such as https://nvd.nist.gov/vuln/detail/CVE-2021-44228 ends with the id scanners know
      const last = id.replace(/[/#?]+$/, '').split(/[/#]/).pop();
      if (last && id.includes('/')) names.add(last.toUpperCase());
    }
    for (const a of stringList(vuln, 'aliases', `${where}.vulnerability`, problems)) if (a.trim() !== '') names.add(a.trim().toUpperCase());
    optionalString(vuln, 'description', `${where}.vulnerability`, problems);
  } else {
    problems.add(where, '"vulnerability" is required (an object with a "name")');
  }

  const statusText = raw['status'];
  const status = VEX_STATUSES.find((s) => s === statusText);
  if (!status) problems.add(where, `"status" ${JSON.stringify(statusText ?? null)} is not one of ${VEX_STATUSES.join(', ')}`);

  const justText = optionalString(raw, 'justification', where, problems);
  let justification: VexJustification | null = null;
  if (justText !== null) {
    const j = VEX_JUSTIFICATIONS.find((x) => x === justText);
    if (!j) problems.add(where, `"justification" ${JSON.stringify(justText)} is not one of ${VEX_JUSTIFICATIONS.join(', ')}`);
    else justification = j;
  }
  const impactStatement = optionalString(raw, 'impact_statement', where, problems);
  const actionStatement = optionalString(raw, 'action_statement', where, problems);
  const statusNotes = optionalString(raw, 'status_notes', where, problems);
  optionalString(raw, 'supplier', where, problems);
  optionalTime(raw, 'last_updated', where, problems);
  optionalTime(raw, 'action_statement_timestamp', where, problems);
  const ownTime = optionalTime(raw, 'timestamp', where, problems);
  if (status === 'not_affected' && justification === null && (impactStatement === null || impactStatement.trim() === '')) {
    problems.add(where, '"not_affected" needs a "justification" or an "impact_statement" (OpenVEX: the reason is required)');
  }

  // pre-0.2 documents list subcomponents beside the products, for all of them
  const sharedSubs: VexComponent[] = [];
  const legacySubs = raw['subcomponents'];
  if (legacySubs !== undefined) {
    if (!Array.isArray(legacySubs)) problems.add(where, '"subcomponents" must be a list');
    else legacySubs.forEach((s, k) => {
      const c = parseComponent(s, `${where}.subcomponents[${k}]`, problems);
      if (c) sharedSubs.push(c);
    });
  }
  const products: VexProduct[] = [];
  const rawProducts = raw['products'];
  if (!Array.isArray(rawProducts) || rawProducts.length === 0) {
    problems.add(where, '"products" must list at least one product (a standalone document cannot inherit them)');
  } else {
    rawProducts.forEach((p, k) => {
      const w = `${where}.products[${k}]`;
      const c = parseComponent(p, w, problems);
      if (!c) return;
      const subs: VexComponent[] = [...sharedSubs];
      if (isObj(p) && p['subcomponents'] !== undefined) {
        if (!Array.isArray(p['subcomponents'])) problems.add(w, '"subcomponents" must be a list');
        else p['subcomponents'].forEach((s, m) => {
          const sc = parseComponent(s, `${w}.subcomponents[${m}]`, problems);
          if (sc) subs.push(sc);
        });
      }
      products.push({ ...c, subcomponents: subs });
    });
  }
  if (problems.list.length > before || !status) return null;
  const time = ownTime ?? docTime;
  return {
    ref: {
      source,
      rule: where,
      documentId,
      statementId,
      status,
      justification,
      impactStatement,
      actionStatement,
      statusNotes,
      timestamp: time?.text ?? null,
    },
    names,
    products,
    time: time?.ms ?? null,
  };
}

/**
 * A product or subcomponent: a string (pre-0.2) or an object with `@id`, `identifiers` and `hashes`. Identifiers
 * Tally cannot match (CPEs, other IRIs) are accepted and simply never match; a component with no identifier at
 * all is an error.
 */
function parseComponent(raw: unknown, where: string, problems: Problems): VexComponent | null {
  const ids: string[] = [];
  const digests: string[] = [];
  if (typeof raw === 'string') {
    ids.push(raw);
  } else if (isObj(raw)) {
    const id = optionalString(raw, '@id', where, problems);
    if (id !== null) ids.push(id);
    const identifiers = raw['identifiers'];
    if (identifiers !== undefined) {
      if (!isObj(identifiers)) problems.add(where, '"identifiers" must be an object (purl, cpe22, cpe23)');
      else for (const [k, v] of Object.entries(identifiers)) {
        if (typeof v !== 'string') problems.add(where, `identifiers.${k} must be a string`);
        else ids.push(v);
      }
    }
    const hashes = raw['hashes'];
    if (hashes !== undefined) {
      if (!isObj(hashes)) problems.add(where, '"hashes" must be an object (algorithm: value)');
      else for (const [alg, v] of Object.entries(hashes)) {
        if (typeof v !== 'string') problems.add(where, `hashes.${alg} must be a string`);
        else if (alg === 'sha-256') digests.push(`sha256:${v.toLowerCase()}`);
      }
    }
    if (ids.length === 0 && hashes === undefined) problems.add(where, 'a product or subcomponent needs an "@id", "identifiers" or "hashes"');
  } else {
    problems.add(where, 'must be an object with an "@id" (or a purl string)');
    return null;
  }
  const purls: PurlParts[] = [];
  for (const id of ids) {
    if (DIGEST.test(id.toLowerCase())) {
      digests.push(id.toLowerCase());
      continue;
    }
    const ref = /@(sha256:[0-9a-f]{64})$/i.exec(id);
    if (!id.startsWith('pkg:') && ref) {
      digests.push(ref[1]!.toLowerCase()); // an image reference: registry/repo@sha256:…
      continue;
    }
    if (!id.startsWith('pkg:')) continue;
    const p = parsePurl(id);
    if (!p) {
      problems.add(where, `${JSON.stringify(id)} is not a valid package URL`);
      continue;
    }
    if (p.type === 'oci') {
      // the digest identifies the image whatever it is called or where it was pulled from: the name and
      // repository_url of a pkg:oci purl are not known for a docker-archive or a layout on disk
      if (DIGEST.test(p.version.toLowerCase())) digests.push(p.version.toLowerCase());
    } else {
      purls.push(p);
    }
  }
  return { purls, digests };
}

/** The digests a VEX product may name the scanned image by. */
export function imageDigests(image: ReportImage): Set<string> {
  const out = new Set<string>();
  if (image.imageId) out.add(image.imageId);
  if (image.manifestDigest) out.add(image.manifestDigest);
  for (const d of image.repoDigests) {
    const at = d.lastIndexOf('@');
    if (at >= 0) out.add(d.slice(at + 1));
  }
  return out;
}

/** What statement matching needs to know about the scan: the image and its packages' purls. */
export interface VexSubject {
  readonly digests: ReadonlySet<string>;
  readonly packagePurls: readonly PurlParts[];
}

export function vexSubject(image: ReportImage, packages: readonly Package[]): VexSubject {
  const packagePurls: PurlParts[] = [];
  for (const p of packages) {
    const parsed = parsePurl(p.purl);
    if (parsed) packagePurls.push(parsed);
  }
  return { digests: imageDigests(image), packagePurls };
}

function namesComponent(c: VexComponent, purl: PurlParts | null): boolean {
  return purl !== null && c.purls.some((p) => purlCovers(p, purl));
}

/** Whether one statement speaks about a finding (see the module comment). */
export function statementApplies(s: VexStatement, finding: Finding, subject: VexSubject): boolean {
  if (!s.names.has(finding.id.toUpperCase()) && !finding.aliases.some((a) => s.names.has(a.toUpperCase()))) return false;
  const purl = parsePurl(finding.package.purl);
  for (const product of s.products) {
    const isImage = product.digests.some((d) => subject.digests.has(d));
    if (product.subcomponents.length === 0) {
      if (isImage || namesComponent(product, purl)) return true;
      continue;
    }
    if (!product.subcomponents.some((sc) => namesComponent(sc, purl))) continue;
    if (isImage || subject.packagePurls.some((p) => namesComponent(product, p))) return true;
  }
  return false;
}

/** The statement that decides a finding: the latest that applies, or null when none does. */
export function decidingStatement(docs: readonly VexDocument[], finding: Finding, subject: VexSubject): VexStatement | null {
  let best: VexStatement | null = null;
  for (const doc of docs) {
    for (const s of doc.statements) {
      if (!statementApplies(s, finding, subject)) continue;
      // later wins on equal or missing timestamps: the order of documents and statements is the history
      if (best === null || (s.time ?? -Infinity) >= (best.time ?? -Infinity)) best = s;
    }
  }
  return best;
}

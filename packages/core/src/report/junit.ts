/**
 * JUnit XML for CI test-report widgets: one <testsuite> for the image, one <testcase> per package
 * (classname = package type, name = name@version). A package with findings fails, with one <failure> listing them;
 * the others pass. Counts are in the attributes, as Jenkins, GitLab and the JUnit schema read them.
 *
 * Every name, version, path and summary comes from an image someone else built: all text goes through `xmlText`
 * or `xmlAttr` (no CDATA, so `]]>` needs no special case), and characters XML 1.0 cannot hold are replaced.
 */
import type { Package } from '../model/package.js';
import { SEVERITIES, type Finding, type ScanReport, type Severity } from '../model/report.js';
import { imageName } from '../sbom/image.js';
import { writeText, type Formatter } from './formatter.js';

/** XML 1.0 Char: tab, LF, CR, U+0020–U+D7FF, U+E000–U+FFFD, U+10000–U+10FFFF (lone surrogates are out too). */
function xmlChars(text: string): string {
  return text.replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD');
}

export function xmlText(text: string): string {
  return xmlChars(text).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Attribute values also escape quotes, and keep tab/LF/CR as references (a parser would fold them to spaces). */
export function xmlAttr(text: string): string {
  return xmlText(text).replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/\t/g, '&#9;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;');
}

const RANK: Readonly<Record<Severity, number>> = Object.fromEntries(SEVERITIES.map((s, i) => [s, i])) as Record<Severity, number>;

/** JUnit's timestamp is xs:dateTime without a zone in the common XSD; the value is UTC. */
function junitTimestamp(iso: string): string {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? '' : d.toISOString().replace(/\.\d{3}Z$/, '');
}

function failureMessage(findings: readonly Finding[]): string {
  const counts = SEVERITIES.map((s) => [s, findings.filter((f) => f.severity === s).length] as const).filter(([, n]) => n > 0);
  return `${findings.length} ${findings.length === 1 ? 'vulnerability' : 'vulnerabilities'}: ${counts.map(([s, n]) => `${n} ${s}`).join(', ')}`;
}

function findingLine(f: Finding): string {
  const fix = f.fixedVersions.length > 0 ? `fixed in ${f.fixedVersions.join(', ')}` : `no fix (${f.status})`;
  const summary = f.summary.replace(/\s+/g, ' ').trim();
  return `${f.id} [${f.severity}] ${fix}${f.kev ? ' [known exploited]' : ''}${summary ? ` - ${summary}` : ''}`;
}

function testcase(p: Package, findings: readonly Finding[]): string {
  const open = `    <testcase classname="${xmlAttr(p.type)}" name="${xmlAttr(`${p.name}@${p.version}`)}" file="${xmlAttr(p.locations[0] ?? '')}" time="0"`;
  if (findings.length === 0) return `${open}/>`;
  const sorted = [...findings].sort((a, b) => RANK[a.severity] - RANK[b.severity] || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const body = [
    `${p.name} ${p.version} (${p.type}) at ${p.locations.join(', ')}, layer ${p.layer.index}${p.layer.createdBy ? `: ${p.layer.createdBy.replace(/\s+/g, ' ')}` : ''}`,
    ...sorted.map(findingLine),
  ].join('\n');
  return [
    `${open}>`,
    `      <failure message="${xmlAttr(failureMessage(sorted))}" type="${sorted[0]!.severity}">${xmlText(body)}</failure>`,
    '    </testcase>',
  ].join('\n');
}

export function renderJunit(report: ScanReport): string {
  const findingsOf = new Map<string, Finding[]>();
  for (const f of report.vulnerabilities ?? []) {
    const list = findingsOf.get(f.packageId);
    if (list) list.push(f);
    else findingsOf.set(f.packageId, [f]);
  }
  const tests = report.packages.length;
  const failures = report.packages.filter((p) => (findingsOf.get(p.id)?.length ?? 0) > 0).length;
  const img = report.image;
  const name = imageName(img);
  const props: [string, string][] = [
    ['image.ref', img.ref],
    ...(img.imageId ? [['image.id', img.imageId] as [string, string]] : []),
    ...(img.os ? [['image.os', img.os.prettyName ?? `${img.os.name} ${img.os.version}`] as [string, string]] : []),
    ['scanTypes', report.scanTypes.join(',')],
    // without matching, every package "passes": say so, so nobody reads a green run as "no vulnerabilities"
    ['vulnerabilitiesMatched', String(report.vulnerabilities !== undefined)],
  ];
  const lines = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="tally" tests="${tests}" failures="${failures}" errors="0" skipped="0" time="0">`,
    `  <testsuite name="${xmlAttr(name)}" tests="${tests}" failures="${failures}" errors="0" skipped="0" time="0" timestamp="${junitTimestamp(report.scannedAt)}">`,
    '    <properties>',
    ...props.map(([k, v]) => `      <property name="${xmlAttr(k)}" value="${xmlAttr(v)}"/>`),
    '    </properties>',
    ...report.packages.map((p) => testcase(p, findingsOf.get(p.id) ?? [])),
    '  </testsuite>',
    '</testsuites>',
  ];
  return lines.join('\n') + '\n';
}

export const junitFormatter: Formatter = {
  name: 'junit',
  async write(report, out) {
    await writeText(out, renderJunit(report));
  },
};

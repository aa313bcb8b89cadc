import Table from 'cli-table3';
import pc from 'picocolors';
import type { Package } from '../model/package.js';
import { SEVERITIES, type ScanReport, type Severity } from '../model/report.js';
import { writeText, type Formatter } from './formatter.js';

/** Untrusted strings (package names, createdBy) must not move the cursor or recolour the terminal. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, '�');
}

function shorten(text: string, max: number): string {
  const flat = printable(text.replace(/\s+/g, ' ').trim());
  return flat.length > max ? flat.slice(0, max - 1) + '…' : flat;
}

function shortDigest(d: string | null): string {
  return d ? d.replace(/^sha256:/, '').slice(0, 12) : '-';
}

function size(bytes: number | null): string {
  if (bytes === null) return '-';
  const units = ['B', 'kB', 'MB', 'GB'];
  let v = bytes;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toFixed(u === 0 ? 0 : 1)} ${units[u]}`;
}

function table(head: string[], color: boolean): Table.Table {
  // cli-table3 writes ANSI codes even when piped unless its styles are emptied
  return new Table({ head: color ? head.map((h) => pc.bold(h)) : head, style: { head: [], border: [] } });
}

function packagesByLayer(packages: readonly Package[]): Map<number, Package[]> {
  const out = new Map<number, Package[]>();
  for (const p of packages) {
    const list = out.get(p.layer.index) ?? [];
    list.push(p);
    out.set(p.layer.index, list);
  }
  return out;
}

/** Human-readable report: image summary, layers with createdBy and package counts, packages by layer. */
export const tableFormatter: Formatter = {
  name: 'table',
  async write(report, out, { color }) {
    const bold = color ? pc.bold : (s: string) => s;
    const img = report.image;
    const lines: string[] = [];
    const os = img.os ? printable(img.os.prettyName ?? `${img.os.name} ${img.os.version}`) : 'unknown';
    lines.push(bold(printable(img.ref)));
    lines.push(`  Image ID:   ${img.imageId ?? '-'}`);
    if (img.manifestDigest) lines.push(`  Manifest:   ${img.manifestDigest}`);
    if (img.repoTags.length > 0) lines.push(`  Tags:       ${img.repoTags.map(printable).join(', ')}`);
    if (img.platform) lines.push(`  Platform:   ${[img.platform.os, img.platform.architecture, img.platform.variant].filter(Boolean).map((s) => printable(String(s))).join('/')}`);
    lines.push(`  OS:         ${os}`);
    if (img.created) lines.push(`  Created:    ${printable(img.created)}`);
    lines.push(`  Scan types: ${report.scanTypes.join(', ')}`);
    const s = report.summary.packages;
    lines.push(`  Packages:   ${s.total} (${s.os} OS, ${s.lang} language)`);
    const v = report.summary.vulnerabilities;
    if (v) lines.push(`  Vulnerabilities: ${SEVERITIES.map((sev) => `${v[sev]} ${sev}`).join(', ')}`);
    if (report.suppressed) {
      const vex = report.suppressed.filter((x) => x.by === 'vex').length;
      const expired = report.expiredIgnores?.length ?? 0;
      lines.push(`  Suppressed: ${report.suppressed.length} (${vex} by VEX, ${report.suppressed.length - vex} ignored); ${expired} ignore ${expired === 1 ? 'entry' : 'entries'} expired`);
    }
    lines.push('');

    lines.push(bold('Layers'));
    const layers = table(['#', 'Digest', 'Size', 'OS pkgs', 'Lang pkgs', 'Created by'], color);
    for (const l of img.layers) {
      layers.push([String(l.index), shortDigest(l.digest ?? l.diffId), size(l.size), String(l.packages.os), String(l.packages.lang), shorten(l.createdBy ?? '', 70)]);
    }
    lines.push(layers.toString(), '');

    const byLayer = packagesByLayer(report.packages);
    for (const l of img.layers) {
      const pkgs = byLayer.get(l.index);
      if (!pkgs) continue;
      lines.push(bold(`Packages introduced by layer ${l.index}`) + (l.createdBy ? `: ${shorten(l.createdBy, 80)}` : ''));
      const t = table(['Name', 'Version', 'Type', 'Location'], color);
      for (const p of pkgs) t.push([shorten(p.name, 50), shorten(p.version, 40), p.type, shorten(p.locations[0] ?? '', 60)]);
      lines.push(t.toString(), '');
    }

    if (report.vulnerabilities) lines.push(...vulnerabilityTables(report, color));

    if (report.issues.length > 0) {
      lines.push(bold(`Issues (${report.issues.length})`));
      for (const i of report.issues) {
        const where = [i.layer === null ? null : `layer ${i.layer}`, i.path ? printable(i.path) : null, i.extractor].filter(Boolean).join(' ');
        lines.push(`  ${where ? where + ': ' : ''}${printable(i.message)}`);
      }
      lines.push('');
    }
    await writeText(out, lines.join('\n') + '\n');
  },
};

const SEVERITY_COLOR: Record<Severity, (s: string) => string> = {
  CRITICAL: (s) => pc.bold(pc.red(s)),
  HIGH: pc.red,
  MEDIUM: pc.yellow,
  LOW: pc.blue,
  NEGLIGIBLE: pc.dim,
  UNKNOWN: pc.dim,
};

/** Findings grouped by severity, most severe first: the package, installed and fixed versions, the layer. */
function vulnerabilityTables(report: ScanReport, color: boolean): string[] {
  const findings = report.vulnerabilities ?? [];
  const lines: string[] = [];
  if (findings.length === 0) return [color ? pc.green('No vulnerabilities found') : 'No vulnerabilities found', ''];
  for (const severity of SEVERITIES) {
    const group = findings.filter((f) => f.severity === severity);
    if (group.length === 0) continue;
    const title = `${severity} (${group.length})`;
    lines.push(color ? SEVERITY_COLOR[severity](title) : title);
    const t = table(['ID', 'Package', 'Installed', 'Fixed', 'Status', 'Layer', 'Scan', 'KEV/EPSS'], color);
    for (const f of group) {
      const exploit = [f.kev ? 'KEV' : '', f.epss !== null ? `${(f.epss * 100).toFixed(1)}%` : ''].filter(Boolean).join(' ');
      t.push([
        shorten(f.id, 24),
        shorten(f.package.name, 40),
        shorten(f.package.version, 28),
        shorten(f.fixedVersions.join(', ') || '-', 28),
        f.status,
        String(f.layer.index),
        f.scanType,
        exploit || '-',
      ]);
    }
    lines.push(t.toString(), '');
  }
  return lines;
}

/**
 * The Debian security tracker's DSA and DLA lists (`data/DSA/list`, `data/DLA/list`):
 *
 *   [29 Mar 2023] DSA-5380-1 xorg-server - security update
 *   	{CVE-2023-1393}
 *   	[bullseye] - xorg-server 2:1.20.11-1+deb11u6
 *   	[woody] - mantis <not-affected> (Vulnerable code not present)
 *   	NOTE: fixed in testing at time of DSA
 *
 * One Advisory per DSA/DLA (id DSA-5380-1), `related` = its CVEs, one `affected` entry per release line, matched on
 * the SOURCE package named on that line. Release-line versions: a version → fixed; `<not-affected>` → not_affected;
 * `<unfixed>` → affected (open); `<end-of-life>` → end_of_life. A parenthesised note may carry an urgency
 * (`(bug #332524; medium)`) which becomes the entry's severity. Entries without release lines (announcements such
 * as "DSA-4205-1 jessie end-of-life") are skipped as `ignored`.
 *
 * The parser is a line-at-a-time state machine so the lists stream.
 */
import { normalizePackageName, type Advisory, type Affected, type VendorSeverity, type VendorStatus } from '../model.js';
import { DEBIAN_TRACKER_URL, debianEcosystem, debianUrgency } from './debian.js';
import { CVE_PATTERN, skip, type Parsed } from './types.js';

const HEADER = /^\[(\d{1,2}) ([A-Za-z]{3}) (\d{4})\]\s+((DSA|DLA)-\d+(?:-\d+)?)(?:\s+(.*))?$/;
const RELEASE = /^\[([a-z][a-z-]*)\]\s+-\s+(\S+)(?:\s+(.*))?$/;
const MONTHS: Readonly<Record<string, string>> = {
  jan: '01', feb: '02', mar: '03', apr: '04', may: '05', jun: '06', jul: '07', aug: '08', sep: '09', oct: '10', nov: '11', dec: '12',
};

/** True when the first non-empty line is a DSA/DLA list header. */
export function looksLikeDebianList(head: string): 'DSA' | 'DLA' | null {
  const first = head.split('\n').find((l) => l.trim() !== '') ?? '';
  const m = HEADER.exec(first.trim());
  return m ? (m[5] as 'DSA' | 'DLA') : null;
}

interface Entry {
  readonly id: string;
  readonly date: string | null;
  readonly title: string;
  readonly cves: string[];
  readonly affected: Affected[];
  readonly notes: string[];
}

function isoDate(day: string, mon: string, year: string): string | null {
  const m = MONTHS[mon.toLowerCase()];
  return m ? `${year}-${m}-${day.padStart(2, '0')}T00:00:00Z` : null;
}

/** `(bug #332524; medium)` → MEDIUM. Only whole words, so "(Vulnerable code not present)" gives nothing. */
function urgencyInNote(note: string): VendorSeverity['level'] | null {
  for (const word of note.toLowerCase().split(/[^a-z*]+/)) {
    const level = debianUrgency(word);
    if (level) return level;
  }
  return null;
}

export class DebianListParser {
  private entry: Entry | null = null;
  private readonly source: string;

  constructor(readonly kind: 'DSA' | 'DLA') {
    this.source = kind === 'DSA' ? 'debian-dsa' : 'debian-dla';
  }

  /** Feed one line; returns what the line completed (the previous entry, or a skipped line). */
  line(raw: string): Parsed[] {
    if (raw.trim() === '') return [];
    const out: Parsed[] = [];
    const header = raw.startsWith('[') ? HEADER.exec(raw.trimEnd()) : null;
    if (header) {
      const done = this.finish();
      if (done) out.push(done);
      const [, day = '', mon = '', year = '', id = '', , rest = ''] = header;
      this.entry = { id, date: isoDate(day, mon, year), title: rest.trim().replace(/\s+/g, ' '), cves: [], affected: [], notes: [] };
      return out;
    }
    const line = raw.trim();
    const entry = this.entry;
    if (entry === null) return [skip('invalid', `line outside an entry: ${JSON.stringify(line.slice(0, 80))}`)];
    if (line.startsWith('{')) {
      // `{CVE-… CVE-…}`; sometimes with spaces inside the braces.
      for (const token of line.replace(/[{}]/g, ' ').split(/\s+/)) if (CVE_PATTERN.test(token) && !entry.cves.includes(token)) entry.cves.push(token);
      return out;
    }
    if (line.startsWith('NOTE:')) {
      entry.notes.push(line);
      return out;
    }
    const rel = RELEASE.exec(line);
    if (!rel) return [skip('invalid', `${entry.id}: unrecognised line ${JSON.stringify(line.slice(0, 80))}`, entry.id)];
    const [, codename = '', pkg = '', restRaw = ''] = rel;
    const ecosystem = debianEcosystem(codename);
    if (ecosystem === null) return out; // sid and unknown codenames: nothing to match against
    const rest = restRaw.trim();
    const noteStart = rest.indexOf('(');
    const note = noteStart >= 0 ? rest.slice(noteStart) : '';
    const what = (noteStart >= 0 ? rest.slice(0, noteStart) : rest).trim();
    let status: VendorStatus;
    let fixed: string | null = null;
    if (what === '<not-affected>') status = 'not_affected';
    else if (what === '<unfixed>') status = 'affected';
    else if (what === '<end-of-life>') status = 'end_of_life';
    else if (/^[0-9][A-Za-z0-9.+~:-]*$/.test(what)) {
      status = 'fixed';
      fixed = what;
    } else return [skip('invalid', `${entry.id}: unrecognised release line ${JSON.stringify(line.slice(0, 80))}`, entry.id)];
    const level = urgencyInNote(note);
    entry.affected.push({
      ecosystem,
      package: normalizePackageName(ecosystem, pkg),
      ranges: fixed !== null
        ? [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }, { fixed }] }]
        : status === 'not_affected'
          ? []
          : [{ type: 'ECOSYSTEM', events: [{ introduced: '0' }] }],
      versions: [],
      status,
      ...(level ? { severity: { level, source: 'debian' } } : {}),
    });
    return out;
  }

  /** Call at end of input: the last entry. */
  end(): Parsed[] {
    const done = this.finish();
    return done ? [done] : [];
  }

  private finish(): Parsed | null {
    const e = this.entry;
    this.entry = null;
    if (e === null) return null;
    if (e.affected.length === 0) return skip('ignored', 'no release lines (announcement or sid-only entry)', e.id);
    const advisory: Advisory = {
      id: e.id,
      aliases: [],
      related: e.cves,
      source: this.source,
      summary: e.title,
      details: e.notes.join('\n'),
      published: e.date,
      modified: null,
      cvss: [],
      severity: null,
      references: [`${DEBIAN_TRACKER_URL}${e.id}`],
      affected: e.affected,
    };
    return { key: e.id, advisory };
  }
}

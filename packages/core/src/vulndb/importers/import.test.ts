import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { zipSync } from 'fflate';
import { SqliteVulnDb, VulnDbWriter } from '../store.js';
import { importFile, importPath, type FileImport, type ImportSummary } from './import.js';

const SHARED = fileURLToPath(new URL('../../../../../../shared/vulndb/', import.meta.url));
const sharedRaw = (name: string): Buffer => gunzipSync(readFileSync(join(SHARED, name)));
const sharedLines = (name: string): string[] => sharedRaw(name).toString('utf8').split('\n').filter((l) => l.trim() !== '');

let tmp = '';
before(() => {
  tmp = mkdtempSync(join(tmpdir(), 'tally-import-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

function fileOf(s: ImportSummary, name: string): FileImport {
  const f = s.files.find((x) => x.path.endsWith(`/${name}`));
  assert.ok(f, `${name} in summary`);
  return f;
}

describe('importPath on all of ../shared/vulndb', () => {
  it('recognises each file by content and imports every feed', async () => {
    const dbPath = join(tmp, 'shared.db');
    const w = VulnDbWriter.create(dbPath, { fresh: true });
    const s = await importPath(w, SHARED);
    w.commit();
    const expect: [string, string | null, FileImport['status'], number][] = [
      ['almalinux.osv.ndjson.gz', 'osv', 'imported', 5637], // + 43 verbatim duplicate lines (37 ids)
      ['alpine-secdb-2020.secdb.ndjson.gz', 'alpine-secdb', 'imported', 11878],
      ['cisa-kev.json.gz', 'kev', 'imported', 1404],
      ['cisa-kev.schema.json.gz', 'json-schema', 'skipped', 0],
      ['debian-dla-list.txt.gz', 'debian-dla', 'imported', 3530],
      ['debian-dsa-list.txt.gz', 'debian-dsa', 'imported', 5382],
      ['debian-tracker-json.sample.json.gz', 'debian-tracker', 'imported', 6],
      ['epss.sample.csv.gz', 'epss', 'imported', 5],
      ['ghsa-maven.osv.ndjson.gz', 'osv', 'imported', 2],
      ['ghsa-npm.osv.ndjson.gz', 'osv', 'imported', 11],
      ['ghsa-nuget.osv.ndjson.gz', 'osv', 'imported', 4],
      ['go-vulndb.osv.ndjson.gz', 'osv', 'imported', 4274],
      ['maven-osvdev-2024.osv.ndjson.gz', 'osv', 'imported', 356],
      ['nodejs-security-wg.ndjson.gz', 'nodejs-security-wg', 'imported', 638],
      ['osv-format-samples.osv.ndjson.gz', 'osv', 'imported', 16],
      ['pypi-pypa.osv.ndjson.gz', 'osv', 'imported', 2651],
      ['redhat-csaf.samples.ndjson.gz', 'csaf', 'imported', 4],
      ['redhat-vex.samples.ndjson.gz', 'csaf', 'imported', 2],
      ['README.md', null, 'unrecognised', 0],
      ['ghsa.sources.tsv', null, 'unrecognised', 0],
      ['osv-format-samples.sources.tsv', null, 'unrecognised', 0],
    ];
    for (const [name, format, status, imported] of expect) {
      const f = fileOf(s, name);
      assert.deepEqual([f.format, f.status, f.imported], [format, status, imported], name);
    }
    assert.equal(s.files.length, expect.length);
    assert.equal(fileOf(s, 'almalinux.osv.ndjson.gz').duplicates, 43);
    assert.equal(fileOf(s, 'ghsa-nuget.osv.ndjson.gz').withdrawn, 1);
    assert.equal(fileOf(s, 'go-vulndb.osv.ndjson.gz').withdrawn, 17);
    assert.equal(fileOf(s, 'pypi-pypa.osv.ndjson.gz').withdrawn, 10);
    assert.deepEqual(fileOf(s, 'almalinux.osv.ndjson.gz').container, ['gzip', 'ndjson']);
    assert.deepEqual(fileOf(s, 'debian-dsa-list.txt.gz').container, ['gzip', 'text']);
    assert.match(fileOf(s, 'cisa-kev.schema.json.gz').reason ?? '', /JSON Schema/);
    assert.equal(s.totals.filesFailed, 0);

    const db = SqliteVulnDb.open(dbPath);
    try {
      assert.deepEqual(db.affecting('npm', 'lodash').map((a) => a.id).filter((id) => id.startsWith('GHSA')).sort(), ['GHSA-35jh-r3h4-6jhm', 'GHSA-p6mc-m468-83gw']);
      assert.deepEqual(db.affecting('Maven', 'org.apache.logging.log4j:log4j-core').map((a) => a.id), ['GHSA-jfh8-c2jp-5v3q']);
      assert.ok(db.affecting('Debian:11', 'xorg-server').some((a) => a.id === 'DSA-5380-1'));
      assert.ok(db.affecting('Alpine:v3.11', 'xen').length > 50);
      assert.ok(db.byAlias('CVE-2021-44228').some((a) => a.id === 'GHSA-jfh8-c2jp-5v3q'));
      assert.equal(db.kev('CVE-2021-44228')?.dateAdded, '2021-12-10');
      assert.equal(db.epss('CVE-1999-0005')?.score, 0.91963);
      assert.equal(db.advisory('GHSA-8g9c-28fc-mcx2'), null, 'withdrawn records are not imported');
    } finally {
      db.close();
    }
  });
});

describe('importPath on hostile and odd input', () => {
  const osvLine = (id: string, extra: Record<string, unknown> = {}): string =>
    JSON.stringify({ id, modified: '2024-01-01T00:00:00Z', affected: [{ package: { ecosystem: 'npm', name: 'left-pad' }, ranges: [{ type: 'SEMVER', events: [{ introduced: '0' }, { fixed: '1.0.0' }] }] }], ...extra });

  it('counts malformed, huge, withdrawn, __proto__ and wrongly-typed lines and imports the rest', async () => {
    const dir = join(tmp, 'hostile');
    mkdirSync(dir, { recursive: true });
    const lines = [
      osvLine('GHSA-aaaa-aaaa-aaaa'),
      '{"id": "GHSA-bbbb", "affected": [ this is not json',
      osvLine('GHSA-cccc-cccc-cccc', { pad: 'x'.repeat(300_000) }),
      osvLine('GHSA-dddd-dddd-dddd', { withdrawn: '2024-02-02T00:00:00Z' }),
      '{"__proto__": {"polluted": true}, "id": "GHSA-eeee-eeee-eeee", "modified": "2024", "affected": []}',
      '{"id": 12345, "affected": []}',
      '[1, 2, 3]',
      '"a string"',
      '',
      osvLine('GHSA-ffff-ffff-ffff'),
    ];
    writeFileSync(join(dir, 'mixed.ndjson'), lines.join('\n'));
    const w = VulnDbWriter.create(join(tmp, 'hostile.db'), { fresh: true });
    const s = await importPath(w, join(dir, 'mixed.ndjson'), { limits: { maxLineBytes: 100_000 } });
    w.commit();
    const f = s.files[0];
    assert.ok(f);
    assert.equal(f.status, 'imported');
    assert.equal(f.imported, 3); // aaaa, eeee, ffff
    assert.equal(f.withdrawn, 1);
    assert.equal(f.invalid, 5); // malformed, too long, numeric id, array, string
    assert.ok(f.reasons.length <= 5);
    assert.ok(Object.keys(f.reasonCounts).some((k) => /longer than/.test(k)));
    assert.equal(({} as Record<string, unknown>)['polluted'], undefined);
  });

  it('groups loose OSV files of a directory into one source and reports the others', async () => {
    const dir = join(tmp, 'loose', 'osv');
    mkdirSync(dir, { recursive: true });
    const recs = sharedLines('ghsa-npm.osv.ndjson.gz');
    for (const r of recs) {
      const v = JSON.parse(r) as { id: string };
      writeFileSync(join(dir, `${v.id}.json`), JSON.stringify(v, null, 2));
    }
    writeFileSync(join(dir, 'package.json'), '{"name": "not-a-feed", "version": "1.0.0"}');
    writeFileSync(join(dir, 'broken.json'), '{"id": "GHSA-x", ');
    const w = VulnDbWriter.create(join(tmp, 'loose.db'), { fresh: true });
    const s = await importPath(w, join(tmp, 'loose'));
    w.commit();
    const group = s.files.find((x) => x.source?.startsWith('dir:'));
    assert.equal(group?.imported, recs.length);
    assert.equal(group?.files, recs.length);
    assert.deepEqual(group?.container, ['directory', 'json']);
    assert.equal(fileOf(s, 'package.json').status, 'unrecognised');
    assert.equal(fileOf(s, 'broken.json').status, 'failed');
    assert.match(fileOf(s, 'broken.json').reason ?? '', /invalid JSON/);
  });

  it('reads a pretty-printed single record, a JSON array, a gzip of a gzip, and refuses junk', async () => {
    const dir = join(tmp, 'shapes');
    mkdirSync(dir, { recursive: true });
    const recs = sharedLines('ghsa-maven.osv.ndjson.gz').map((l) => JSON.parse(l) as unknown);
    writeFileSync(join(dir, 'one.osv'), JSON.stringify(recs[0], null, 2));
    writeFileSync(join(dir, 'array.json.txt'), JSON.stringify(recs, null, 2));
    writeFileSync(join(dir, 'double.gz'), gzipSync(gzipSync(recs.map((r) => JSON.stringify(r)).join('\n'))));
    writeFileSync(join(dir, 'junk.bin'), Buffer.from([0, 1, 2, 3, 255, 0, 7]));
    writeFileSync(join(dir, 'empty'), '');
    writeFileSync(join(dir, 'unknown.json'), '[{"foo": 1}, {"bar": 2}]');
    const w = VulnDbWriter.create(join(tmp, 'shapes.db'), { fresh: true });
    const s = await importPath(w, dir);
    w.commit();
    assert.deepEqual([fileOf(s, 'one.osv').format, fileOf(s, 'one.osv').imported, fileOf(s, 'one.osv').container], ['osv', 1, ['json']]);
    assert.deepEqual([fileOf(s, 'array.json.txt').imported, fileOf(s, 'array.json.txt').container], [2, ['json-array']]);
    assert.deepEqual([fileOf(s, 'double.gz').imported, fileOf(s, 'double.gz').container], [2, ['gzip', 'gzip', 'ndjson']]);
    assert.match(fileOf(s, 'junk.bin').reason ?? '', /binary/);
    assert.equal(fileOf(s, 'empty').status, 'unrecognised');
    assert.equal(fileOf(s, 'unknown.json').status, 'unrecognised');
  });

  it('rolls back a truncated file and keeps what the previous import of it wrote', async () => {
    const path = join(tmp, 'trunc.ndjson.gz');
    const gz = gzipSync(sharedLines('go-vulndb.osv.ndjson.gz').slice(0, 200).join('\n'));
    writeFileSync(path, gz);
    const dbPath = join(tmp, 'trunc.db');
    const w = VulnDbWriter.create(dbPath, { fresh: true });
    assert.equal((await importFile(w, path)).imported, 200);
    writeFileSync(path, gz.subarray(0, Math.floor(gz.length * 0.6)));
    const r = await importFile(w, path);
    assert.equal(r.status, 'failed');
    assert.match(r.reason ?? '', /unexpected end of file/);
    assert.equal(w.source(`file:${path}`)?.advisories, 200);
    w.commit();
  });

  it('reads an osv.dev-style all.zip and resists a zip bomb and a lying entry', async () => {
    const recs = sharedLines('go-vulndb.osv.ndjson.gz').slice(0, 50);
    const files: Record<string, Uint8Array> = {};
    for (const r of recs) files[`${(JSON.parse(r) as { id: string }).id}.json`] = Buffer.from(r);
    files['bomb.json'] = new Uint8Array(3_000_000); // zeros: ~3000:1
    files['README.txt'] = Buffer.from('not json');
    const zipPath = join(tmp, 'all.zip');
    writeFileSync(zipPath, zipSync(files, { level: 9 }));
    const w = VulnDbWriter.create(join(tmp, 'zip.db'), { fresh: true });
    const r = await importFile(w, zipPath, { limits: { maxZipRatio: 100 } });
    assert.equal(r.status, 'imported');
    assert.equal(r.imported, 50);
    assert.deepEqual(r.container, ['zip']);
    assert.ok(r.reasons.some((x) => /zip bomb/.test(x.reason)));
    assert.equal(r.ignored, 1); // README.txt

    // Entry count and declared-size limits.
    const r2 = await importFile(w, zipPath, { limits: { maxZipEntries: 10 } });
    assert.equal(r2.status, 'failed');
    assert.match(r2.reason ?? '', /entries \(limit 10\)/);

    // An entry whose headers understate its size: yauzl refuses to inflate more than declared.
    const one = Buffer.from(zipSync({ 'x.json': Buffer.from(recs[0] ?? '') }, { level: 9 }));
    const cd = one.indexOf(Buffer.from([0x50, 0x4b, 0x01, 0x02]));
    one.writeUInt32LE(10, 22); // local header: uncompressed size
    one.writeUInt32LE(10, cd + 24); // central directory: uncompressed size
    const liar = join(tmp, 'liar.zip');
    writeFileSync(liar, one);
    const r3 = await importFile(w, liar);
    assert.equal(r3.status, 'failed');
    assert.match(r3.reason ?? '', /too many bytes|expected/i);
    w.commit();
  });

  it('skips an oversized package in a streamed Debian tracker document', async () => {
    const doc = { pkga: { 'CVE-2024-0001': { releases: { bookworm: { status: 'resolved', fixed_version: '1.0-1', urgency: 'low' } } } }, huge: { 'CVE-2024-0002': { description: 'x'.repeat(50_000), releases: {} } } };
    const path = join(tmp, 'tracker.json');
    writeFileSync(path, JSON.stringify(doc));
    const w = VulnDbWriter.create(join(tmp, 'tracker.db'), { fresh: true });
    const r = await importFile(w, path, { limits: { maxTrackerEntryBytes: 10_000 } });
    w.commit();
    assert.deepEqual([r.format, r.imported, r.invalid], ['debian-tracker', 1, 1]);
  });

  it('stops on abort', async () => {
    const w = VulnDbWriter.create(join(tmp, 'abort.db'), { fresh: true });
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(importPath(w, SHARED, { signal: ac.signal }), { code: 'ABORTED' });
    w.commit();
  });
});

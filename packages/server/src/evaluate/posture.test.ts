/**
 * Matching seeded by another thread (MatchSeeds): what an inspection worker matched for the first time is taken by the
 * main thread's matcher instead of matching again, with the same rows and the same "fresh" record as matching itself.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { SqliteVulnDb, type ScanReport } from '@tally/core';
import { scanReport, vulnDbFile } from '../testing/backend.js';
import { dictionaryRow } from '../store/packages.js';
import { PostureMatcher, storedOs, type Detections, type PackageInImage } from './posture.js';

describe('matching seeded by another thread', () => {
  const db = SqliteVulnDb.open(vulnDbFile({ debian: false }));
  after(() => db.close());
  const report = JSON.parse(scanReport('sca-node', { sca: true, match: false }).toString('utf8')) as ScanReport;
  const os = storedOs(report.image.os);
  const dicts = report.packages.map(dictionaryRow);
  const packages: PackageInImage[] = dicts.map((d, i) => ({ ...d, image_package_pk: 1000 + i, package_pk: 100 + i, scan_type: 'SCA', layer_index: 1 }));
  const empty = (): Detections => ({ rows: [], findings: new Map(), fresh: new Map() });

  it('gives the rows, findings, pairs and fresh pairs the main thread computes itself', () => {
    const worker = new PostureMatcher(db);
    const entries = worker.fresh(os, dicts);
    assert.equal(entries.length, new Set(dicts.map((d) => d.pkey)).size);
    assert.deepEqual(worker.fresh(os, dicts), [], 'each pair is fresh once');
    const seeded = new PostureMatcher(db);
    seeded.seed({ identity: 'same file', os, entries });
    const a = seeded.detections(1, os, packages, empty());
    const b = new PostureMatcher(db).detections(1, os, packages, empty());
    assert.ok(b.rows.length > 0, 'the image has findings');
    assert.deepEqual(a.rows, b.rows);
    assert.deepEqual([...a.findings], [...b.findings]);
    assert.deepEqual([...(a.pairs ?? [])], [...(b.pairs ?? [])]);
    assert.deepEqual([...(a.fresh ?? [])], [...(b.fresh ?? [])]);
    assert.equal(a.fresh?.size, entries.length, 'seeded pairs are recorded as fresh when first used');
    const again = seeded.detections(2, os, packages, empty());
    assert.equal(again.fresh?.size, 0, 'and only then');
  });

  it('takes the seeded result rather than matching again', () => {
    const entries = new PostureMatcher(db).fresh(os, dicts);
    const vulnerable = entries.find(([, m]) => m.templates.length > 0);
    assert.ok(vulnerable !== undefined);
    const seeded = new PostureMatcher(db);
    seeded.seed({ identity: 'same file', os, entries: entries.map(([k, m, b]) => (k === vulnerable[0] ? [k, { templates: [], signature: '' }, b] : [k, m, b])) });
    const rows = seeded.detections(1, os, packages, empty()).rows;
    const pk = packages.find((p) => p.pkey === vulnerable[0])?.package_pk;
    assert.equal(rows.filter((r) => r.package_pk === pk).length, 0);
    assert.ok(rows.length > 0);
  });
});

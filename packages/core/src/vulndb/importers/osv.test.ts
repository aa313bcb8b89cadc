import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { looksLikeOsv, parseOsv } from './osv.js';
import { isSkipped, type KeyedAdvisory, type Parsed } from './types.js';

const SHARED = new URL('../../../../../../shared/vulndb/', import.meta.url);
const records = (name: string): unknown[] =>
  gunzipSync(readFileSync(new URL(name, SHARED)))
    .toString('utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as unknown);
const advisories = (ps: readonly Parsed[]): KeyedAdvisory[] => ps.filter((p): p is KeyedAdvisory => !isSkipped(p));

describe('OSV records (real files)', () => {
  it('recognises every record of every OSV file', () => {
    for (const f of ['go-vulndb.osv.ndjson.gz', 'pypi-pypa.osv.ndjson.gz', 'almalinux.osv.ndjson.gz', 'maven-osvdev-2024.osv.ndjson.gz', 'ghsa-npm.osv.ndjson.gz', 'ghsa-nuget.osv.ndjson.gz', 'ghsa-maven.osv.ndjson.gz', 'osv-format-samples.osv.ndjson.gz']) {
      const rs = records(f);
      assert.ok(rs.every(looksLikeOsv), f);
      const ps = rs.map(parseOsv);
      assert.equal(ps.filter((p) => isSkipped(p) && p.skip === 'invalid').length, 0, f);
    }
  });
  it('skips the withdrawn GHSA NuGet record', () => {
    const ps = records('ghsa-nuget.osv.ndjson.gz').map(parseOsv);
    const w = ps.filter((p) => isSkipped(p) && p.skip === 'withdrawn');
    assert.deepEqual(w.map((p) => isSkipped(p) && p.id), ['GHSA-8g9c-28fc-mcx2']);
    assert.equal(advisories(ps).length, 4);
  });
  it('keeps Log4Shell\'s three ranges and GHSA severity, keyed by id', () => {
    const a = advisories(records('ghsa-maven.osv.ndjson.gz').map(parseOsv)).find((x) => x.key === 'GHSA-jfh8-c2jp-5v3q')?.advisory;
    assert.ok(a);
    assert.equal(a.source, 'osv:ghsa');
    const core = a.affected.find((f) => f.package === 'org.apache.logging.log4j:log4j-core');
    assert.deepEqual(core?.ranges[0]?.events.map((e) => Object.values(e)[0]).length, 2);
    assert.equal(a.affected.filter((f) => f.package === 'org.apache.logging.log4j:log4j-core').flatMap((f) => f.ranges).length, 3);
    assert.equal(a.severity?.level, 'CRITICAL');
    assert.ok(a.aliases.includes('CVE-2021-44228'));
  });
  it('normalises PyPI names and keeps Go stdlib', () => {
    const py = advisories(records('pypi-pypa.osv.ndjson.gz').map(parseOsv));
    assert.ok(py.every((a) => a.advisory.affected.every((f) => f.package === f.package.toLowerCase() && !/[_.]/.test(f.package))));
    const go = advisories(records('go-vulndb.osv.ndjson.gz').map(parseOsv));
    assert.ok(go.some((a) => a.advisory.affected.some((f) => f.package === 'stdlib' && f.ecosystem === 'Go')));
  });
  it('rejects hostile records without throwing', () => {
    const bad: unknown[] = [null, 5, 'x', [], { id: 5, affected: [] }, { id: '', modified: 'x' }, { id: 'x'.repeat(500), modified: 'x' }, { id: 'GHSA-1', affected: 'nope', aliases: [1, 'CVE-2020-1'] }];
    const ps = bad.map(parseOsv);
    assert.deepEqual(ps.slice(0, 7).map((p) => isSkipped(p) && p.skip), ['invalid', 'invalid', 'invalid', 'invalid', 'invalid', 'invalid', 'invalid']);
    // A record with wrongly-typed fields still imports what is well-typed.
    const last = ps[7];
    assert.ok(last && !isSkipped(last));
    assert.deepEqual(last.advisory.affected, []);
    assert.deepEqual(last.advisory.aliases, ['CVE-2020-1']);
    const proto = parseOsv(JSON.parse('{"id":"GHSA-2","modified":"2020","__proto__":{"admin":true},"affected":[{"package":{"ecosystem":"npm","name":"__proto__"}}]}'));
    assert.ok(!isSkipped(proto));
    assert.equal(proto.advisory.affected[0]?.package, '__proto__');
    assert.equal(({} as Record<string, unknown>)['admin'], undefined);
  });
});

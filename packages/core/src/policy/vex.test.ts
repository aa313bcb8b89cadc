import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isTallyError } from '../model/errors.js';
import type { Finding } from '../model/report.js';
import { IMAGE_ID, lodashHigh, log4shell, MANIFEST_DIGEST, opensslMedium, REPO_DIGEST, report } from './testdata/fixtures.js';
import { decidingStatement, parseOpenVex, vexSubject, type VexDocument } from './vex.js';

const CONTEXT = 'https://openvex.dev/ns/v0.2.0';

/** An OpenVEX v0.2.0 document as vexctl writes it, around the given statements. */
function doc(statements: unknown[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    '@context': CONTEXT,
    '@id': 'https://vex.example.com/docs/app-1',
    author: 'Example Security <security@example.com>',
    role: 'Document Creator',
    timestamp: '2026-03-01T10:00:00Z',
    version: 1,
    ...extra,
    statements,
  });
}

const subject = vexSubject(report().image, report().packages);
const decide = (docs: VexDocument[], f: Finding) => decidingStatement(docs, f, subject)?.ref ?? null;
const parse = (statements: unknown[], extra?: Record<string, unknown>): VexDocument => parseOpenVex(doc(statements, extra), 'vex.json');

function rejects(text: string, pattern: RegExp): void {
  assert.throws(
    () => parseOpenVex(text, 'bad.vex.json'),
    (err: unknown) => {
      assert.ok(isTallyError(err), String(err));
      assert.equal(err.code, 'USAGE');
      assert.match(err.message, /^VEX document bad\.vex\.json: /);
      assert.match(err.message, pattern);
      return true;
    },
  );
}

const notAffected = (vulnerability: unknown, products: unknown[], more: Record<string, unknown> = {}) => ({
  vulnerability,
  products,
  status: 'not_affected',
  justification: 'vulnerable_code_not_in_execute_path',
  ...more,
});

describe('OpenVEX: which statements apply', () => {
  it('a product purl names the package; the statement is cited with document, statement and reason', () => {
    const d = parse([
      notAffected({ '@id': 'https://nvd.nist.gov/vuln/detail/CVE-2021-23337', name: 'CVE-2021-23337', aliases: ['GHSA-35jh-r3h4-6jhm'] }, [{ '@id': 'pkg:npm/lodash@4.17.20' }], {
        '@id': 'https://vex.example.com/docs/app-1#lodash',
        impact_statement: '_.template is never called with user input',
      }),
    ]);
    const ref = decide([d], lodashHigh);
    assert.deepEqual(ref, {
      source: 'vex.json',
      rule: 'statements[0]',
      documentId: 'https://vex.example.com/docs/app-1',
      statementId: 'https://vex.example.com/docs/app-1#lodash',
      status: 'not_affected',
      justification: 'vulnerable_code_not_in_execute_path',
      impactStatement: '_.template is never called with user input',
      actionStatement: null,
      statusNotes: null,
      timestamp: '2026-03-01T10:00:00Z',
    });
    assert.equal(decide([d], log4shell), null, 'other package, other vulnerability');
  });

  it('the vulnerability is matched by name, alias or @id against the finding id and aliases', () => {
    const product = [{ '@id': 'pkg:npm/lodash@4.17.20' }];
    assert.ok(decide([parse([notAffected({ name: 'GHSA-35jh-r3h4-6jhm' }, product)])], lodashHigh), 'statement name = finding alias');
    assert.ok(decide([parse([notAffected({ name: 'OSV-ONLY', aliases: ['cve-2021-23337'] }, product)])], lodashHigh), 'alias, any case');
    assert.ok(decide([parse([notAffected({ name: 'X', '@id': 'https://github.com/advisories/GHSA-35jh-r3h4-6jhm' }, product)])], lodashHigh), '@id IRI');
    assert.equal(decide([parse([notAffected({ name: 'CVE-2021-2333' }, product)])], lodashHigh), null);
    const otherPackage = finding2(lodashHigh, { purl: 'pkg:npm/lodash@4.17.21' });
    assert.equal(decide([parse([notAffected({ name: 'CVE-2021-23337' }, product)])], otherPackage), null, 'version differs');
  });

  it('purl matching follows OpenVEX: the statement\'s parts must be on the package, not the other way round', () => {
    const on = (purl: string) => decide([parse([notAffected({ name: 'CVE-2023-5678' }, [{ '@id': purl }])])], opensslMedium);
    assert.ok(on('pkg:deb/debian/openssl@3.0.11-1~deb12u2'), 'no qualifiers: any arch and distro');
    assert.ok(on('pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64'), 'a subset of the qualifiers');
    assert.ok(on('pkg:deb/debian/openssl'), 'no version: every version');
    assert.equal(on('pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=arm64'), null, 'another arch');
    assert.equal(on('pkg:deb/ubuntu/openssl@3.0.11-1~deb12u2'), null, 'another namespace');
    assert.ok(decide([parse([notAffected({ name: 'CVE-2023-5678' }, [{ identifiers: { purl: 'pkg:deb/debian/openssl', cpe23: 'cpe:2.3:a:openssl:openssl:3.0.11:*:*:*:*:*:*:*' } }])])], opensslMedium), 'identifiers.purl');
  });

  it('a product that is the image covers all its packages, or the subcomponents it lists', () => {
    for (const image of [
      `pkg:oci/app@${encodeURIComponent(MANIFEST_DIGEST)}?repository_url=registry.example/app&tag=1`,
      `pkg:oci/renamed@${MANIFEST_DIGEST}`,
      IMAGE_ID,
      `registry.example/app@${REPO_DIGEST}`,
    ]) {
      const all = parse([notAffected({ name: 'CVE-2021-44228' }, [{ '@id': image }])]);
      assert.ok(decide([all], log4shell), image);
      const scoped = parse([notAffected({ name: 'CVE-2021-44228' }, [{ '@id': image, subcomponents: [{ '@id': 'pkg:maven/org.apache.logging.log4j/log4j-api' }] }])]);
      assert.equal(decide([scoped], log4shell), null, `${image}: log4j-core is not the subcomponent named`);
      const named = parse([notAffected({ name: 'CVE-2021-44228' }, [{ '@id': image, subcomponents: [{ '@id': 'pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1' }] }])]);
      assert.ok(decide([named], log4shell), `${image}: subcomponent named`);
    }
    const byHash = parse([notAffected({ name: 'CVE-2021-44228' }, [{ hashes: { 'sha-256': IMAGE_ID.slice(7) } }])]);
    assert.ok(decide([byHash], log4shell), 'a sha-256 hash of the image');
    const otherImage = parse([notAffected({ name: 'CVE-2021-44228' }, [{ '@id': `pkg:oci/app@sha256:${'e'.repeat(64)}` }])]);
    assert.equal(decide([otherImage], log4shell), null, 'another image');
  });

  it('a product that is another package of the image vouches for its subcomponents', () => {
    const spring = (version: string) =>
      parse([notAffected({ name: 'CVE-2021-44228' }, [{ '@id': `pkg:maven/org.springframework.boot/spring-boot@${version}`, subcomponents: [{ '@id': 'pkg:maven/org.apache.logging.log4j/log4j-core' }] }])]);
    assert.ok(decide([spring('2.6.0')], log4shell), 'spring-boot 2.6.0 is in the image');
    assert.equal(decide([spring('2.7.0')], log4shell), null, 'a spring-boot the image does not have');
    const bare = parse([notAffected({ name: 'CVE-2021-44228' }, [{ '@id': 'pkg:maven/org.springframework.boot/spring-boot@2.6.0' }])]);
    assert.equal(decide([bare], log4shell), null, 'without subcomponents the product is spring-boot itself');
  });

  it('the latest statement decides: by timestamp (inherited from the document), then by position', () => {
    const product = [{ '@id': 'pkg:npm/lodash@4.17.20' }];
    const investigating = { vulnerability: { name: 'CVE-2021-23337' }, products: product, status: 'under_investigation' };
    const later = parse([{ ...investigating, timestamp: '2026-01-01T00:00:00Z' }, notAffected({ name: 'CVE-2021-23337' }, product)]);
    assert.equal(decide([later], lodashHigh)?.status, 'not_affected', 'the document time (March) is after January');
    const earlier = parse([{ ...investigating, timestamp: '2026-06-01T00:00:00Z' }, notAffected({ name: 'CVE-2021-23337' }, product)]);
    assert.equal(decide([earlier], lodashHigh)?.status, 'under_investigation');
    const sameTime = parse([notAffected({ name: 'CVE-2021-23337' }, product), { vulnerability: { name: 'CVE-2021-23337' }, products: product, status: 'affected', action_statement: 'upgrade to 4.17.21' }]);
    const ref = decide([sameTime], lodashHigh);
    assert.equal(ref?.status, 'affected', 'same time: the later statement');
    assert.equal(ref?.actionStatement, 'upgrade to 4.17.21');
    assert.equal(ref?.rule, 'statements[1]');
    const a = parseOpenVex(doc([notAffected({ name: 'CVE-2021-23337' }, product)], { timestamp: undefined }), 'a.json');
    const b = parseOpenVex(doc([{ vulnerability: { name: 'CVE-2021-23337' }, products: product, status: 'fixed' }], { timestamp: undefined }), 'b.json');
    assert.equal(decide([a, b], lodashHigh)?.source, 'b.json', 'no timestamps: the later document');
    assert.equal(decide([b, a], lodashHigh)?.source, 'a.json');
  });

  it('reads pre-0.2 documents: string vulnerability, string products, statement-level subcomponents', () => {
    const d = parseOpenVex(
      JSON.stringify({
        '@context': 'https://openvex.dev/ns',
        '@id': 'https://openvex.dev/docs/public/vex-legacy',
        author: 'someone',
        role: 'author',
        timestamp: '2023-01-16T20:41:55.708329108-06:00',
        version: '1',
        statements: [{ vulnerability: 'CVE-2021-44228', products: [`pkg:oci/app@${IMAGE_ID}`], subcomponents: ['pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1'], status: 'fixed' }],
      }),
      'legacy.json',
    );
    assert.equal(decide([d], log4shell)?.status, 'fixed');
    assert.equal(decide([d], log4shell)?.timestamp, '2023-01-16T20:41:55.708329108-06:00');
  });

  it('reads a document wrapped in an in-toto statement (vexctl attest)', () => {
    const wrapped = JSON.stringify({
      _type: 'https://in-toto.io/Statement/v0.1',
      predicateType: 'https://openvex.dev/ns/v0.2.0',
      subject: [{ name: 'registry.example/app', digest: { sha256: MANIFEST_DIGEST.slice(7) } }],
      predicate: JSON.parse(doc([notAffected({ name: 'CVE-2021-23337' }, [{ '@id': 'pkg:npm/lodash@4.17.20' }])])) as unknown,
    });
    assert.ok(decide([parseOpenVex(wrapped, 'att.json')], lodashHigh));
  });
});

describe('OpenVEX: documents that cannot be trusted are refused', () => {
  const product = [{ '@id': 'pkg:npm/lodash@4.17.20' }];
  it('not JSON', () => rejects('{"@context": ', /not JSON/));
  it('not OpenVEX', () => rejects(JSON.stringify({ bomFormat: 'CycloneDX' }), /not an OpenVEX document \(@context null/));
  it('no statements', () => rejects(JSON.stringify({ '@context': CONTEXT }), /"statements" must be a list/));
  it('not_affected without a reason', () => rejects(doc([{ vulnerability: { name: 'CVE-1' }, products: product, status: 'not_affected' }]), /statements\[0\]: "not_affected" needs a "justification" or an "impact_statement"/));
  it('an unknown status', () => rejects(doc([{ vulnerability: { name: 'CVE-1' }, products: product, status: 'false_positive' }]), /"status" "false_positive" is not one of/));
  it('an unknown justification', () => rejects(doc([notAffected({ name: 'CVE-1' }, product, { justification: 'not_reachable' })]), /"justification" "not_reachable" is not one of/));
  it('no products', () => rejects(doc([notAffected({ name: 'CVE-1' }, [])]), /"products" must list at least one product/));
  it('a product without identity', () => rejects(doc([notAffected({ name: 'CVE-1' }, [{ supplier: 'x' }])]), /products\[0\]: a product or subcomponent needs/));
  it('a bad purl', () => rejects(doc([notAffected({ name: 'CVE-1' }, [{ '@id': 'pkg:' }])]), /"pkg:" is not a valid package URL/));
  it('a vulnerability without name', () => rejects(doc([notAffected({ '@id': 'x' }, product)]), /vulnerability: "name" is required/));
  it('a bad timestamp', () => rejects(doc([notAffected({ name: 'CVE-1' }, product, { timestamp: 'yesterday' })]), /"timestamp" "yesterday" is not an RFC 3339 date-time/));
  it('wrong types', () => rejects(doc([notAffected({ name: 'CVE-1', aliases: 'CVE-2' }, product, { impact_statement: 3 })]), /"aliases" must be a list of strings.*"impact_statement" must be a string/));
});

/** A finding like `f` on another package. */
function finding2(f: Finding, pkg: Partial<Finding['package']>): Finding {
  return { ...f, package: { ...f.package, ...pkg } };
}

import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import type { ScanReport } from '../model/report.js';
import { junitFormatter, renderJunit, xmlAttr, xmlText } from './junit.js';
import { HOSTILE, loadReport } from './testdata/fixture.js';

const report = loadReport();
const xml = renderJunit(report);

interface TestCase {
  '@_classname': string;
  '@_name': string;
  '@_file': string;
  failure?: { '#text': string; '@_message': string; '@_type': string };
}
interface Parsed {
  testsuites: {
    '@_tests': string;
    '@_failures': string;
    testsuite: { '@_name': string; '@_tests': string; '@_failures': string; '@_errors': string; '@_timestamp': string; testcase: TestCase[] };
  };
}

// entity decoding on, value coercion off (a version "1.10" must stay a string)
const parser = new XMLParser({ ignoreAttributes: false, parseTagValue: false, parseAttributeValue: false, trimValues: false, processEntities: true, htmlEntities: true });
const parsed = parser.parse(xml) as Parsed;
const cases = parsed.testsuites.testsuite.testcase;

/** What a conforming XML parser gives back for text Tally wrote: characters XML cannot hold become U+FFFD. */
const asXml = (s: string): string => s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '\uFFFD');

describe('JUnit XML', () => {
  it('is well-formed XML', () => {
    assert.equal(XMLValidator.validate(xml), true);
    assert.ok(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<testsuites'));
  });

  it('has one testsuite for the image and one testcase per package, classname = type, name = name@version', () => {
    const suite = parsed.testsuites.testsuite;
    assert.equal(suite['@_name'], 'tally-example:latest');
    assert.equal(cases.length, report.packages.length);
    assert.deepEqual(
      cases.map((c) => [c['@_classname'], c['@_name']]),
      report.packages.map((p) => [p.type, asXml(`${p.name}@${p.version}`)]),
    );
    assert.equal(suite['@_timestamp'], '2026-11-29T10:00:00');
  });

  it('fails exactly the packages with findings, with the findings listed, and counts them in the attributes', () => {
    const withFindings = new Set(report.vulnerabilities!.map((f) => f.packageId));
    const failing = report.packages.filter((p) => withFindings.has(p.id));
    assert.deepEqual(
      cases.filter((c) => c.failure).map((c) => c['@_name']),
      failing.map((p) => asXml(`${p.name}@${p.version}`)),
    );
    const suite = parsed.testsuites.testsuite;
    assert.equal(suite['@_tests'], String(report.packages.length));
    assert.equal(suite['@_failures'], String(failing.length));
    assert.equal(suite['@_errors'], '0');
    assert.equal(parsed.testsuites['@_failures'], String(failing.length));
    const log4j = cases.find((c) => c['@_name'] === 'org.apache.logging.log4j:log4j-core@2.14.1')!;
    assert.equal(log4j.failure!['@_message'], '1 vulnerability: 1 CRITICAL');
    assert.equal(log4j.failure!['@_type'], 'CRITICAL');
    assert.match(log4j.failure!['#text'], /CVE-2021-44228 \[CRITICAL\] fixed in 2\.15\.0, 2\.12\.2 \[known exploited\] - Remote code injection/);
    assert.equal(log4j['@_file'], '/app/app.jar!/BOOT-INF/lib/log4j-core-2.14.1.jar');
  });

  it('escapes hostile names, versions, paths and createdBy: they parse back as text, never as markup', () => {
    assert.ok(!xml.includes('<img'), 'raw tag in output');
    assert.ok(!xml.includes(']]>'), 'a raw ]]> is not allowed in XML content');
    // eslint-disable-next-line no-control-regex
    assert.ok(!/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/.test(xml), 'control character in XML');
    const hostile = cases.find((c) => c['@_classname'] === 'npm' && c['@_name'].startsWith('@evil/'))!;
    // newlines inside attributes survive as &#10; (a parser would fold a literal one into a space)
    assert.equal(hostile['@_name'], asXml(`@evil/${HOSTILE}@1.0.0-"beta"\n<script>\u0001`));
    assert.ok(hostile.failure!['#text'].includes(asXml(`COPY --chown=app ${HOSTILE.replace(/\s+/g, ' ')} /app`)));
    assert.ok(hostile.failure!['#text'].includes(asXml(`Prototype pollution ${HOSTILE.replace(/\s+/g, ' ')}`)));
  });

  it('escapes every XML special character and drops what XML 1.0 cannot hold', () => {
    assert.equal(xmlText('a<b>&c]]>'), 'a&lt;b&gt;&amp;c]]&gt;');
    assert.equal(xmlAttr(`"'\t\n\r`), '&quot;&apos;&#9;&#10;&#13;');
    assert.equal(xmlText('\u0000\u0008\u000b\uFFFE\uD800x\uD83D\uDE00'), '\uFFFD\uFFFD\uFFFD\uFFFD\uFFFDx\uD83D\uDE00');
  });

  it('passes every package when matching did not run, and says so', async () => {
    const { vulnerabilities: _v, ...unmatched }: ScanReport = report;
    const chunks: string[] = [];
    const out = new Writable({
      write(chunk: Buffer, _enc, cb) {
        chunks.push(chunk.toString('utf8'));
        cb();
      },
    });
    await junitFormatter.write(unmatched, out, { color: false });
    const text = chunks.join('');
    assert.equal(XMLValidator.validate(text), true);
    assert.ok(!text.includes('<failure'));
    assert.ok(text.includes('<property name="vulnerabilitiesMatched" value="false"/>'));
  });
});

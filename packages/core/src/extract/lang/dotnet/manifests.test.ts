import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { parsePackagesLock } from './lockfile.js';
import { decodeText, parseDotnetFile } from './parse.js';
import { decodeXmlText, parseNuspec, parsePackagesConfig } from './xml.js';

const bytes = (name: string): Buffer => readFileSync(new URL(`./testdata/${name}`, import.meta.url));

const billionLaughs = (body: string): string => {
  const ents = Array.from({ length: 9 }, (_, i) => `<!ENTITY lol${i + 1} "${`&lol${i};`.repeat(10)}">`).join('\n');
  return `<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol0 "lol">\n${ents}\n]>\n${body}`;
};

describe('packages.lock.json', () => {
  it('reports each resolved package once across target frameworks, as declared', () => {
    const r = parseDotnetFile('lock', '/src/App/packages.lock.json', bytes('packages.lock.json'));
    assert.deepEqual(r.problems, []);
    assert.deepEqual(
      r.packages.map((p) => `${p.name}@${p.version} ${p.metadata?.['dependency']} ${p.metadata?.['targetFrameworks']}`),
      [
        'Newtonsoft.Json@13.0.1 direct net6.0,net8.0',
        'Serilog.Sinks.Console@5.0.1 direct net8.0',
        'Serilog@3.1.1 transitive net8.0',
        'System.Text.Json@8.0.4 transitive net8.0',
        'System.Text.Json@6.0.0 transitive net6.0',
      ],
    );
    assert.ok(r.packages.every((p) => p.evidence === 'declared' && p.identifiedBy === 'packages.lock.json' && p.type === 'nuget'));
    assert.ok(!r.packages.some((p) => p.name === 'mylib'), 'Project entries are not packages');
  });

  it('reads what it can from odd files and says what it could not', () => {
    const r = parsePackagesLock({
      version: 7,
      dependencies: { net8: { A: { type: 'Direct' }, B: 'x', C: { type: 'Transitive', resolved: '1.0.0' } }, bad: [] },
    });
    assert.deepEqual(r.packages.map((p) => p.name), ['C']);
    assert.equal(r.problems.length, 4, r.problems.join('\n'));
    const proto = parsePackagesLock(JSON.parse('{"version":1,"dependencies":{"__proto__":{"__proto__":{"type":"Direct","resolved":"1.0.0"}}}}'));
    assert.deepEqual(proto.packages.map((p) => `${p.name}@${p.version} ${p.metadata?.['targetFrameworks']}`), ['__proto__@1.0.0 __proto__']);
    assert.throws(() => parsePackagesLock({ version: 1 }), /no "dependencies"/);
    assert.throws(() => parsePackagesLock('x'), /not a JSON object/);
    assert.throws(() => parseDotnetFile('lock', '/packages.lock.json', Buffer.from('{"version":1,')), /packages\.lock\.json: invalid JSON/);
  });
});

describe('packages.config', () => {
  it('reads packages (BOM, attributes), leaving out development dependencies', () => {
    const r = parseDotnetFile('config', '/src/Web/packages.config', bytes('packages.config'));
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.packages.map((p) => `${p.name}@${p.version}`), [
      'Newtonsoft.Json@12.0.3',
      'jQuery@3.4.1',
      'Microsoft.CodeDom.Providers.DotNetCompilerPlatform@2.0.1',
      'log4net@2.0.8',
    ]);
    assert.deepEqual(r.packages[0], {
      type: 'nuget',
      name: 'Newtonsoft.Json',
      version: '12.0.3',
      evidence: 'declared',
      identifiedBy: 'packages.config',
      metadata: { targetFramework: 'net472' },
    });
  });

  it('reads a single package, UTF-16 files, and reports entries without id or version', () => {
    const xml = '<?xml version="1.0" encoding="utf-16"?><packages><package id="A" version="1.0"/><package id="B"/></packages>';
    const utf16 = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(xml, 'utf16le')]);
    const r = parseDotnetFile('config', '/packages.config', utf16);
    assert.deepEqual(r.packages.map((p) => `${p.name}@${p.version}`), ['A@1.0']);
    assert.equal(r.problems.length, 1);
    assert.equal(decodeText(Buffer.concat([Buffer.from([0xfe, 0xff]), Buffer.from('\0A\0B')])), 'AB');
  });

  it('never expands custom entities (billion laughs) and stays fast', () => {
    const start = Date.now();
    const r = parsePackagesConfig(billionLaughs('<packages><package id="&lol9;" version="1.0.0"/><package id="X&amp;Y" version="2"/></packages>'));
    assert.ok(Date.now() - start < 500);
    assert.deepEqual(r.packages.map((p) => p.name), ['&lol9;', 'X&Y']);
  });

  it('turns hostile or broken XML into errors, not crashes', () => {
    assert.throws(() => parsePackagesConfig('<packages><package __proto__="x" id="a" version="1"/></packages>'), /packages\.config: invalid XML/);
    assert.throws(() => parsePackagesConfig(`${'<a>'.repeat(5000)}${'</a>'.repeat(5000)}`), /invalid XML/);
    assert.throws(() => parsePackagesConfig('<project/>'), /no <packages>/);
    assert.throws(() => parseDotnetFile('config', '/packages.config', Buffer.alloc(5 * 1024 * 1024, 0x20)), /too big/);
    assert.deepEqual(parsePackagesConfig('<packages/>').packages, []);
  });
});

describe('nuspec', () => {
  it('reads a real nuspec (Debian nupkg-newtonsoft.json.6.0.8) with a plain licence URL', () => {
    const r = parseDotnetFile('nuspec', '/root/.nuget/packages/newtonsoft.json/6.0.8/newtonsoft.json.nuspec', bytes('Newtonsoft.Json.nuspec'));
    assert.deepEqual(r.packages, [
      {
        type: 'nuget',
        name: 'Newtonsoft.Json',
        version: '6.0.8',
        evidence: 'installed',
        identifiedBy: 'nuspec',
        metadata: { licenseUrl: 'https://raw.github.com/JamesNK/Newtonsoft.Json/master/LICENSE.md' },
      },
    ]);
  });

  it('takes an SPDX licence expression from <license> or a licenses.nuget.org URL', () => {
    assert.deepEqual(parseDotnetFile('nuspec', '/x/serilog.nuspec', bytes('serilog.nuspec')).packages[0]?.licenses, ['Apache-2.0']);
    const url = parseNuspec('<package><metadata><id>A</id><version>1.0.0</version><licenseUrl>https://licenses.nuget.org/MIT%20OR%20Apache-2.0</licenseUrl></metadata></package>');
    assert.deepEqual(url.packages[0]?.licenses, ['MIT OR Apache-2.0']);
    assert.equal(url.packages[0]?.metadata, undefined);
    const file = parseNuspec('<package><metadata><id>A</id><version>1.0.0</version><license type="file">LICENSE.txt</license></metadata></package>');
    assert.equal(file.packages[0]?.licenses, undefined);
    assert.deepEqual(file.packages[0]?.metadata, { licenseFile: 'LICENSE.txt' });
    const bad = parseNuspec('<package><metadata><id>A</id><version>1.0.0</version><licenseUrl>https://licenses.nuget.org/%E0%A4%A</licenseUrl></metadata></package>');
    assert.deepEqual(bad.packages[0]?.metadata, { licenseUrl: 'https://licenses.nuget.org/%E0%A4%A' });
  });

  it('never expands custom entities and rejects what is no nuspec', () => {
    const r = parseNuspec(billionLaughs('<package><metadata><id>A</id><version>1.0</version><description>&lol9;</description></metadata></package>'));
    assert.equal(r.packages[0]?.name, 'A');
    assert.throws(() => parseNuspec('<package><metadata><id>A</id></metadata></package>'), /no <id> or <version>/);
    assert.throws(() => parseNuspec('<Project Sdk="Microsoft.NET.Sdk"/>'), /not a nuspec/);
    assert.throws(() => parseNuspec('<package><metadata><id>A</id><version>1</version></metadata'), /invalid XML/);
  });

  it('decodes the predefined entities and character references only', () => {
    assert.equal(decodeXmlText('a &amp; b &lt;c&gt; &#65;&#x42; &custom; &#xD800; &#1114112;'), 'a & b <c> AB &custom; &#xD800; &#1114112;');
  });
});

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { canonicalName, decodeMetadata, licensesOf, parseDistMetadata, parseHeaders } from './parse.js';

const fixture = (name: string): string => decodeMetadata(readFileSync(new URL(`./testdata/${name}`, import.meta.url)));

describe('parseDistMetadata on real Debian 12 metadata', () => {
  // file, canonical name, original spelling (null when it already is canonical), version, licenses
  const cases: [string, string, string | null, string, string[]][] = [
    ['PyYAML-6.0.dist-info.METADATA', 'pyyaml', 'PyYAML', '6.0', ['MIT']],
    ['charset_normalizer-3.0.1.dist-info.METADATA', 'charset-normalizer', null, '3.0.1', ['MIT']],
    ['cryptography-38.0.4.dist-info.METADATA', 'cryptography', null, '38.0.4', ['BSD-3-Clause OR Apache-2.0']],
    ['cryptography.egg-info.PKG-INFO', 'cryptography', null, '38.0.4', ['BSD-3-Clause OR Apache-2.0']],
    ['six-1.16.0.egg-info.PKG-INFO', 'six', null, '1.16.0', ['MIT']],
    // no License field: the trove classifier, mapped to its SPDX id
    ['setuptools-66.1.1.egg-info.PKG-INFO', 'setuptools', null, '66.1.1', ['MIT']],
    ['dbus_python-1.3.2.egg-info.PKG-INFO', 'dbus-python', null, '1.3.2', ['Expat (MIT/X11)']],
    ['python_debian-0.1.49.egg-info.PKG-INFO', 'python-debian', null, '0.1.49', ['GPL-2+']],
    // Metadata-Version 1.1, no body: the README is folded into Description, with lines of only spaces
    ['pycairo-1.20.1.egg-info', 'pycairo', null, '1.20.1', ['LGPL-2.1-only OR MPL-1.1']],
    ['pyinotify-0.9.6.egg-info', 'pyinotify', null, '0.9.6', ['MIT License']],
    ['gpg-1.18.0-py3.11.egg-info', 'gpg', null, '1.18.0', ['LGPL2.1+ (the library), GPL2+ (tests and examples)']],
    ['xdg-5.egg-info', 'xdg', null, '5', []],
  ];
  for (const [file, name, originalName, version, licenses] of cases) {
    it(file, () => {
      const { record, problems } = parseDistMetadata(fixture(file), null);
      assert.deepEqual(record, { name, originalName, version, licenses });
      assert.deepEqual(problems, []);
    });
  }
});

describe('parseHeaders', () => {
  it('stops at the first empty line: the body is not metadata', () => {
    const h = parseHeaders('Name: a\nVersion: 1\n\nName: b\nVersion: 2\n');
    assert.equal(h.name, 'a');
    assert.equal(h.version, '1');
  });
  it('treats a line of spaces as a continuation, not the end of the headers', () => {
    const h = parseHeaders('Name: a\nDescription: x\n        \n        y\nVersion: 1\n');
    assert.equal(h.version, '1');
  });
  it('reads CRLF files, case-insensitive field names, and keeps the first of repeated fields', () => {
    const h = parseHeaders('metadata-version: 2.1\r\nNAME: First\r\nname: Second\r\nversion: 2.0\r\n\r\nbody');
    assert.equal(h.name, 'First');
    assert.equal(h.version, '2.0');
  });
  it('unfolds continuation lines of kept fields', () => {
    const h = parseHeaders('Name: a\nLicense: Copyright (c) 2020\n  Permission is hereby granted\nVersion: 1\n');
    assert.equal(h.license, 'Copyright (c) 2020\nPermission is hereby granted');
  });
  it('counts junk lines and keeps going', () => {
    const h = parseHeaders('Name: a\n<<<garbage>>>\nnot a header\nVersion: 1\n');
    assert.equal(h.junk, 2);
    assert.equal(h.version, '1');
  });
  it('bounds a huge folded field', () => {
    const h = parseHeaders(`Name: a\nLicense: x\n${' y\n'.repeat(100_000)}Version: 1\n`);
    assert.ok(h.license !== null && h.license.length <= 64 * 1024);
    assert.equal(h.version, '1');
  });
});

describe('licensesOf', () => {
  const base = { license: null, licenseExpression: null, classifiers: [] as string[] };
  it('prefers License-Expression', () => {
    assert.deepEqual(licensesOf({ ...base, licenseExpression: 'MIT OR Apache-2.0', license: 'MIT', classifiers: ['License :: OSI Approved :: BSD License'] }), ['MIT OR Apache-2.0']);
  });
  it('skips a License that is a whole license text, or UNKNOWN, for the classifiers', () => {
    const classifiers = ['License :: OSI Approved :: Apache Software License', 'License :: OSI Approved', 'License :: DFSG approved'];
    assert.deepEqual(licensesOf({ ...base, license: 'Copyright 2020 X\nPermission is granted', classifiers }), ['Apache Software License']);
    assert.deepEqual(licensesOf({ ...base, license: 'x'.repeat(500), classifiers }), ['Apache Software License']);
    assert.deepEqual(licensesOf({ ...base, license: 'UNKNOWN', classifiers }), ['Apache Software License']);
  });
  it('maps unambiguous classifiers to SPDX ids and keeps one of each', () => {
    const classifiers = [
      'License :: OSI Approved :: GNU Lesser General Public License v2 or later (LGPLv2+)',
      'License :: OSI Approved :: Mozilla Public License 2.0 (MPL 2.0)',
      'License :: OSI Approved :: BSD License',
      'License :: OSI Approved :: BSD License',
      'Programming Language :: Python',
    ];
    assert.deepEqual(licensesOf({ ...base, classifiers }), ['LGPL-2.0-or-later', 'MPL-2.0', 'BSD License']);
  });
});

describe('canonicalName', () => {
  it('follows PEP 503', () => {
    assert.equal(canonicalName('Foo.Bar_baz--qux'), 'foo-bar-baz-qux');
    assert.equal(canonicalName('zope.interface'), 'zope-interface');
    assert.equal(canonicalName('PyYAML'), 'pyyaml');
  });
});

describe('parseDistMetadata on bad input', () => {
  it('makes a legacy name with spaces safe, as setuptools does', () => {
    const { record } = parseDistMetadata('Name: Foo Bar\nVersion: 1.0\n', null);
    assert.equal(record.name, 'foo-bar');
    assert.equal(record.originalName, 'Foo Bar');
  });
  it('keeps a legacy version as written', () => {
    assert.equal(parseDistMetadata('Name: x\nVersion: 0.1-bulbasaur\n', null).record.version, '0.1-bulbasaur');
    assert.equal(parseDistMetadata('Name: x\nVersion: 1.0.0.post1+ubuntu1\n', null).record.version, '1.0.0.post1+ubuntu1');
  });
  it('falls back to the file name for a truncated file, and says so', () => {
    const { record, problems } = parseDistMetadata('Metadata-Version: 2.1\nName: six\nVer', { name: 'six', version: '1.16.0' });
    assert.equal(record.version, '1.16.0');
    assert.equal(problems.length, 2); // no Version header; one malformed line ("Ver")
    assert.match(problems[0]!, /no Version header; version taken from the file name: 1\.16\.0/);
  });
  it('throws when nothing identifies the distribution', () => {
    assert.throws(() => parseDistMetadata('Metadata-Version: 2.1\nName: six\n', null), /six has no Version header/);
    assert.throws(() => parseDistMetadata('Metadata-Version: 2.1\nVersion: 1\n', null), /no Name header/);
    assert.throws(() => parseDistMetadata('', null), /empty metadata file/);
    assert.throws(() => parseDistMetadata('just some text\nand more', null), /no "Field: value" headers/);
    assert.throws(() => parseDistMetadata(`Name: x\nVersion: ${'1'.repeat(500)}\n`, null), /unusable Version/);
  });
  it('refuses binary data', () => {
    assert.throws(() => decodeMetadata(Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 0, 1, 2])), /binary data/);
  });
  it('decodes UTF-16 with a BOM and UTF-8 with a BOM', () => {
    const text = 'Name: Åsa\nVersion: 1\n';
    assert.equal(decodeMetadata(Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')])), text);
    assert.equal(decodeMetadata(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text)])), text);
    const be = Buffer.from(text, 'utf16le').swap16();
    assert.equal(decodeMetadata(Buffer.concat([Buffer.from([0xfe, 0xff]), be])), text);
  });
});
